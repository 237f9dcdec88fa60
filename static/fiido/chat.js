// The customer's chat page (templates/chatbot/chat.html).
import {
  BubbleList,
  TypingIndicator,
  bindAttachments,
  bindComposer,
  bindEarlier,
  bindTypingSignals,
  format,
  formatDuration,
  getJSON,
  gettext,
  openStream,
  postJSON,
  refusal,
  sendJSON,
  secondsSince,
  showError,
} from "./live.js";

const root = document.querySelector("[data-chat]");
// The visitor's conversation; empty until they first write or ask for a
// person (loading the page creates nothing).
let name = root.dataset.session;
const api = () => `/api/sessions/${encodeURIComponent(name)}`;
const bubbles = new BubbleList(document.getElementById("messages"));
const statusLine = document.getElementById("status");
const waited = document.getElementById("waited");
const connection = document.getElementById("connection");
const errorBox = document.getElementById("error");
const form = document.getElementById("composer");
const input = document.getElementById("composer-input");
const sendButton = form.querySelector("button[type=submit]");
const attachButton = document.getElementById("attach");
const escalateButton = document.getElementById("escalate");
const cancelButton = document.getElementById("cancel-escalation");
const endButton = document.getElementById("end-chat");
const closedNote = document.getElementById("closed-note");
const identifyForm = document.getElementById("identify");
const ratingForm = document.getElementById("rating");
const ratingThanks = document.getElementById("rating-thanks");
let rated = Boolean(ratingForm.dataset.rated);
const identifyName = document.getElementById("identify-name");
const identifyEmail = document.getElementById("identify-email");
const typing = new TypingIndicator(document.getElementById("typing"));
const earlier = bindEarlier({
  button: document.getElementById("load-earlier"),
  bubbles,
  url: () => `${api()}/messages`,
  errorBox,
});

const state = {
  status: root.dataset.status,
  agentName: root.dataset.agentName || "",
  escalatedAt: root.dataset.escalatedAt || "",
  queuePosition: null,
  offline: false, // an offline request: answered by email
  agentLeft: "",
  deleted: false,
};

function statusText() {
  if (state.deleted) return gettext("This conversation was deleted.");
  switch (state.status) {
    case "pending_manual": {
      if (state.offline) return gettext("Your message is saved. An agent will answer you by email.");
      const waiting = gettext("Waiting for an agent.");
      if (!state.queuePosition) return waiting;
      return `${waiting} ${format(gettext("You are number %(position)s in the queue."), { position: state.queuePosition })}`;
    }
    case "manual_live":
      return format(gettext("%(agent)s has joined the chat."), { agent: state.agentName || gettext("An agent") });
    case "closed":
      return gettext("This chat is closed.");
    default:
      return state.agentLeft
        ? format(gettext("%(agent)s left; the assistant is back."), { agent: state.agentLeft })
        : gettext("The assistant is answering.");
  }
}

function renderWaited() {
  const waiting = state.status === "pending_manual";
  waited.hidden = !waiting;
  if (waiting) waited.textContent = format(gettext("Waiting %(time)s"), { time: formatDuration(secondsSince(state.escalatedAt)) });
}

function render() {
  const text = statusText();
  if (statusLine.textContent !== text) statusLine.textContent = text; // a live region: announce changes only
  renderWaited();
  root.dataset.status = state.status;
  const closed = state.status === "closed" || state.deleted;
  const started = Boolean(name);
  input.disabled = closed;
  sendButton.disabled = closed;
  attachButton.disabled = closed;
  escalateButton.hidden = closed || state.status !== "bot_active" || !identifyForm.hidden;
  cancelButton.hidden = closed || state.status !== "pending_manual";
  endButton.hidden = closed || !started;
  closedNote.hidden = !closed;
  ratingForm.hidden = !closed || state.deleted || !started || rated;
}

