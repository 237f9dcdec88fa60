// Fiido service desk: what the chat page and the workbench share.
// Fixed texts go through gettext(): Django's JavaScriptCatalog (loaded by the
// page before its module) translates them into the page's language.
// Bubbles are keyed by message id; the server renders their HTML once
// (templates/includes/bubble.html, autoescaped) and the pages only insert it.
// User text typed on this page is only ever set with textContent.

// Translations from the page's catalog script; the English text without one.
export function gettext(text) {
  return typeof window.gettext === "function" ? window.gettext(text) : text;
}

export function pgettext(context, text) {
  return typeof window.pgettext === "function" ? window.pgettext(context, text) : text;
}

// The escalation reasons the server writes in English (data, like a
// customer's own words): listed so the catalog carries them, and shown
// translated where known (reasonText).
const KNOWN_REASONS = [gettext("Customer asked for a person"), gettext("The assistant could not answer")];

export function reasonText(reason) {
  return reason ? gettext(reason) : "";
}

// "%(name)s has joined" with {name: "Alice"}: named placeholders, so a
// translation may put them in its own order.
export function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

// Every <time datetime> below `root`, in the reader's own time zone and the
// page's language (the server writes UTC).
const clock = () =>
  new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
const fullDate = () =>
  new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "full", timeStyle: "short" });

export function localizeTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    el.textContent = clock().format(at);
    el.title = fullDate().format(at);
  }
}

export function localTime(iso) {
  const at = new Date(iso || "");
  return Number.isNaN(at.getTime()) ? "" : clock().format(at);
}

// A language picker (or any select marked data-autosubmit) applies at once;
// its button is only for browsers without this script.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}
for (const el of document.querySelectorAll("[data-hide-with-script]")) el.hidden = true;

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

// POST JSON with Django's CSRF header. Resolves to {ok, status, data};
// a network failure resolves to {ok: false, status: 0}.
export async function postJSON(url, body = {}) {
  return sendJSON("POST", url, body);
}

// POST, PATCH or DELETE with JSON (a 204 resolves with data {}).
export async function sendJSON(method, url, body = null) {
  try {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === null ? undefined : JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: { error: gettext("Could not reach the server. Check your connection and try again.") } };
  }
}

export async function getJSON(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return { ok: response.ok, status: response.status, data: await response.json() };
  } catch {
    return { ok: false, status: 0, data: {} };
  }
}

// A v4 UUID for a message's client_id (crypto.randomUUID needs a secure context).
export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// "1:05", "12:40", "1:02:03"
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export function secondsSince(iso) {
  const at = Date.parse(iso || "");
  return Number.isNaN(at) ? 0 : Math.max(0, (Date.now() - at) / 1000);
}

function fromHTML(html) {
  const template = document.createElement("template");
  template.innerHTML = html; // server-rendered, autoescaped bubble
  return template.content.firstElementChild;
}

// The conversation's bubbles, in seq order, each message id at most once.
export class BubbleList {
  constructor(container) {
    this.container = container;
    this.seen = new Set();
    for (const el of container.querySelectorAll("[data-message-id]")) this.seen.add(el.dataset.messageId);
    localizeTimes(container);
  }

  nearBottom() {
    const c = this.container;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 120;
  }

  scrollToEnd() {
    this.container.scrollTop = this.container.scrollHeight;
  }

  // Insert a stored message (payload with id, seq, client_id, html).
  // Returns true when it was new; an id already shown is ignored.
  add(message) {
    if (!message || message.id === undefined || message.id === null) return false;
    const id = String(message.id);
    if (this.seen.has(id) || this.container.querySelector(`[data-message-id="${CSS.escape(id)}"]`)) {
      this.seen.add(id);
      this.pendingFor(message.client_id)?.remove(); // a stale pending twin never stays
      return false;
    }
    const el = fromHTML(message.html || "");
    if (!el) return false;
    const stick = this.nearBottom();
    this.seen.add(id);
    const pending = this.pendingFor(message.client_id);
    if (pending) pending.remove();
    localizeTimes(el);
    this.place(el);
    if (stick || pending) this.scrollToEnd();
    return true;
  }

