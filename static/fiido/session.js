// The agent's view of one conversation (templates/workbench/session.html):
// its messages and the agents' private notes, live; taking over (or joining a
// conversation still with the assistant), transferring, returning to the
// queue, releasing, closing; replies with canned answers, notes; and marking
// what the agent has read.
import { watchFocus } from "./alerts.js";
import { bindCannedReplies } from "./canned.js";
import { bindCopilot } from "./copilot.js";
import { startDesk } from "./desk.js";
import { startKeyboard } from "./keyboard.js";
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
  reasonText,
  refusal,
  secondsSince,
  showError,
} from "./live.js";

const root = document.querySelector("[data-conversation]");
const name = root.dataset.session;
const api = `/workbench/api/sessions/${encodeURIComponent(name)}`;
const me = root.dataset.me;
const superuser = root.dataset.superuser === "true";
const bubbles = new BubbleList(document.getElementById("messages"));
const statusLine = document.getElementById("status");
const waited = document.getElementById("waited");
const reasonLine = document.getElementById("reason-line");
const reason = document.getElementById("reason");
const connection = document.getElementById("connection");
const errorBox = document.getElementById("error");
const form = document.getElementById("composer");
const input = document.getElementById("composer-input");
const composerLabel = document.getElementById("composer-label");
const sendButton = form.querySelector("button[type=submit]");
const attachButton = document.getElementById("attach");
const modeChoices = [...document.querySelectorAll("#mode input[name=mode]")];
const buttons = {
  takeOver: document.getElementById("take-over"),
  join: document.getElementById("join"),
  transfer: document.getElementById("transfer"),
  returnToQueue: document.getElementById("return-to-queue"),
  release: document.getElementById("release"),
  close: document.getElementById("close"),
};
const typing = new TypingIndicator(document.getElementById("typing"));
const transferDialog = document.getElementById("transfer-dialog");
const transferList = document.getElementById("transfer-agents");
const transferError = document.getElementById("transfer-error");
const copilot = bindCopilot({ api, input, errorBox });
const earlier = bindEarlier({
  button: document.getElementById("load-earlier"),
  bubbles,
  url: `${api}/messages`,
  errorBox,
});

const state = {
  status: root.dataset.status,
  agent: root.dataset.agentUsername ? { username: root.dataset.agentUsername, name: root.dataset.agentName } : null,
  escalatedAt: root.dataset.escalatedAt || "",
  ended: "", // "deleted" (erased) or "signed-out" (this agent may no longer watch): the stream is over
  mode: "reply", // what the composer writes: a reply to the customer, or a note only agents see
};

const mine = () => state.status === "manual_live" && state.agent && state.agent.username === me;
const canSendFiles = () => !state.ended && state.mode === "reply" && mine();
const holderOrSuperuser = () => state.status === "manual_live" && (mine() || superuser);

function statusText() {
  if (state.ended === "deleted") return gettext("This conversation was deleted.");
  if (state.ended) return gettext("You are signed out. Log in again to go on.");
  switch (state.status) {
    case "pending_manual":
      return gettext("Waiting for an agent.");
    case "manual_live":
      return mine()
        ? gettext("You are in this conversation.")
        : format(gettext("%(agent)s is in this conversation."), {
            agent: state.agent ? state.agent.name : gettext("Another agent"),
          });
    case "closed":
      return gettext("This conversation is closed.");
    default:
      return gettext("The assistant is answering.");
  }
}

function renderWaited() {
  waited.hidden = state.status !== "pending_manual";
  if (!waited.hidden) waited.textContent = format(gettext("Waiting %(time)s"), { time: formatDuration(secondsSince(state.escalatedAt)) });
}

function composerPlaceholder(canWrite) {
  if (state.mode === "note") return gettext("Private note: only agents see it. @username alerts an agent.");
  if (canWrite) return gettext("Reply to the customer… (/ for canned replies)");
  if (state.ended || state.status === "closed") return gettext("This conversation is closed.");
  if (state.status === "manual_live") return gettext("Another agent is replying. You can write a private note.");
  return state.status === "bot_active" ? gettext("Join the chat to reply") : gettext("Take over to reply");
}

