// Canned replies in the composer: "/" and a few letters open the matching
// replies, most used first, as an ARIA combobox (the composer) with its
// listbox: ↑/↓ move, Enter or Tab insert, Esc closes. Inserting puts the
// reply, filled in for this conversation by the server, in place of the
// "/word"; nothing is sent until the agent sends.
import { format, getJSON, gettext } from "./live.js";

const TOKEN = /(?:^|\s)\/([a-z0-9-]{0,32})$/;
const DEBOUNCE_MS = 120;

// `fillUrl(id)` answers {"body"} for this conversation; `onError(text)` shows a failure.
export function bindCannedReplies({ input, listbox, fillUrl, onError }) {
  let options = []; // the replies shown
  let active = -1;
  let token = null; // {start, end, query} of the "/word" being typed
  let timer = null;
  let asked = 0; // the newest request; older answers are dropped

  const isOpen = () => !listbox.hidden;

  function close() {
    listbox.hidden = true;
    listbox.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    options = [];
    active = -1;
  }

  function highlight(index) {
    active = index;
    listbox.querySelectorAll("[role=option]").forEach((el, i) => {
      el.setAttribute("aria-selected", String(i === index));
      if (i === index) el.scrollIntoView({ block: "nearest" });
    });
    if (index >= 0) input.setAttribute("aria-activedescendant", `canned-option-${index}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function show(replies, query) {
    options = replies;
    const items = replies.map((reply, index) => {
      const li = document.createElement("li");
      li.id = `canned-option-${index}`;
      li.className = "canned__option";
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.shortcut = reply.shortcut;
      const shortcut = document.createElement("span");
      shortcut.className = "canned__shortcut";
      shortcut.textContent = `/${reply.shortcut}`;
      const title = document.createElement("span");
      title.className = "canned__title";
      title.textContent = reply.title;
      const body = document.createElement("span");
      body.className = "canned__body";
      body.textContent = reply.body.slice(0, 120);
      li.append(shortcut, " ", title, body);
      if (reply.shared) li.classList.add("canned__option--shared");
      // mousedown, not click: the composer keeps its focus (and its caret).
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        insert(index);
      });
      return li;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "canned__empty";
      empty.setAttribute("role", "presentation");
      empty.textContent = format(gettext("No canned reply matches /%(query)s"), { query });
      items.push(empty);
    }
    listbox.replaceChildren(...items);
    listbox.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(replies.length ? 0 : -1);
  }

  async function search(query) {
    const mine = ++asked;
    const { ok, data } = await getJSON(`/workbench/api/canned-replies?q=${encodeURIComponent(query)}`);
    if (mine !== asked || !token) return;
    if (!ok) {
      close();
      onError(gettext("Could not load canned replies. Try again."));
      return;
    }
    show(data.canned_replies || [], query);
  }

  function update() {
    const caret = input.selectionStart;
    const match = input.selectionEnd === caret ? TOKEN.exec(input.value.slice(0, caret)) : null;
    if (!match || input.disabled) {
      token = null;
      clearTimeout(timer);
      close();
      return;
    }
    token = { start: caret - match[1].length - 1, end: caret, query: match[1] };
    clearTimeout(timer);
    timer = setTimeout(() => search(match[1]), DEBOUNCE_MS);
  }

  async function insert(index) {
    const reply = options[index];
    const at = token;
    close();
    token = null;
    if (!reply || !at) return;
    const { ok, data } = await getJSON(fillUrl(reply.id));
    if (!ok || typeof data.body !== "string") {
      onError(gettext("Could not insert that reply. Try again."));
      return;
    }
    // The text may have moved on while the reply was fetched: replace the
    // "/word" only if it is still where it was.
    const current = input.value.slice(at.start, at.end);
    const [start, end] = current === `/${at.query}` ? [at.start, at.end] : [input.selectionStart, input.selectionEnd];
    input.setRangeText(data.body, start, end, "end");
    input.focus();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-haspopup", "listbox");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("aria-expanded", "false");
  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", () => setTimeout(close, 0));
  // Bound before the composer's own keys, so Enter inserts instead of sending.
  input.addEventListener("keydown", (event) => {
    if (!isOpen() || event.isComposing) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves && options.length) {
      highlight((active + moves[event.key] + options.length) % options.length);
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && active >= 0) {
      insert(active);
    } else if (event.key === "Escape") {
      token = null;
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  });

  return {
    // The "/" shortcut: start a "/word" at the caret and open the list.
    open() {
      input.focus();
      const before = input.value.slice(0, input.selectionStart);
      input.setRangeText(before === "" || /\s$/.test(before) ? "/" : " /", input.selectionStart, input.selectionEnd, "end");
      update();
    },
    close,
  };
}
