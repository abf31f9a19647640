// The adjudication queue: a key picks an item's final label, saved at once; the focus moves
// to the next undecided item. Texts are set with textContent only.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("adjudicate-data").textContent);
  const cards = Array.from(document.querySelectorAll(".adjudicate-item"));
  let writable = !document.getElementById("adjudicate-readonly") ||
    document.getElementById("adjudicate-readonly").hidden;
  let current = -1;

  function focusCard(index) {
    if (!cards.length) return;
    current = (index + cards.length) % cards.length;
    cards.forEach((card, k) => card.classList.toggle("current", k === current));
    cards[current].scrollIntoView({block: "nearest"});
  }

  function nextUndecided(from) {
    for (let step = 1; step <= cards.length; step++) {
      const index = (from + step) % cards.length;
      if (cards[index].dataset.state !== "saved") return index;
    }
    return -1;
  }

  function setStatus(card, state, text) {
    const status = card.querySelector(".adjudicate-status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function showReadOnly(message) {
    writable = false;
    const notice = document.getElementById("adjudicate-readonly");
    notice.hidden = false;
    if (message) notice.textContent = "Read-only: " + message;
    document.querySelectorAll(".adjudicate-item button, .adjudicate-item input")
      .forEach((control) => { control.disabled = true; });
  }

  async function decide(index, label) {
    if (!writable || !label) return;
    const card = cards[index];
    const item = data.items[index];
    const body = {run_id: item.run_id, source: item.source, item_id: item.item_id, label: label,
                  note: card.querySelector(".adjudicate-note").value};
    card.dataset.state = "saving";
    setStatus(card, "saving", "saving " + label + "…");
    const answer = await dlqa.postJson("/api/adjudicate", body);
    if (answer.ok) {
      card.dataset.state = "saved";
      setStatus(card, "saved", "saved: final label " + answer.data.label);
      const next = nextUndecided(index);
      if (next !== -1 && index === current) focusCard(next);
      return;
    }
    // Nothing was stored: the choice stays on the card, with why, to retry.
    card.dataset.state = "unsaved";
    setStatus(card, "error", "not saved (" + label + "): " +
      (answer.data.error || "the server answered " + answer.status));
    if (answer.status === 403) showReadOnly(answer.data.error);
  }

  function byKey(index, key) {
    const label = data.items[index].labels[Number(key) - 1];
    if (label === undefined) return;
    cards[index].querySelectorAll(".adjudicate-option").forEach((b) =>
      b.classList.toggle("chosen", b.dataset.key === key));
    decide(index, label);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !cards.length) return;
    const target = event.target;
    if (target instanceof HTMLInputElement) {
      if (event.key === "Escape") { event.preventDefault(); target.blur(); }
      else if (event.key === "Enter" && target.classList.contains("adjudicate-other")) {
        event.preventDefault();
        const index = cards.indexOf(target.closest(".adjudicate-item"));
        decide(index, target.value.trim());
        target.blur();
      }
      return;
    }
    if (current === -1) focusCard(Math.max(nextUndecided(-1), 0));
    const move = {j: 1, ArrowDown: 1, ArrowRight: 1, k: -1, ArrowUp: -1, ArrowLeft: -1}[event.key];
    if (move) { event.preventDefault(); focusCard(current + move); }
    else if (/^[1-9]$/.test(event.key)) { event.preventDefault(); byKey(current, event.key); }
    else if (event.key === "t" && writable) { event.preventDefault(); cards[current].querySelector(".adjudicate-other").focus(); }
    else if (event.key === "n" && writable) { event.preventDefault(); cards[current].querySelector(".adjudicate-note").focus(); }
    else if (event.key === "?") {
      event.preventDefault();
      const keys = document.getElementById("adjudicate-keys");
      keys.hidden = !keys.hidden;
    }
  }

  document.addEventListener("keydown", onKey);
  cards.forEach((card, index) => {
    card.addEventListener("click", () => focusCard(index));
    card.querySelectorAll(".adjudicate-option").forEach((button) =>
      button.addEventListener("click", () => { focusCard(index); byKey(index, button.dataset.key); }));
    card.querySelector(".adjudicate-save-other").addEventListener("click", () =>
      decide(index, card.querySelector(".adjudicate-other").value.trim()));
  });
  if (!writable) showReadOnly();
  if (cards.length) focusCard(Math.max(nextUndecided(-1), 0));
})();
