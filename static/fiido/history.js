// The History page (templates/workbench/history.html): server-rendered; the
// desk (alerts, presence) and the shortcuts run here as on every workbench page.
import { startDesk } from "./desk.js";
import { startKeyboard } from "./keyboard.js";

// When each conversation started, in the agent's own zone and language.
const when = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});
for (const el of document.querySelectorAll("#results time[datetime]")) {
  const at = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(at.getTime())) el.textContent = when.format(at);
}
startDesk();
startKeyboard();