  // Show `message` instead of the bubble of the same id (a machine translation
  // arrived, or is missing); add it if it is not shown yet. Its own message event,
  // arriving later, then finds the id shown and is ignored.
  replace(message) {
    if (!message || message.id === undefined || message.id === null) return false;
    const id = String(message.id);
    const current = this.container.querySelector(`[data-message-id="${CSS.escape(id)}"]`);
    if (!current) return this.add(message);
    const el = fromHTML(message.html || "");
    if (!el) return false;
    const stick = this.nearBottom();
    localizeTimes(el);
    current.replaceWith(el);
    if (stick) this.scrollToEnd();
    return true;
  }

  pendingFor(clientId) {
    if (!clientId) return null;
    return this.container.querySelector(`.bubble--pending[data-client-id="${CSS.escape(String(clientId))}"]`);
  }

  place(el) {
    const seq = Number(el.dataset.seq);
    const before = [...this.container.children].find(
      (child) => child.classList.contains("bubble--pending") || Number(child.dataset.seq) > seq,
    );
    this.container.insertBefore(el, before || null);
  }

  // The seqs of the messages shown (agents' notes sit between them, unnumbered in that log).
  messageSeqs() {
    return [...this.container.querySelectorAll("[data-message-id]:not(.bubble--note)")]
      .map((el) => Number(el.dataset.seq))
      .filter((seq) => seq > 0);
  }

  // The smallest seq shown (the point earlier pages are fetched before).
  firstSeq() {
    const seqs = this.messageSeqs();
    return seqs.length ? Math.min(...seqs) : null;
  }

  // The largest seq shown (what a reader who sees the end has read).
  lastSeq() {
    const seqs = this.messageSeqs();
    return seqs.length ? Math.max(...seqs) : 0;
  }

  // Insert earlier messages above what is shown, keeping the view where it was.
  prepend(messages) {
    const c = this.container;
    const fromBottom = c.scrollHeight - c.scrollTop;
    for (const message of messages) this.add(message);
    c.scrollTop = c.scrollHeight - fromBottom;
  }

  // An optimistic bubble for text being sent, replaced by the stored message.
  addPending({ role, name, text, clientId }) {
    const article = document.createElement("article");
    article.className = `bubble bubble--${role} bubble--pending`;
    article.dataset.clientId = clientId;
    const meta = document.createElement("header");
    meta.className = "bubble__meta";
    const who = document.createElement("span");
    who.className = "bubble__name";
    who.textContent = name;
    const state = document.createElement("span");
    state.className = "bubble__state";
    state.textContent = gettext("Sending…");
    meta.append(who, " ", state);
    const body = document.createElement("div");
    body.className = "bubble__body";
    const p = document.createElement("p");
    p.className = "bubble__text bubble__text--raw";
    p.textContent = text;
    body.append(p);
    article.append(meta, body);
    this.container.append(article);
    this.scrollToEnd();
    return article;
  }

  // A pending bubble for a file being uploaded: its name and a progress bar
  // (`progress(fraction)`), replaced by the stored message like a text's.
  addUploading({ role, name, fileName, clientId }) {
    const article = this.addPending({ role, name, text: fileName, clientId });
    article.classList.add("bubble--uploading");
    const bar = document.createElement("progress");
    bar.className = "bubble__progress";
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("aria-label", format(gettext("Uploading %(name)s"), { name: fileName }));
    article.querySelector(".bubble__body").append(bar);
    return {
      progress(fraction) {
        bar.value = fraction;
      },
    };
  }

  markFailed(clientId, message, retry) {
    const pending = this.pendingFor(clientId);
    if (!pending) return;
    pending.classList.add("bubble--failed");
    const state = pending.querySelector(".bubble__state");
    state.textContent = message || gettext("Not sent.");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-button";
    button.textContent = gettext("Retry");
    button.addEventListener("click", () => {
      pending.classList.remove("bubble--failed");
      state.textContent = gettext("Sending…");
      retry();
    });
    state.append(" ", button);
  }
}

