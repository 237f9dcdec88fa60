// The agents' live queue (templates/workbench/queue.html), drawn from the desk (desk.js).
import {
  desk,
  isMine,
  offlineRows,
  onChange,
  onConnection,
  onEnd,
  sessionUrl,
  startDesk,
  waitedSeconds,
  waitingCount,
  waitingRows,
} from "./desk.js";
import { startKeyboard } from "./keyboard.js";
import { format, formatDuration, getJSON, gettext, localTime, pgettext, reasonText } from "./live.js";

const root = document.querySelector("[data-queue]");
const lists = {
  waiting: document.getElementById("waiting"),
  offline: document.getElementById("offline"),
  mine: document.getElementById("mine"),
  others: document.getElementById("others"),
  bot: document.getElementById("bot"),
};
const waitingBadge = document.getElementById("waiting-count");
const moreWaiting = document.getElementById("more-waiting");
const connection = document.getElementById("connection");
const RECENT_BOT_ROWS = 20;
const ROLE_LABELS = {
  bot: pgettext("speaker", "Assistant"),
  agent: pgettext("tag", "Agent"),
  system: pgettext("speaker", "Note"),
};

function waitingText(row) {
  return format(gettext("waiting %(time)s"), { time: formatDuration(waitedSeconds(row)) });
}

function rowElement(row) {
  const li = document.createElement("li");
  li.className = `row row--${row.status}`;
  li.dataset.session = row.session_name;
  const link = document.createElement("a");
  link.className = "row__link";
  link.href = sessionUrl(row.session_name);
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
  if (row.customer_email) {
    const email = document.createElement("span");
    email.className = "row__email";
    email.textContent = row.customer_email;
    who.append(" ", email);
  }
  if (row.status !== "bot_active" && row.unread_count > 0) {
    const unread = document.createElement("span");
    unread.className = "row__unread";
    unread.textContent = String(row.unread_count);
    unread.title = format(gettext("%(count)s unread"), { count: row.unread_count });
    who.append(" ", unread);
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
  if (row.status === "pending_manual" && row.offline_request) {
    meta.textContent = format(gettext("left %(time)s"), { time: localTime(row.escalated_at) });
  } else if (row.status === "pending_manual") {
    meta.classList.add("row__wait");
    meta.dataset.waitingSince = row.session_name;
    meta.textContent = waitingText(row);
  } else if (row.status === "manual_live") {
    meta.textContent = row.assigned_agent
      ? format(gettext("with %(agent)s"), { agent: row.assigned_agent.name })
      : gettext("live");
  } else {
    meta.textContent = localTime(row.updated_at);
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

const newestFirst = (a, b) => (Date.parse(b.updated_at || "") || 0) - (Date.parse(a.updated_at || "") || 0);

function render() {
  const all = [...desk.rows.values()];
  const waiting = waitingRows();
  const live = all.filter((r) => r.status === "manual_live");
  fill(lists.waiting, waiting);
  const offline = offlineRows();
  fill(lists.offline, offline);
  document.getElementById("offline-count").textContent = String(offline.length);
  fill(lists.mine, live.filter(isMine));
  fill(lists.others, live.filter((r) => !isMine(r)));
  fill(lists.bot, all.filter((r) => r.status === "bot_active").sort(newestFirst).slice(0, RECENT_BOT_ROWS));
  const total = waitingCount();
  waitingBadge.textContent = String(total);
  moreWaiting.hidden = !(desk.waitingNext && total > waiting.length);
  moreWaiting.textContent = format(gettext("Show more (%(count)s more waiting)"), { count: total - waiting.length });
}

function tick() {
  for (const el of lists.waiting.querySelectorAll("[data-waiting-since]")) {
    const row = desk.rows.get(el.dataset.waitingSince);
    if (row) el.textContent = waitingText(row);
  }
}

// The next page of waiting conversations, beyond those the snapshot carried.
moreWaiting.addEventListener("click", async () => {
  if (!desk.waitingNext) return;
  moreWaiting.disabled = true;
  const { ok, data } = await getJSON(`/workbench/api/sessions?status=pending_manual&limit=100&cursor=${encodeURIComponent(desk.waitingNext)}`);
  moreWaiting.disabled = false;
  if (!ok) return;
  for (const row of data.sessions || []) if (!desk.rows.has(row.session_name)) desk.rows.set(row.session_name, row);
  desk.waitingNext = data.next || null;
  render();
});

// This agent logged out (here or in another tab), or lost access: the queue stops.
onEnd(() => {
  const link = document.createElement("a");
  link.href = `/workbench/login/?next=${encodeURIComponent(window.location.pathname)}`;
  link.textContent = gettext("Log in again");
  connection.replaceChildren(`${gettext("You are signed out.")} `, link);
  connection.hidden = false;
  root.dataset.stream = "ended";
});
onConnection((mode) => {
  connection.hidden = mode === "live";
  root.dataset.stream = mode; // "live" or "reconnecting"
});
onChange(render);
startDesk({ initial: JSON.parse(document.getElementById("queue-data").textContent) });
startKeyboard();
setInterval(tick, 1000);