function render() {
  renderWaited();
  const text = statusText();
  if (statusLine.textContent !== text) statusLine.textContent = text;
  root.dataset.status = state.status;
  root.dataset.mode = state.mode;
  const gone = Boolean(state.ended);
  buttons.takeOver.hidden = gone || state.status !== "pending_manual";
  buttons.join.hidden = gone || state.status !== "bot_active";
  buttons.transfer.hidden = gone || !holderOrSuperuser();
  buttons.returnToQueue.hidden = gone || !holderOrSuperuser();
  buttons.release.hidden = gone || !holderOrSuperuser();
  buttons.close.hidden = gone || !(state.status === "pending_manual" || mine() || (superuser && state.status !== "closed"));
  // Notes may be written in any status, closed included; replies only by the holder.
  const canWrite = !gone && (state.mode === "note" || mine());
  input.disabled = !canWrite;
  sendButton.disabled = !canWrite;
  attachButton.disabled = !canSendFiles(); // files go to the customer: replies only, never notes
  sendButton.textContent = state.mode === "note" ? gettext("Add note") : gettext("Send");
  composerLabel.textContent = state.mode === "note" ? gettext("Private note") : gettext("Reply to the customer");
  form.classList.toggle("composer--note", state.mode === "note");
  input.placeholder = composerPlaceholder(canWrite);
  for (const choice of modeChoices) choice.checked = choice.value === state.mode;
}

function applyState(next) {
  if (!next || !next.status) return;
  state.status = next.status;
  const agent = next.assigned_agent !== undefined ? next.assigned_agent : next.agent;
  if (agent !== undefined) state.agent = agent;
  if (next.escalated_at !== undefined) state.escalatedAt = next.escalated_at || "";
  if (next.escalation_reason !== undefined) {
    reason.textContent = reasonText(next.escalation_reason);
    reasonLine.hidden = !next.escalation_reason;
  }
  render();
}

function setMode(mode) {
  state.mode = mode;
  render();
  if (!input.disabled) input.focus();
}

// --- Read: what the agent has seen (visible, scrolled to the end) is read,
// on every tab of theirs (the server tells them).
const looking = watchFocus(name);
let readUpTo = 0;
let readTimer = null;

function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const seq = bubbles.lastSeq();
    if (state.ended || document.visibilityState !== "visible" || !bubbles.nearBottom() || seq <= readUpTo) return;
    readUpTo = seq;
    const { ok } = await postJSON(`${api}/read`, { seq });
    if (!ok) readUpTo = 0; // try again at the next chance
  }, 300);
}
bubbles.container.addEventListener("scroll", markRead, { passive: true });
document.addEventListener("visibilitychange", markRead);
window.addEventListener("focus", markRead);

// The customer said who they are: the title and the details, live.
function showCustomer(details) {
  document.getElementById("title-name").textContent = details.customer_name || gettext("Visitor");
  document.getElementById("customer-name").textContent = details.customer_name || "—";
  const email = document.getElementById("customer-email");
  if (details.customer_email) {
    const link = document.createElement("a");
    link.href = `mailto:${details.customer_email}`;
    link.textContent = details.customer_email;
    email.replaceChildren(link);
  } else {
    email.textContent = "—";
  }
}

// The conversation was erased (404), or this agent may no longer see it
// (401/403, a `revoked` event): the stream is over.
function ended(why) {
  stream.close();
  state.ended = why === 404 || why === "deleted" ? "deleted" : "signed-out";
  connection.hidden = true;
  if (transferDialog.open) transferDialog.close();
  render();
}

const stream = openStream(`${api}/events`, {
  lastEventId: root.dataset.lastEventId,
  stateUrl: api,
  onEnd: ended,
  onConnection(mode) {
    connection.hidden = mode === "live";
    root.dataset.stream = mode; // "live" or "reconnecting"
  },
  onEvent(data) {
    if (data.type === "history") {
      for (const message of data.messages || []) bubbles.add(message);
      if (!bubbles.firstSeq() || data.messages?.[0]?.seq <= bubbles.firstSeq()) earlier.show(data.has_earlier);
      applyState(data.session || { status: data.status });
    } else if (data.type === "message") {
      bubbles.add(data.message);
      typing.hideFor(data.message?.role);
    } else if (data.type === "typing") {
      // The customer's (this stream never carries an agent's own): with a preview when the shop allows it.
      const who = data.name || gettext("The customer");
      typing.show(data, format(gettext("%(name)s is typing…"), { name: who }));
      return;
    } else if (data.type === "translation") {
      // Agents' streams carry every agent language's translation: show this page's.
      if (data.language === document.documentElement.lang) bubbles.replace(data.message);
      return;
    } else if (copilot.onEvent(data)) {
      return;
    } else if (data.type === "note") {
      bubbles.add(data.note);
    } else if (data.type === "customer") {
      showCustomer(data);
    } else if (data.type === "rating") {
      showRating(data.rating);
    } else if (data.type === "status") {
      applyState(data);
    } else if (data.type === "deleted" || data.type === "revoked") {
      ended(data.type);
      return;
    }
    markRead();
  },
});

