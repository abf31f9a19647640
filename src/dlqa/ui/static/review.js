// The review queue: one item at a time, a verdict by key, saved the moment it is made.
// Every text from the data is set with textContent (never as HTML); media are data URIs.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const items = data.items;
  const $ = (id) => document.getElementById(id);
  const LABELS = {ok: "ok", wrong_label: "wrong label", bad_sample: "bad sample"};
  const media = new Map(); // index -> the item's media, fetched once
  let current = 0;
  let writable = data.writable;
  let picking = false; // the wrong-label picker is open

  function firstUnreviewed(from) {
    for (let step = 0; step < items.length; step++) {
      const index = (from + step) % items.length;
      if (!items[index].verdict) return index;
    }
    return -1;
  }

  function verdictText(item) {
    const state = item.pending || item;
    if (!state.verdict) return "not reviewed yet";
    let text = LABELS[state.verdict] || state.verdict;
    if (state.verdict === "wrong_label" && state.correct_label) text += " → " + state.correct_label;
    return item.pending ? text + " (not saved)" : text;
  }

  function setStatus(state, message) {
    const status = $("review-status");
    status.dataset.state = state;
    status.textContent = message;
    $("review-retry").hidden = state !== "error" || !writable;
  }

  function showReadOnly(message) {
    writable = false;
    const notice = $("review-readonly");
    notice.hidden = false;
    if (message) notice.textContent = "Read-only: " + message;
    for (const id of ["verdict-ok", "verdict-wrong_label", "verdict-bad_sample", "review-retry"]) {
      $(id).disabled = true;
    }
    closePicker();
  }

  function renderMedia(index) {
    const box = $("review-media");
    const shown = media.get(index);
    box.replaceChildren();
    if (!shown) {
      box.textContent = "loading…";
      return;
    }
    if (shown.image && shown.image.startsWith("data:image/")) {
      const img = document.createElement("img");
      img.src = shown.image;
      img.alt = items[index].name;
      box.append(img);
    }
    if (shown.audio && shown.audio.startsWith("data:audio/")) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.src = shown.audio;
      box.append(audio);
    }
    if (shown.text !== null && shown.text !== undefined) {
      const text = document.createElement("div");
      text.className = "review-text";
      text.textContent = shown.text;
      box.append(text);
    }
    if (shown.problem || shown.error) {
      const none = document.createElement("div");
      none.className = "muted review-none";
      none.textContent = shown.problem || shown.error;
      box.append(none);
    }
  }

  async function loadMedia(index) {
    if (index < 0 || index >= items.length || media.has(index)) return;
    media.set(index, null);
    try {
      const response = await fetch(data.media_url + index, {credentials: "same-origin"});
      media.set(index, await response.json());
    } catch (e) {
      media.set(index, {problem: "the file is not available (" + e + ")"});
    }
    if (index === current) renderMedia(index);
  }

  function renderStrip(index) {
    const button = document.querySelector('.review-strip-item[data-index="' + index + '"]');
    if (!button) return;
    const item = items[index];
    button.dataset.verdict = item.verdict || "";
    button.dataset.state = item.pending ? "unsaved" : (item.verdict ? "saved" : "");
    button.classList.toggle("current", index === current);
  }

  function render() {
    const item = items[current];
    const section = $("review-item");
    section.dataset.itemId = item.name;
    section.dataset.index = String(current);
    $("review-item-id").textContent = item.name;
    $("review-item-label").textContent = item.label === null ? "(no label)" : item.label;
    $("review-item-why").textContent = item.why.join(", ") || "—";
    const verdict = $("review-item-verdict");
    verdict.textContent = verdictText(item);
    verdict.dataset.verdict = (item.pending || item).verdict || "";
    $("review-note").value = (item.pending || item).note || "";
    document.querySelectorAll(".review-strip-item.current").forEach((b) => b.classList.remove("current"));
    renderStrip(current);
    const done = items.filter((i) => i.verdict).length;
    $("review-progress").textContent = done + " of " + items.length + " reviewed · item " + (current + 1);
    if (item.pending) setStatus("error", "not saved: " + item.pending.error);
    else setStatus(item.verdict ? "saved" : "idle", item.verdict ? "saved" : "");
    renderMedia(current);
    loadMedia(current);
    loadMedia(current + 1); // the next one is ready when the reviewer gets there
  }

  function go(index) {
    if (!items.length) return;
    closePicker();
    current = (index + items.length) % items.length;
    render();
  }

  async function save(verdict, correctLabel) {
    if (!writable) {
      setStatus("error", "read-only: this verdict cannot be saved from here");
      return;
    }
    const item = items[current];
    const index = current;
    const body = {sample_id: item.id, verdict: verdict, correct_label: correctLabel || null,
                  note: $("review-note").value};
    item.pending = {...body, error: "saving…"};
    setStatus("saving", "saving…");
    $("review-item-verdict").textContent = verdictText(item);
    const answer = await dlqa.postJson(data.verdicts_url, body);
    if (answer.ok) {
      items[index] = answer.data.item;
      $("review-estimate").textContent = answer.data.estimate.text;
      renderStrip(index);
      if (index !== current) return;
      const next = firstUnreviewed(index + 1);
      if (next === -1) {
        render();
        setStatus("saved", "saved · every item is reviewed");
      } else {
        go(next);
        setStatus("saved", "saved item " + (index + 1) + " · now item " + (next + 1));
      }
      return;
    }
    item.pending.error = answer.data.error || ("the server answered " + answer.status);
    renderStrip(index);
    if (answer.status === 403) showReadOnly(answer.data.error);
    if (index === current) render();
  }

  function openPicker() {
    if (!writable) return;
    picking = true;
    $("review-label-picker").hidden = false;
    const input = $("review-label-input");
    input.value = "";
    input.focus();
  }

  function closePicker() {
    picking = false;
    $("review-label-picker").hidden = true;
    document.querySelectorAll(".review-label-option.chosen").forEach((b) => b.classList.remove("chosen"));
    if (document.activeElement === $("review-label-input")) document.activeElement.blur();
  }

  function pick(number) {
    const option = document.querySelector('.review-label-option[data-key="' + number + '"]');
    if (!option) return;
    document.querySelectorAll(".review-label-option.chosen").forEach((b) => b.classList.remove("chosen"));
    option.classList.add("chosen");
    $("review-label-input").value = option.dataset.label;
  }

  // Number keys pick a class until the reviewer types a label of their own (which may hold
  // digits): an empty box, or one holding a picked class, is not typed in.
  function typedFreely() {
    const value = $("review-label-input").value;
    return value !== "" && !document.querySelector('.review-label-option.chosen');
  }

  function confirmPick() {
    const label = $("review-label-input").value.trim();
    if (!label) {
      setStatus("error", "choose the right label first (a number key, or type it)");
      return;
    }
    const known = data.classes.find((c) => c.name === label);
    closePicker();
    save("wrong_label", known ? known.value : label);
  }

  function retry() {
    const pending = items[current].pending;
    if (pending) save(pending.verdict, pending.correct_label);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target instanceof HTMLInputElement;
    if (picking) {
      if (event.key === "Escape") { event.preventDefault(); closePicker(); setStatus("idle", "cancelled"); }
      else if (event.key === "Enter") { event.preventDefault(); confirmPick(); }
      else if (/^[1-9]$/.test(event.key) && !typedFreely()) { event.preventDefault(); pick(event.key); }
      return;
    }
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const actions = {
      o: () => save("ok"), w: openPicker, b: () => save("bad_sample"),
      ArrowRight: () => go(current + 1), j: () => go(current + 1),
      ArrowLeft: () => go(current - 1), k: () => go(current - 1),
      "?": () => { $("review-keys").hidden = !$("review-keys").hidden; },
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  document.addEventListener("keydown", onKey);
  $("verdict-ok").addEventListener("click", () => save("ok"));
  $("verdict-wrong_label").addEventListener("click", openPicker);
  $("verdict-bad_sample").addEventListener("click", () => save("bad_sample"));
  $("review-retry").addEventListener("click", retry);
  $("review-label-confirm").addEventListener("click", confirmPick);
  $("review-label-input").addEventListener("input", () =>
    document.querySelectorAll(".review-label-option.chosen").forEach((b) => b.classList.remove("chosen")));
  $("review-label-cancel").addEventListener("click", closePicker);
  $("review-prev").addEventListener("click", () => go(current - 1));
  $("review-next").addEventListener("click", () => go(current + 1));
  $("review-help-toggle").addEventListener("click", () => { $("review-keys").hidden = !$("review-keys").hidden; });
  document.querySelectorAll(".review-label-option").forEach((button) =>
    button.addEventListener("click", () => { pick(button.dataset.key); confirmPick(); }));
  document.querySelectorAll(".review-strip-item").forEach((button) =>
    button.addEventListener("click", () => go(Number(button.dataset.index))));

  if (!writable) showReadOnly();
  if (!items.length) {
    $("review-item").hidden = true;
    $("review-progress").textContent = "this review sample has no items";
    return;
  }
  const asked = Number(new URLSearchParams(location.search).get("item"));
  const start = firstUnreviewed(0);
  go(Number.isInteger(asked) && asked >= 1 && asked <= items.length ? asked - 1 : Math.max(start, 0));
  items.forEach((_, index) => renderStrip(index));
})();
