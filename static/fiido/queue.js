// The agents' live queue (templates/workbench/queue.html).
import { format, formatDuration, getJSON, gettext, localTime, openStream, pgettext, reasonText } from "./live.js";

const root = document.querySelector("[data-queue]");
const me = root.dataset.me;
const lists = {
  waiting: document.getElementById("waiting"),
  mine: document.getElementById("mine"),
  others: document.getElementById("others"),
  bot: document.getElementById("bot"),
};
const waitingCount = document.getElementById("waiting-count");
const moreWaiting = document.getElementById("more-waiting");
const connection = document.getElementById("connection");
const notifyButton = document.getElementById("enable-notifications");
const RECENT_BOT_ROWS = 20;
const ROLE_LABELS = {
  bot: pgettext("speaker", "Assistant"),
  agent: pgettext("tag", "Agent"),
  system: pgettext("speaker", "Note"),
};
const baseTitle = document.title;

let rows = new Map(); // session name -> row (the API's session row shape)
// Snapshots carry only the oldest waiting rows: how many wait in all, and the
// list API's cursor past the ones this page has.
let waitingTotal = 0;
let waitingNext = null;
let clockOffsetMs = 0; // server clock minus ours, learnt from waiting_seconds

function learnClock(sessions) {
  for (const row of sessions) {
    if (row.waiting_seconds !== null && row.waiting_seconds !== undefined && row.escalated_at) {
      clockOffsetMs = Date.parse(row.escalated_at) + row.waiting_seconds * 1000 - Date.now();
      return;
    }
  }
}

function waitedSeconds(row) {
  const at = Date.parse(row.escalated_at || "");
  return Number.isNaN(at) ? 0 : Math.max(0, (Date.now() + clockOffsetMs - at) / 1000);
}

const time = localTime; // in the agent's own zone and the page's language

function waitingText(row) {
  return format(gettext("waiting %(time)s"), { time: formatDuration(waitedSeconds(row)) });
}

function rowElement(row) {
  const li = document.createElement("li");
  li.className = `row row--${row.status}`;
  li.dataset.session = row.session_name;
  const link = document.createElement("a");
  link.className = "row__link";
  link.href = `/workbench/sessions/${encodeURIComponent(row.session_name)}`;
  const who = document.createElement("span");
  who.className = "row__who";
  who.textContent = row.customer_name || format(gettext("Visitor %(id)s"), { id: row.session_name.slice(0, 6) });
  if (row.language) {
    const language = document.createElement("span");
    language.className = "row__language";
    language.lang = row.language;
    language.textContent = row.language.toUpperCase();
    language.title = gettext("The customer's language");
    who.append(" ", language);
  }
  const last = document.createElement("span");
  last.className = "row__last";
  const message = row.last_message;
  if (message && ROLE_LABELS[message.role]) {
    const role = document.createElement("span");
    role.className = "row__role";
    role.textContent = `${ROLE_LABELS[message.role]}: `;
    last.append(role);
  }
  last.append(message ? message.text : reasonText(row.escalation_reason) || gettext("No messages yet"));
  const meta = document.createElement("span");
  meta.className = "row__meta";
  if (row.status === "pending_manual") {
    meta.classList.add("row__wait");
    meta.dataset.waitingSince = row.session_name;
    meta.textContent = waitingText(row);
  } else if (row.status === "manual_live") {
    meta.textContent = row.assigned_agent
      ? format(gettext("with %(agent)s"), { agent: row.assigned_agent.name })
      : gettext("live");
  } else {
    meta.textContent = time(row.updated_at);
  }
  link.append(who, last, meta);
  li.append(link);
  return li;
}

function fill(list, items) {
  list.replaceChildren(...items.map(rowElement));
  if (!items.length) {
    const empty = document.createElement("li");
    empty.className = "rows__empty";
    empty.textContent = list.dataset.empty;
    list.append(empty);
  }
}

const byTime = (key) => (a, b) => (Date.parse(a[key] || "") || 0) - (Date.parse(b[key] || "") || 0);

function render() {
  const all = [...rows.values()];
  const waiting = all.filter((r) => r.status === "pending_manual").sort(byTime("escalated_at"));
  const live = all.filter((r) => r.status === "manual_live");
  const isMine = (r) => r.assigned_agent && r.assigned_agent.username === me;
  const bot = all
    .filter((r) => r.status === "bot_active")
    .sort(byTime("updated_at"))
    .reverse()
    .slice(0, RECENT_BOT_ROWS);
  fill(lists.waiting, waiting);
  fill(lists.mine, live.filter(isMine));
  fill(lists.others, live.filter((r) => !isMine(r)));
  fill(lists.bot, bot);
  const total = Math.max(waiting.length, waitingTotal);
  waitingCount.textContent = String(total);
  document.title = total ? `(${total}) ${baseTitle}` : baseTitle;
  moreWaiting.hidden = !(waitingNext && total > waiting.length);
  moreWaiting.textContent = format(gettext("Show more (%(count)s more waiting)"), { count: total - waiting.length });
}

function tick() {
  for (const el of lists.waiting.querySelectorAll("[data-waiting-since]")) {
    const row = rows.get(el.dataset.waitingSince);
    if (row) el.textContent = waitingText(row);
  }
}

