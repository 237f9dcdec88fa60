// The agent's desk, live on every workbench page: the queue's rows (waiting,
// live, recent ones with the assistant) with this agent's unread counts, kept
// from one stream (/workbench/api/events); the page title's count; and the
// alerts (alerts.js) for a new waiting customer, a customer message in a
// conversation the agent holds but is not looking at, a transfer to the
// agent and an @mention in a note.
import { ALERT_TITLES, alertOnce, lookingAt, offerNotifications } from "./alerts.js";
import { format, getJSON, gettext, openStream, pgettext, reasonText, sendJSON } from "./live.js";

const changeListeners = new Set();
const connectionListeners = new Set();
const endListeners = new Set();
const baseTitle = document.title;

export const desk = {
  me: document.querySelector("[data-me]")?.dataset.me || "",
  rows: new Map(), // session name -> row (the API's session row shape, with unread_count)
  // Snapshots carry only the oldest waiting rows: how many wait in all, and
  // the list API's cursor past the ones this page has.
  waitingTotal: 0,
  waitingNext: null,
  clockOffsetMs: 0, // server clock minus ours, learnt from waiting_seconds
  agents: new Map(), // username -> {username, name, presence, live_count, max_live}: the team
  stream: null,
};

export const sessionUrl = (name) => `/workbench/sessions/${encodeURIComponent(name)}`;
export const isMine = (row) => row.status === "manual_live" && row.assigned_agent?.username === desk.me;

const byTime = (key) => (a, b) => (Date.parse(a[key] || "") || 0) - (Date.parse(b[key] || "") || 0);

export function waitingRows() {
  return [...desk.rows.values()]
    .filter((r) => r.status === "pending_manual" && !r.offline_request)
    .sort(byTime("escalated_at"));
}

// Messages left while support was closed: answered by email, oldest first.
export function offlineRows() {
  return [...desk.rows.values()]
    .filter((r) => r.status === "pending_manual" && r.offline_request)
    .sort(byTime("escalated_at"));
}

export function waitedSeconds(row) {
  const at = Date.parse(row.escalated_at || "");
  return Number.isNaN(at) ? 0 : Math.max(0, (Date.now() + desk.clockOffsetMs - at) / 1000);
}

// Customer messages this agent has not read, in the conversations they hold.
export function unreadMine() {
  let total = 0;
  for (const row of desk.rows.values()) if (isMine(row)) total += row.unread_count || 0;
  return total;
}

export function waitingCount() {
  return Math.max(waitingRows().length, desk.waitingTotal);
}

export function onChange(listener) {
  changeListeners.add(listener);
}

// "live" or "reconnecting"
export function onConnection(listener) {
  connectionListeners.add(listener);
}

export function onEnd(listener) {
  endListeners.add(listener);
}

// The title counts what asks for the agent: customers waiting, plus unread
// customer messages in the agent's own conversations.
function changed() {
  const count = waitingCount() + unreadMine();
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
  renderTeam();
  for (const listener of changeListeners) listener();
}

function learnClock(sessions) {
  for (const row of sessions) {
    if (row.waiting_seconds !== null && row.waiting_seconds !== undefined && row.escalated_at) {
      desk.clockOffsetMs = Date.parse(row.escalated_at) + row.waiting_seconds * 1000 - Date.now();
      return;
    }
  }
}

// --- The team: who is online, away or offline, and how many live chats each holds.
const PRESENCE_NAMES = {
  online: pgettext("presence", "Online"),
  away: pgettext("presence", "Away"),
  offline: pgettext("presence", "Offline"),
};
const teamList = document.getElementById("team-list");
const teamSummary = document.getElementById("team-summary");
const myPresence = document.getElementById("my-presence");

function learnTeam(agents) {
  desk.agents = new Map((agents || []).map((agent) => [agent.username, agent]));
}

