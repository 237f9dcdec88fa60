// Keyboard shortcuts on every workbench page (listed in the "?" overlay,
// templates/workbench/_shortcuts.html). Single keys, so they act only when
// the agent is not typing; Esc leaves the composer to use them.
import { sessionUrl, waitingRows } from "./desk.js";

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

// `page` offers what the page can do: takeOver, focusComposer, openCanned, toggleNote.
export function startKeyboard(page = {}) {
  const help = document.getElementById("shortcuts");
  const keys = {
    "?": () => (help.open ? help.close() : help.showModal()),
    j: () => {
      const next = waitingRows()[0];
      if (next) window.location.href = sessionUrl(next.session_name);
    },
    q: () => {
      window.location.href = "/workbench/";
    },
    t: page.takeOver,
    r: page.focusComposer,
    "/": page.openCanned,
    n: page.toggleNote,
  };
  for (const button of document.querySelectorAll("[data-shortcuts]")) button.addEventListener("click", () => help.showModal());
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === "Escape" && typing(event.target) && !event.defaultPrevented) {
      event.target.blur();
      return;
    }
    if (typing(event.target) || (help.open && event.key !== "?")) return;
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
