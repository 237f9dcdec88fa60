// The agent's view of one conversation (templates/workbench/session.html).
import {
  BubbleList,
  bindComposer,
  bindEarlier,
  format,
  formatDuration,
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
const sendButton = form.querySelector("button[type=submit]");
const takeOverButton = document.getElementById("take-over");
const releaseButton = document.getElementById("release");
const closeButton = document.getElementById("close");
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
};

const mine = () => state.status === "manual_live" && state.agent && state.agent.username === me;

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

function render() {
  renderWaited();
  const text = statusText();
  if (statusLine.textContent !== text) statusLine.textContent = text;
  root.dataset.status = state.status;
  const gone = Boolean(state.ended);
  takeOverButton.hidden = gone || state.status !== "pending_manual";
  releaseButton.hidden = gone || !(state.status === "manual_live" && (mine() || superuser));
  closeButton.hidden = gone || !(state.status === "pending_manual" || mine() || (superuser && state.status !== "closed"));
  const canWrite = mine() && !gone;
  input.disabled = !canWrite;
  sendButton.disabled = !canWrite;
  input.placeholder = canWrite
    ? gettext("Reply to the customer…")
    : gone || state.status === "closed"
      ? gettext("This conversation is closed.")
      : gettext("Take over to reply");
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

// The conversation was erased (404), or this agent may no longer see it
// (401/403, a `revoked` event): the stream is over.
function ended(reason) {
  stream.close();
  state.ended = reason === 404 || reason === "deleted" ? "deleted" : "signed-out";
  connection.hidden = true;
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
    } else if (data.type === "status") {
      applyState(data);
    } else if (data.type === "deleted" || data.type === "revoked") {
      ended(data.type);
    }
  },
});

async function act(button, path) {
  button.disabled = true;
  const { ok, status, data } = await postJSON(`${api}/${path}`);
  button.disabled = false;
  if (ok) {
    showError(errorBox, "");
    applyState(data);
  } else {
    showError(errorBox, refusal(status, data));
  }
}

takeOverButton.addEventListener("click", () => act(takeOverButton, "takeover"));
releaseButton.addEventListener("click", () => act(releaseButton, "release"));
closeButton.addEventListener("click", () => act(closeButton, "close"));

bindComposer({ form, input, url: `${api}/messages`, bubbles, errorBox, role: "agent" });

setInterval(renderWaited, 1000);

render();
bubbles.scrollToEnd();
