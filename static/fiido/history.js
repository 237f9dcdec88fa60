// The History page (templates/workbench/history.html): server-rendered; the
// desk (alerts, presence) and the shortcuts run here as on every workbench page.
import { startDesk } from "./desk.js";
import { startKeyboard } from "./keyboard.js";
import { localizeTimes } from "./live.js";

localizeTimes(document.getElementById("results"));
startDesk();
startKeyboard();
