// The dashboard's shared script: nothing but a helper to post JSON with the page's token.
"use strict";
window.dlqa = {
  async postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {error: "the server answered " + response.status}; }
    return {ok: response.ok, status: response.status, data};
  },
};