// --- A new escalation: a short chime (WebAudio, no sound files) and a notification.
let audio = null;
function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!audio && Context) audio = new Context();
  if (audio && audio.state === "suspended") audio.resume();
}
document.addEventListener("pointerdown", unlockAudio);
document.addEventListener("keydown", unlockAudio);

function chime() {
  try {
    unlockAudio();
  } catch {
    return;
  }
  if (!audio) return;
  const start = audio.currentTime;
  [880, 1318.5].forEach((frequency, index) => {
    const at = start + index * 0.16;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.32);
  });
}

function notify(row) {
  root.dataset.alerts = String(Number(root.dataset.alerts || 0) + 1);
  chime();
  if ("Notification" in window && Notification.permission === "granted") {
    const who = row.customer_name || gettext("A customer");
    const note = new Notification(gettext("A customer is waiting"), {
      body: `${who}: ${reasonText(row.escalation_reason) || gettext("asked for a person")}`,
      tag: `fiido-${row.session_name}`,
    });
    note.addEventListener("click", () => {
      window.focus();
      window.location.href = `/workbench/sessions/${encodeURIComponent(row.session_name)}`;
    });
  }
}

function setUpNotifications() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  notifyButton.hidden = false;
  notifyButton.addEventListener("click", async () => {
    unlockAudio();
    await Notification.requestPermission();
    notifyButton.hidden = Notification.permission === "default";
  });
}

// --- The stream: a snapshot, then status and customer-message events.
function onEvent(data) {
  if (data.type === "queue") {
    // A snapshot (on connect, and after anything may have been missed): alert
    // for whoever started waiting since the rows this page already had.
    const wasWaiting = (name) => rows.get(name)?.status === "pending_manual";
    const sessions = data.sessions || [];
    const arrived = sessions.filter((row) => row.status === "pending_manual" && !wasWaiting(row.session_name));
    learnClock(sessions);
    rows = new Map(sessions.map((row) => [row.session_name, row]));
    learnCounts(data);
    render();
    for (const row of arrived) notify(row);
  } else if (data.type === "status") {
    const known = rows.get(data.session_name);
    const row = known || { session_name: data.session_name, customer_name: "", last_message: null };
    const fresh = data.status === "pending_manual" && (!known || known.status !== "pending_manual");
    if (data.previous !== data.status) {
      if (data.status === "pending_manual") waitingTotal += 1;
      else if (data.previous === "pending_manual") waitingTotal = Math.max(0, waitingTotal - 1);
    }
    Object.assign(row, {
      status: data.status,
      assigned_agent: data.agent,
      escalated_at: data.escalated_at,
      escalation_reason: data.escalation_reason,
      updated_at: new Date(Date.now() + clockOffsetMs).toISOString(),
    });
    if (data.status === "closed") rows.delete(data.session_name);
    else rows.set(data.session_name, row);
    render();
    if (fresh) notify(row);
  } else if (data.type === "deleted") {
    if (rows.get(data.session_name)?.status === "pending_manual") waitingTotal = Math.max(0, waitingTotal - 1);
    rows.delete(data.session_name);
    render();
  } else if (data.type === "message" && data.message) {
    const row = rows.get(data.session_name) || {
      session_name: data.session_name,
      customer_name: "",
      status: "bot_active",
      assigned_agent: null,
    };
    row.last_message = { role: data.message.role, text: (data.message.content || "").slice(0, 200), created_at: data.message.created_at };
    row.updated_at = data.message.created_at;
    rows.set(data.session_name, row);
    render();
  }
}

function learnCounts(snapshot) {
  waitingTotal = snapshot.counts ? snapshot.counts.waiting : 0;
  waitingNext = snapshot.waiting_next || null;
}

// The next page of waiting conversations, beyond those the snapshot carried.
moreWaiting.addEventListener("click", async () => {
  if (!waitingNext) return;
  moreWaiting.disabled = true;
  const { ok, data } = await getJSON(`/workbench/api/sessions?status=pending_manual&limit=100&cursor=${encodeURIComponent(waitingNext)}`);
  moreWaiting.disabled = false;
  if (!ok) return;
  for (const row of data.sessions || []) if (!rows.has(row.session_name)) rows.set(row.session_name, row);
  waitingNext = data.next || null;
  render();
});

const initial = JSON.parse(document.getElementById("queue-data").textContent);
learnClock(initial.sessions);
rows = new Map(initial.sessions.map((row) => [row.session_name, row]));
learnCounts(initial);
render();
setUpNotifications();
setInterval(tick, 1000);
// This agent logged out (here or in another tab), or lost access: the queue stops.
function signedOut() {
  stream.close();
  const link = document.createElement("a");
  link.href = `/workbench/login/?next=${encodeURIComponent(window.location.pathname)}`;
  link.textContent = gettext("Log in again");
  connection.replaceChildren(`${gettext("You are signed out.")} `, link);
  connection.hidden = false;
  root.dataset.stream = "ended";
}

const stream = openStream("/workbench/api/events", {
  onEvent(data) {
    if (data.type === "revoked") signedOut();
    else onEvent(data);
  },
  stateUrl: "/workbench/api/sessions?status=manual_live",
  onEnd: signedOut,
  onConnection(mode) {
    connection.hidden = mode === "live";
    root.dataset.stream = mode; // "live" or "reconnecting"
  },
});