// After the close: the customer may rate the chat once (1-5 stars, a comment).
ratingForm.addEventListener("change", () => showError(document.getElementById("rating-error"), ""));
ratingForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const errorEl = document.getElementById("rating-error");
  const chosen = ratingForm.querySelector("input[name=score]:checked");
  if (!chosen) {
    showError(errorEl, gettext("Choose from one to five stars."));
    return;
  }
  const comment = document.getElementById("rating-comment").value;
  const { ok, status, data } = await postJSON(`${api()}/rating`, { score: Number(chosen.value), comment });
  if (!ok && status !== 409) {
    showError(errorEl, refusal(status, data));
    return;
  }
  rated = true;
  ratingThanks.hidden = false;
  render();
});

function applyState(next) {
  if (!next || !next.status) return;
  const previous = state.status;
  if (previous === "manual_live" && next.status === "bot_active") state.agentLeft = state.agentName;
  if (next.status !== "bot_active") state.agentLeft = "";
  state.status = next.status;
  const agent = next.assigned_agent !== undefined ? next.assigned_agent : next.agent;
  if (agent && agent.name) state.agentName = agent.name;
  if (next.escalated_at !== undefined) state.escalatedAt = next.escalated_at || "";
  if (next.queue_position !== undefined) state.queuePosition = next.queue_position;
  if (next.offline_request !== undefined) state.offline = next.offline_request;
  render();
  if (state.status === "pending_manual" && next.queue_position === undefined && next.offline_request === undefined) {
    refreshState();
  }
}

async function refreshState() {
  if (!name) return;
  const { ok, data } = await getJSON(api());
  if (ok) applyState(data);
}

function onEvent(data) {
  switch (data.type) {
    case "connected":
      if (data.status !== state.status) refreshState();
      break;
    case "history":
      for (const message of data.messages || []) bubbles.add(message);
      if (!bubbles.firstSeq() || data.messages?.[0]?.seq <= bubbles.firstSeq()) earlier.show(data.has_earlier);
      applyState(data.session || { status: data.status });
      break;
    case "message":
      bubbles.add(data.message);
      typing.hideFor(data.message?.role);
      break;
    case "translation":
      // An agent's message in this customer's language, marked machine-translated, the original behind it.
      bubbles.replace(data.message);
      break;
    case "status":
      applyState(data);
      break;
    case "typing":
      if (data.role === "agent") typing.show(data, format(gettext("%(agent)s is typing…"), { agent: data.name || gettext("An agent") }));
      break;
    case "queue_position":
      // The place in the queue, told by the server whenever it moves.
      state.queuePosition = data.position;
      render();
      break;
    case "deleted":
      ended();
      break;
    default:
      break;
  }
}

// The conversation was erased (or this browser lost it): nothing more will come.
function ended() {
  if (stream) stream.close();
  state.deleted = true;
  connection.hidden = true;
  render();
}

let stream = null;

function listen(lastEventId) {
  stream = openStream(`${api()}/events`, {
    lastEventId,
    stateUrl: api(),
    onEnd: ended,
    onEvent,
    onConnection(mode) {
      connection.hidden = mode === "live";
      root.dataset.stream = mode; // "live" or "reconnecting"
    },
  });
}

// The first message or "Talk to a person" starts the conversation (the page
// showed the assistant's greeting without storing anything).
async function ensureConversation() {
  if (name) return true;
  const { ok, status, data } = await postJSON("/api/sessions");
  if (!ok) {
    showError(errorBox, refusal(status, data));
    return false;
  }
  name = data.session_name;
  root.dataset.session = name;
  for (const placeholder of document.querySelectorAll('#messages [data-message-id=""]')) placeholder.remove();
  bubbles.seen.delete("");
  for (const message of data.messages || []) bubbles.add(message);
  applyState(data);
  listen(String(data.last_event_id));
  return true;
}

if (name) listen(root.dataset.lastEventId);

const typingSignals = bindTypingSignals({
  input,
  url: () => `${api()}/typing`,
  active: () => Boolean(name) && state.status !== "closed" && !state.deleted,
  // The shop may show agents what is being typed (TYPING_PREVIEW); otherwise the text never leaves.
  preview: () => (root.dataset.typingPreview === "true" ? input.value.slice(0, 2000) : null),
});

bindComposer({
  form,
  input,
  url: () => `${api()}/messages`,
  prepare: ensureConversation,
  bubbles,
  errorBox,
  role: "user",
  onSent(data) {
    if (data.reply) bubbles.add(data.reply); // the assistant's answer, when it gave one
    typingSignals.sent();
    showError(errorBox, "");
  },
});