function renderTeam() {
  if (!teamList) return;
  const order = { online: 0, away: 1, offline: 2 };
  const team = [...desk.agents.values()].sort(
    (a, b) => order[a.presence] - order[b.presence] || a.name.localeCompare(b.name),
  );
  teamList.replaceChildren(
    ...team.map((agent) => {
      const li = document.createElement("li");
      li.className = "team__member";
      li.dataset.username = agent.username;
      li.dataset.presence = agent.presence;
      const dot = document.createElement("span");
      dot.className = `presence-dot presence-dot--${agent.presence}`;
      dot.title = PRESENCE_NAMES[agent.presence] || agent.presence;
      const who = document.createElement("span");
      who.className = "team__name";
      who.textContent = agent.name;
      const state = document.createElement("span");
      state.className = "visually-hidden";
      state.textContent = `(${PRESENCE_NAMES[agent.presence] || agent.presence})`;
      const load = document.createElement("span");
      load.className = "team__load";
      load.textContent = `${agent.live_count}/${agent.max_live}`;
      load.title = format(gettext("%(count)s live"), { count: agent.live_count });
      li.append(dot, who, state, load);
      return li;
    }),
  );
  const online = team.filter((agent) => agent.presence === "online").length;
  teamSummary.textContent = format(gettext("Team · %(count)s online"), { count: online });
  const me = desk.agents.get(desk.me);
  if (myPresence && me && document.activeElement !== myPresence) myPresence.value = me.presence === "away" ? "away" : "online";
}

// Live counts move with every take-over, transfer and close: the team is read again shortly after.
let teamTimer = null;
function refreshTeamSoon() {
  clearTimeout(teamTimer);
  teamTimer = setTimeout(async () => {
    const { ok, data } = await getJSON("/workbench/api/agents");
    if (ok) {
      learnTeam(data.agents);
      renderTeam();
    }
  }, 1000);
}

myPresence?.addEventListener("change", async () => {
  const { ok, data } = await sendJSON("PUT", "/workbench/api/me/presence", { presence: myPresence.value });
  if (ok && desk.agents.has(desk.me)) {
    desk.agents.get(desk.me).presence = data.presence;
    renderTeam();
  }
});

function learnSnapshot(snapshot) {
  const sessions = snapshot.sessions || [];
  learnClock(sessions);
  desk.rows = new Map(sessions.map((row) => [row.session_name, row]));
  desk.waitingTotal = snapshot.counts ? snapshot.counts.waiting : 0;
  desk.waitingNext = snapshot.waiting_next || null;
  if (snapshot.agents) learnTeam(snapshot.agents);
}

// --- Alerts
function customerName(row) {
  return row?.customer_name || gettext("A customer");
}

function alertWaiting(row) {
  alertOnce(`waiting:${row.session_name}:${row.escalated_at || ""}`, {
    title: ALERT_TITLES.waiting(),
    body: `${customerName(row)}: ${reasonText(row.escalation_reason) || gettext("asked for a person")}`,
    url: sessionUrl(row.session_name),
  });
}

let showing = null; // the conversation this page shows
let lookingHere = () => false; // …and whether the agent is looking at it now

function alertMessage(row, message) {
  if (!isMine(row)) return;
  const name = row.session_name;
  if ((showing === name && lookingHere()) || lookingAt(name)) return;
  alertOnce(`message:${message.id}`, {
    title: ALERT_TITLES.message(),
    body: `${customerName(row)}: ${(message.content || "").slice(0, 140)}`,
    url: sessionUrl(name),
  });
}

function alertNotice(data) {
  const bodies = {
    transfer: gettext("%(agent)s transferred a chat to you"),
    mention: gettext("%(agent)s mentioned you in a note"),
  };
  if (!bodies[data.kind]) return;
  alertOnce(`${data.kind}:${data.session_name}:${data.note_seq ?? data.seq ?? ""}`, {
    title: ALERT_TITLES[data.kind](),
    body: format(bodies[data.kind], { agent: data.by || gettext("Another agent") }),
    url: sessionUrl(data.session_name),
  });
}

// --- The stream's events
let baseline = false; // a snapshot to compare with: the first one alerts nobody unless the page had rows