// The customer rated the closed chat (once): the score and their comment, as text.
function showRating(rating) {
  if (!rating) return;
  document.getElementById("rating-score").textContent = `${rating.score}/5`;
  const comment = document.getElementById("rating-comment");
  comment.textContent = rating.comment || "";
  comment.hidden = !rating.comment;
  document.getElementById("rating-line").hidden = false;
}

async function act(button, path, body = {}) {
  button.disabled = true;
  const { ok, status, data } = await postJSON(`${api}/${path}`, body);
  button.disabled = false;
  if (ok) {
    showError(errorBox, "");
    applyState(data);
  } else {
    showError(errorBox, refusal(status, data));
  }
  return ok;
}

buttons.takeOver.addEventListener("click", () => act(buttons.takeOver, "takeover"));
buttons.join.addEventListener("click", () => act(buttons.join, "takeover"));
buttons.returnToQueue.addEventListener("click", () => act(buttons.returnToQueue, "return-to-queue"));
buttons.release.addEventListener("click", () => act(buttons.release, "release"));
buttons.close.addEventListener("click", () => act(buttons.close, "close"));

// --- Transfer: pick another agent (with how many live chats each holds).
function agentButton(agent) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "agents__pick";
  button.dataset.username = agent.username;
  const dot = document.createElement("span");
  dot.className = `presence-dot presence-dot--${agent.presence}`;
  const who = document.createElement("span");
  who.className = "agents__name";
  who.textContent = agent.name;
  const load = document.createElement("span");
  load.className = "agents__load";
  load.textContent = `${format(gettext("%(count)s live"), { count: agent.live_count })} / ${agent.max_live}`;
  button.dataset.presence = agent.presence;
  button.append(dot, who, load);
  button.addEventListener("click", async () => {
    if (await act(button, "transfer", { to: agent.username })) transferDialog.close();
    else showError(transferError, errorBox.textContent);
  });
  li.append(button);
  return li;
}

buttons.transfer.addEventListener("click", async () => {
  showError(transferError, "");
  transferList.replaceChildren();
  transferDialog.showModal();
  const { ok, status, data } = await getJSON("/workbench/api/agents");
  if (!ok) {
    showError(transferError, refusal(status, data));
    return;
  }
  const others = (data.agents || []).filter((agent) => agent.username !== state.agent?.username);
  transferList.replaceChildren(...others.map(agentButton));
  if (!others.length) {
    const empty = document.createElement("li");
    empty.className = "rows__empty";
    empty.textContent = transferList.dataset.empty;
    transferList.append(empty);
  }
  transferList.querySelector("button")?.focus();
});

// --- The composer: replies (the holder) or notes (any agent), canned replies on "/".
for (const choice of modeChoices) choice.addEventListener("change", () => setMode(choice.value));
const canned = bindCannedReplies({
  input,
  listbox: document.getElementById("canned-list"),
  fillUrl: (id) => `${api}/canned-replies/${encodeURIComponent(id)}`,
  onError: (text) => showError(errorBox, text),
});
// The customer sees "Alice is typing…" while the holder writes a reply (never a note).
const typingSignals = bindTypingSignals({
  input,
  url: () => `${api}/typing`,
  active: () => state.mode === "reply" && mine() && !state.ended,
});
bindComposer({
  form,
  input,
  url: () => `${api}/${state.mode === "note" ? "notes" : "messages"}`,
  bubbles,
  errorBox,
  role: () => (state.mode === "note" ? "note" : "agent"),
  onSent: () => typingSignals.sent(),
});

// Photos and PDFs to the customer: the paperclip, a paste into the composer, or a drop on the conversation.
bindAttachments({
  button: attachButton,
  fileInput: document.getElementById("attach-input"),
  pasteTarget: input,
  dropZone: root,
  url: `${api}/attachments`,
  bubbles,
  errorBox,
  role: "agent",
  maxBytes: Number(root.dataset.attachmentMaxBytes),
  enabled: canSendFiles,
});

startDesk({ conversation: name, looking });
startKeyboard({
  takeOver() {
    const button = [buttons.takeOver, buttons.join].find((b) => !b.hidden);
    if (button) button.click();
  },
  focusComposer() {
    if (!input.disabled) input.focus();
  },
  openCanned() {
    if (!input.disabled) canned.open();
  },
  toggleNote() {
    setMode(state.mode === "note" ? "reply" : "note");
  },
});

setInterval(renderWaited, 1000);

render();
bubbles.scrollToEnd();
markRead();