// An EventSource that says when it drops and comes back, and that starts
// again by itself if the browser gives up (a non-200 answer closes it).
// EventSource resends Last-Event-ID natively on its own reconnects; a new
// one resumes with ?last_event_id= from the last id seen.
// Before starting again it asks `stateUrl` (the conversation's JSON state):
// a 401, 403 or 404 there means the stream will never come back (the
// conversation was erased, the agent logged out), so it calls `onEnd(status)`
// instead of knocking every few seconds. The page calls close() on a final
// event (`deleted`, `revoked`).
export function openStream(url, { lastEventId = null, onEvent, onConnection, stateUrl = null, onEnd = () => {} }) {
  let source = null;
  let lastId = lastEventId;
  let timer = null;
  let closed = false;
  let failures = 0; // in a row: each waits twice as long (3 s … 60 s), e.g. while over a stream cap (429)

  async function reopenUnlessGone() {
    if (stateUrl) {
      const { status } = await getJSON(stateUrl);
      if (status === 401 || status === 403 || status === 404) {
        closed = true;
        onEnd(status);
        return;
      }
    }
    if (!closed) open();
  }

  function open() {
    const target = new URL(url, window.location.href);
    if (lastId !== null && lastId !== undefined && lastId !== "") target.searchParams.set("last_event_id", lastId);
    source = new EventSource(target);
    source.onmessage = (event) => {
      if (event.lastEventId) lastId = event.lastEventId;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data.type === "connected") {
        failures = 0;
        onConnection("live");
      }
      onEvent(data);
    };
    source.onerror = () => {
      if (closed) return;
      onConnection("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        clearTimeout(timer);
        timer = setTimeout(reopenUnlessGone, Math.min(3000 * 2 ** failures, 60000));
        failures += 1;
      }
    };
  }

  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (source) source.close();
    },
    get lastId() {
      return lastId;
    },
  };
}

// Enter sends; Shift+Enter adds a new line.
function enterSends(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

// What to tell the reader when the API refuses: the API's own words are
// English (clients match on status codes), so the common refusals are said
// in the page's language and the rest as the API put them.
export function refusal(status, data) {
  if (status === 0) return gettext("Could not reach the server. Check your connection and try again.");
  if (status === 429) return gettext("Too many requests. Please wait a moment and try again.");
  if (status === 413) return gettext("That message is too long.");
  if (status === 401 || status === 403) return gettext("You are not allowed to do that. Try reloading the page.");
  return (data && data.error) || gettext("That did not work. Please try again.");
}

export function showError(el, text) {
  if (!el) return;
  el.textContent = text || "";
  el.hidden = !text;
}

// A send the server may not have answered (no response at all, or a gateway's
// 502/503/504: a worker restarting behind nginx) goes again by itself after
// these pauses, with the same client_id, before the bubble offers Retry.
const RESEND_AFTER_MS = [500, 1000, 2000, 4000];
const mayResend = (status) => status === 0 || status === 502 || status === 503 || status === 504;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The composer of both pages. Text shows at once in a pending bubble of
// `role` (a function where the page switches between reply and note); the
// stored message or note (same client_id) replaces it. A send that got no
// answer is tried again by itself (RESEND_AFTER_MS); a failed send
// marks the bubble, and Retry posts again with the same client_id, so the
// server stores the message once however often it arrives. `onSent(data)`
// gets the server's answer after the stored message is shown.
// `url` may be a function (the chat page knows its conversation only once it
// starts one), and `prepare()` may run first; false from it means "not now".
export function bindComposer({ form, input, url, bubbles, errorBox, role, onSent = () => {}, prepare = null }) {
  async function send(text, clientId, target = null) {
    if (prepare && !(await prepare())) {
      bubbles.markFailed(clientId, gettext("Not sent."), () => send(text, clientId, target));
      return;
    }
    target = target || (typeof url === "function" ? url() : url);
    let answer = await postJSON(target, { content: text, client_id: clientId });
    for (const wait of RESEND_AFTER_MS) {
      if (answer.ok || !mayResend(answer.status)) break;
      await pause(wait);
      answer = await postJSON(target, { content: text, client_id: clientId });
    }
    const { ok, status, data } = answer;
    if (ok) {
      bubbles.add(data.message || data.note);
      onSent(data);
      return;
    }
    const problem = refusal(status, data);
    bubbles.markFailed(clientId, status === 0 ? gettext("Not sent.") : problem, () => send(text, clientId, target));
    if (status !== 0) showError(errorBox, problem);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || input.disabled) return;
    const clientId = newClientId();
    // A retry goes where the first try went (a reply stays a reply after a switch to notes);
    // a page that starts its conversation first (prepare) learns the url then.
    const target = prepare ? null : typeof url === "function" ? url() : url;
    bubbles.addPending({ role: typeof role === "function" ? role() : role, name: gettext("You"), text, clientId });
    input.value = "";
    input.focus();
    send(text, clientId, target);
  });
  enterSends(input, form);
}

