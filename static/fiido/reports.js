// The Reports page (templates/workbench/reports.html): charts and table are
// drawn by the server; this keeps the "now" strip live from the desk's queue
// stream (waiting, live, oldest wait, agents online) and asks for the days in
// the reader's own time zone.
import { desk, onChange, startDesk, waitedSeconds, waitingRows } from "./desk.js";
import { formatDuration } from "./live.js";
import { startKeyboard } from "./keyboard.js";

const page = document.querySelector("[data-reports]");
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const params = new URLSearchParams(window.location.search);
if (zone && !params.get("tz") && zone !== page.dataset.tz) {
  // Days start at midnight where the reader is: ask again in their zone, once
  // (a bookmarked range keeps its days).
  params.set("tz", zone);
  window.location.replace(`${window.location.pathname}?${params}`);
}

const waiting = document.getElementById("now-waiting");
const live = document.getElementById("now-live");
const oldest = document.getElementById("now-oldest");
const online = document.getElementById("now-online");
let ready = false; // the stream's first snapshot replaces the page's figures

function render() {
  if (!ready) return;
  const rows = waitingRows();
  waiting.textContent = String(Math.max(rows.length, desk.waitingTotal));
  live.textContent = String([...desk.rows.values()].filter((row) => row.status === "manual_live").length);
  oldest.textContent = rows.length ? formatDuration(waitedSeconds(rows[0])) : "–";
  online.textContent = String([...desk.agents.values()].filter((agent) => agent.presence === "online").length);
}

onChange(() => {
  ready = true;
  render();
});
setInterval(render, 1000); // the oldest wait grows by itself
startDesk();
startKeyboard();