function onEvent(data) {
  if (data.type === "queue") {
    // A snapshot (on connect, and after anything may have been missed): alert
    // for whoever started waiting since the rows this page already had.
    const wasWaiting = (name) => desk.rows.get(name)?.status === "pending_manual";
    const arrived = (data.sessions || []).filter(
      (row) => row.status === "pending_manual" && !row.offline_request && !wasWaiting(row.session_name),
    );
    learnSnapshot(data);
    changed();
    if (baseline) for (const row of arrived) alertWaiting(row);
    baseline = true;
  } else if (data.type === "status") {
    const known = desk.rows.get(data.session_name);
    const row = known || { session_name: data.session_name, customer_name: "", last_message: null, unread_count: 0 };
    const offline = Boolean(data.offline_request);
    const fresh = data.status === "pending_manual" && !offline && (!known || known.status !== "pending_manual");
    const counted = (status, isOffline) => status === "pending_manual" && !isOffline;
    if (counted(data.status, offline) !== counted(known?.status ?? data.previous, known?.offline_request ?? offline)) {
      if (counted(data.status, offline)) desk.waitingTotal += 1;
      else desk.waitingTotal = Math.max(0, desk.waitingTotal - 1);
    }
    Object.assign(row, {
      offline_request: offline,
      status: data.status,
      assigned_agent: data.agent,
      escalated_at: data.escalated_at,
      escalation_reason: data.escalation_reason,
      updated_at: new Date(Date.now() + desk.clockOffsetMs).toISOString(),
    });
    if (data.status === "closed") desk.rows.delete(data.session_name);
    else desk.rows.set(data.session_name, row);
    changed();
    if (fresh) alertWaiting(row);
    if (data.status === "manual_live" || data.previous === "manual_live") refreshTeamSoon();
  } else if (data.type === "deleted") {
    if (desk.rows.get(data.session_name)?.status === "pending_manual") desk.waitingTotal = Math.max(0, desk.waitingTotal - 1);
    desk.rows.delete(data.session_name);
    changed();
  } else if (data.type === "message" && data.message) {
    const row = desk.rows.get(data.session_name) || {
      session_name: data.session_name,
      customer_name: "",
      status: "bot_active",
      assigned_agent: null,
      unread_count: 0,
    };
    const message = data.message;
    row.last_message = { role: message.role, text: (message.content || "").slice(0, 200), created_at: message.created_at };
    row.updated_at = message.created_at;
    if (message.role === "user") row.unread_count = (row.unread_count || 0) + 1;
    desk.rows.set(data.session_name, row);
    changed();
    if (message.role === "user") alertMessage(row, message);
  } else if (data.type === "customer") {
    const row = desk.rows.get(data.session_name);
    if (row) {
      row.customer_name = data.customer_name;
      row.customer_email = data.customer_email;
      changed();
    }
  } else if (data.type === "read") {
    const row = desk.rows.get(data.session_name);
    if (row) {
      row.unread_count = data.unread_count;
      changed();
    }
  } else if (data.type === "alert") {
    alertNotice(data);
  } else if (data.type === "presence") {
    const known = desk.agents.get(data.username);
    if (known) Object.assign(known, { presence: data.presence, live_count: data.live_count });
    else refreshTeamSoon(); // someone new to this page
    renderTeam();
    for (const listener of changeListeners) listener();
  }
}

function ended() {
  desk.stream?.close();
  for (const listener of endListeners) listener();
}

// Start the desk on this page. `initial` is a queue snapshot the page was
// rendered with (the queue page); `conversation` names the conversation the
// page shows, with `looking()` saying whether the agent is looking at it.
export function startDesk({ initial = null, conversation = null, looking = () => false } = {}) {
  showing = conversation;
  lookingHere = looking;
  if (initial) {
    learnSnapshot(initial);
    baseline = true;
    changed();
  }
  offerNotifications();
  desk.stream = openStream("/workbench/api/events", {
    onEvent(data) {
      if (data.type === "revoked") ended();
      else onEvent(data);
    },
    stateUrl: "/workbench/api/sessions?status=manual_live&limit=1",
    onEnd: ended,
    onConnection(mode) {
      document.body.dataset.desk = mode; // "live" or "reconnecting"
      for (const listener of connectionListeners) listener(mode);
    },
  });
  return desk;
}