// Photos and PDFs: the paperclip, a paste into the composer, or a drop anywhere on the conversation.
bindAttachments({
  button: attachButton,
  fileInput: document.getElementById("attach-input"),
  pasteTarget: input,
  dropZone: root,
  url: () => `${api()}/attachments`,
  prepare: ensureConversation,
  bubbles,
  errorBox,
  role: "user",
  maxBytes: Number(root.dataset.attachmentMaxBytes),
  enabled: () => state.status !== "closed" && !state.deleted,
  onSent(data) {
    if (data.reply) bubbles.add(data.reply); // the assistant says an agent can see files
  },
});

async function act(button, path, body) {
  button.disabled = true;
  if (!(await ensureConversation())) {
    button.disabled = false;
    return;
  }
  const { ok, status, data } = await postJSON(`${api()}/${path}`, body);
  button.disabled = false;
  if (ok) {
    showError(errorBox, "");
    applyState(data);
  } else {
    showError(errorBox, refusal(status, data));
    refreshState();
  }
}

// "Talk to a person" first asks who the customer is (both optional), unless they already said.
const known = { name: root.dataset.customerName || "", email: root.dataset.customerEmail || "" };

// --- Support hours: when nobody can answer, asking for a person leaves a message for email.
const supportLine = document.getElementById("support-status");
let support = { open: true, next_open: null };

async function readSupport() {
  const { ok, data } = await getJSON("/api/support-status");
  if (ok) support = data;
  supportLine.hidden = support.open;
  if (!support.open) {
    const at = support.next_open ? new Date(support.next_open) : null;
    supportLine.textContent = at
      ? format(gettext("Support is closed. We are back %(time)s (your time)."), {
          time: new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
            weekday: "long",
            hour: "2-digit",
            minute: "2-digit",
          }).format(at),
        })
      : gettext("No agent is available right now.");
  }
  return support;
}

function offlineForm(offline) {
  document.getElementById("identify-online").hidden = offline;
  document.getElementById("identify-offline").hidden = !offline;
  document.getElementById("identify-hint").hidden = offline;
  document.getElementById("identify-hint-offline").hidden = !offline;
  identifyEmail.required = offline;
  document.getElementById("identify-submit").textContent = offline ? gettext("Leave a message") : gettext("Talk to a person");
}

escalateButton.addEventListener("click", async () => {
  const { open } = await readSupport();
  if (open && (known.name || known.email)) {
    act(escalateButton, "escalate", { reason: "Customer asked for a person" });
    return;
  }
  offlineForm(!open);
  if (!open && known.email) identifyEmail.value = known.email;
  identifyForm.hidden = false;
  escalateButton.hidden = true;
  identifyName.focus();
});
document.getElementById("identify-cancel").addEventListener("click", () => {
  identifyForm.hidden = true;
  render();
});
identifyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const details = { customer_name: identifyName.value.trim(), customer_email: identifyEmail.value.trim() };
  if (identifyEmail.required && !details.customer_email) {
    showError(errorBox, gettext("Please give your email, so an agent can answer you."));
    identifyEmail.focus();
    return;
  }
  const submit = identifyForm.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    if (!(await ensureConversation())) return;
    if (details.customer_name || details.customer_email) {
      const { ok, status, data } = await sendJSON("PATCH", api(), details);
      if (!ok) {
        showError(errorBox, refusal(status, data)); // e.g. "customer_email is not an email address."
        identifyEmail.focus();
        return;
      }
      known.name = details.customer_name;
      known.email = details.customer_email;
    }
    identifyForm.hidden = true;
    await act(escalateButton, "escalate", { reason: "Customer asked for a person" });
  } finally {
    submit.disabled = false;
  }
});
cancelButton.addEventListener("click", () => act(cancelButton, "cancel-escalation"));
endButton.addEventListener("click", () => act(endButton, "close"));

// The waiting time ticks; the place in the queue comes over the stream (queue_position).
setInterval(renderWaited, 1000);

render();
if (state.status === "pending_manual") refreshState();
if (state.status === "bot_active") readSupport(); // say so at once when nobody can answer
bubbles.scrollToEnd();