// "Load earlier messages": pages and history snapshots hold only the latest
// messages; each click fetches the page before the first one shown.
export function bindEarlier({ button, bubbles, url, errorBox }) {
  const target = () => (typeof url === "function" ? url() : url);
  const show = (hasEarlier) => {
    button.hidden = !hasEarlier;
  };
  button.addEventListener("click", async () => {
    const before = bubbles.firstSeq();
    if (before === null) return;
    button.disabled = true;
    const { ok, data } = await getJSON(`${target()}?before=${before}`);
    button.disabled = false;
    if (!ok) {
      showError(errorBox, gettext("Could not load earlier messages. Try again."));
      return;
    }
    bubbles.prepend(data.messages || []);
    show(data.has_earlier);
  });
  return { show };
}

// --- Someone is typing (a signal, never stored: chatbot/typing.py).
const TYPING_EVERY_MS = 2000; // at most one signal this often while typing
const TYPING_SHOWN_MS = 5000; // the indicator goes this long after the last signal

// Tell the other side while the person types in `input`: a POST to `url()`
// at most every 2 s, only while `active()`; `preview()` gives the text to
// send along (the customer's, when the shop shows agents a preview), or null.
export function bindTypingSignals({ input, url, active, preview = () => null }) {
  let last = 0;
  input.addEventListener("input", () => {
    const now = Date.now();
    if (now - last < TYPING_EVERY_MS || !input.value.trim() || !active()) return;
    last = now;
    const text = preview();
    postJSON(url(), text === null ? {} : { text }); // best effort: a lost signal costs nothing
  });
  return {
    sent() {
      last = 0; // the message went: the next key press signals at once
    },
  };
}

// "Alice is typing…" in `el` for a few seconds after each signal, hidden as
// soon as a message from that side arrives (`hideFor(role)`).
export class TypingIndicator {
  constructor(el) {
    this.el = el;
    this.role = null;
    this.timer = null;
  }

  show(signal, text) {
    this.role = signal.role;
    this.el.replaceChildren(text);
    if (signal.text) {
      const preview = document.createElement("span");
      preview.className = "typing__preview";
      preview.textContent = signal.text; // what the customer typed: text, never HTML
      this.el.append(" ", preview);
    }
    this.el.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), TYPING_SHOWN_MS);
  }

  hideFor(role) {
    if (this.role === role) this.hide();
  }

  hide() {
    clearTimeout(this.timer);
    this.el.hidden = true;
    this.el.replaceChildren();
    this.role = null;
  }
}

// --- Photos and files: the paperclip, paste and drag-and-drop, on both pages.
// The server judges a file by its content (chatbot/attachments.py); these
// checks only spare the upload of something it would certainly refuse.
export const ATTACHMENT_TYPES = ["image/jpeg", "image/png", "image/webp", "application/pdf"];

function megabytes(bytes) {
  const value = bytes / (1024 * 1024);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MB`;
}

function tooLarge(maxBytes) {
  return format(gettext("That file is too large. The limit is %(size)s."), { size: megabytes(maxBytes) });
}

const WRONG_TYPE = () => gettext("Only photos (JPEG, PNG or WebP) and PDF files can be sent.");

function uploadRefusal(status, data, maxBytes) {
  if (status === 413) return tooLarge(maxBytes);
  if (status === 415) return WRONG_TYPE();
  return refusal(status, data);
}

// POST one file as multipart/form-data, reporting upload progress (fetch
// cannot). Resolves to {ok, status, data} like postJSON; a network failure to status 0.
export function uploadFile(url, file, clientId, onProgress = () => {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = {};
      }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data });
    });
    const lost = () => resolve({ ok: false, status: 0, data: {} });
    xhr.addEventListener("error", lost);
    xhr.addEventListener("abort", lost);
    const body = new FormData();
    body.append("client_id", clientId);
    body.append("file", file, file.name);
    xhr.send(body);
  });
}

// Send photos and PDFs from the paperclip (`button`, which opens `fileInput`),
// a paste into `pasteTarget`, or a drop on `dropZone`, while `enabled()`.
// Each file shows at once as a pending bubble with a progress bar; the stored
// message (same client_id) replaces it. A lost connection offers Retry with
// the same client_id (stored once however often it arrives); a refusal (wrong
// type, too large) says why and drops the bubble. `url`, `prepare`, `role`
// and `onSent` work as in bindComposer.
export function bindAttachments({
  button,
  fileInput,
  pasteTarget,
  dropZone,
  url,
  bubbles,
  errorBox,
  role,
  maxBytes,
  enabled = () => true,
  prepare = null,
  onSent = () => {},
}) {
  async function send(file, clientId, upload, target = null) {
    if (prepare && !(await prepare())) {
      bubbles.markFailed(clientId, gettext("Not sent."), () => send(file, clientId, upload, target));
      return;
    }
    target = target || (typeof url === "function" ? url() : url);
    upload.progress(0);
    const { ok, status, data } = await uploadFile(target, file, clientId, (fraction) => upload.progress(fraction));
    if (ok) {
      bubbles.add(data.message);
      onSent(data);
      showError(errorBox, "");
      return;
    }
    const problem = uploadRefusal(status, data, maxBytes);
    if (status === 0 || status === 429 || status >= 500) {
      bubbles.markFailed(clientId, status === 0 ? gettext("Not sent.") : problem, () => send(file, clientId, upload, target));
    } else {
      bubbles.pendingFor(clientId)?.remove(); // this file will never be taken: nothing to retry
    }
    if (status !== 0) showError(errorBox, problem);
  }

  function take(files) {
    if (!enabled()) return;
    for (const file of files) {
      if (!ATTACHMENT_TYPES.includes(file.type)) {
        showError(errorBox, WRONG_TYPE());
        continue;
      }
      if (file.size > maxBytes) {
        showError(errorBox, tooLarge(maxBytes));
        continue;
      }
      const clientId = newClientId();
      const target = prepare ? null : typeof url === "function" ? url() : url;
      const who = typeof role === "function" ? role() : role;
      const upload = bubbles.addUploading({ role: who, name: gettext("You"), fileName: file.name, clientId });
      send(file, clientId, upload, target);
    }
  }

  button.addEventListener("click", () => {
    if (enabled()) fileInput.click();
  });
  fileInput.addEventListener("change", () => {
    take([...fileInput.files]);
    fileInput.value = "";
  });
  pasteTarget.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return; // plain text pastes as usual
    event.preventDefault();
    take(files);
  });
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  dropZone.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // a file dropped here never replaces the page, whether it can be sent or not
    event.dataTransfer.dropEffect = enabled() ? "copy" : "none";
    dropZone.classList.toggle("is-dropping", enabled());
  });
  dropZone.addEventListener("dragleave", (event) => {
    if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove("is-dropping");
  });
  dropZone.addEventListener("drop", (event) => {
    dropZone.classList.remove("is-dropping");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    take([...event.dataTransfer.files]);
  });
}
