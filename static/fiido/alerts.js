// Alerts on every workbench page: a chime, a desktop notification, a count.
//
// Every open tab of an agent hears the same events, so each alert has a key
// ("waiting:<session>:<escalated_at>", "message:<id>", …) and only the tab
// that claims the key first raises it: the claim is a check-and-set in
// localStorage under a Web Lock (one writer across the agent's tabs). A key
// is remembered for a day, so a reconnect or a reloaded page never alerts
// twice. Visible tabs claim at once, hidden ones a moment later, so the tab
// the agent is looking at gets the sound.
import { gettext } from "./live.js";

const STORE = "fiido-alerted";
const FOCUS = "fiido-focus";
const REMEMBER_MS = 24 * 3600 * 1000;
const HIDDEN_TAB_DELAY_MS = 400;
const FOCUS_FRESH_MS = 3000;
const LOCK_HOLD_MS = 10000; // far longer than localStorage takes to reach the other tabs

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function readStore() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "{}") || {};
  } catch {
    return {};
  }
}

function claimNow(key) {
  const now = Date.now();
  const seen = readStore();
  if (seen[key]) return false;
  for (const [old, at] of Object.entries(seen)) if (now - at > REMEMBER_MS) delete seen[old];
  seen[key] = now;
  try {
    localStorage.setItem(STORE, JSON.stringify(seen));
  } catch {
    // Storage full or refused: alert anyway rather than never.
  }
  return true;
}

// True in exactly one of the agent's tabs for `key`. Tabs may run in
// different processes, each with its own view of localStorage that catches
// up a moment later, so the tab that claims holds a Web Lock named after the
// key for a while: the others, hearing the same event at the same time, find
// it taken; anyone later finds the key in storage. (Without Web Locks, plain
// http off localhost, only the storage check remains: best effort.)
async function claim(key) {
  if (!(navigator.locks && typeof navigator.locks.request === "function")) return claimNow(key);
  let claimed = false;
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  const granted = new Promise((resolve) => {
    navigator.locks
      .request(`fiido-alert:${key}`, { ifAvailable: true }, (lock) => {
        claimed = Boolean(lock) && claimNow(key);
        resolve();
        return lock ? held : undefined;
      })
      .catch(() => resolve());
  });
  await granted;
  setTimeout(release, LOCK_HOLD_MS);
  return claimed;
}

// --- The chime: WebAudio, no sound files. Browsers let it play once the page was touched.
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

// Raise the alert `key` unless another tab (or this one, before) already did.
// `title` and `body` go into the desktop notification, which opens `url`.
export async function alertOnce(key, { title, body = "", url = null }) {
  if (document.visibilityState !== "visible") await sleep(HIDDEN_TAB_DELAY_MS);
  if (!(await claim(key))) return false;
  const main = document.querySelector("main");
  if (main) main.dataset.alerts = String(Number(main.dataset.alerts || 0) + 1);
  chime();
  if ("Notification" in window && Notification.permission === "granted") {
    const notification = new Notification(title, { body, tag: `fiido-${key}` });
    notification.addEventListener("click", () => {
      window.focus();
      if (url) window.location.href = url;
    });
  }
  return true;
}

// --- Which conversation the agent is looking at, across tabs. The page that
// shows a conversation, visible and focused, says so every second; an alert
// for that conversation's messages is then not needed anywhere.
export function watchFocus(sessionName) {
  const looking = () => document.visibilityState === "visible" && document.hasFocus();
  const say = () => {
    try {
      if (looking()) localStorage.setItem(FOCUS, JSON.stringify({ session: sessionName, at: Date.now() }));
      else if (JSON.parse(localStorage.getItem(FOCUS) || "{}").session === sessionName) localStorage.removeItem(FOCUS);
    } catch {
      // No storage: every tab decides for itself.
    }
  };
  for (const name of ["focus", "blur"]) window.addEventListener(name, say);
  document.addEventListener("visibilitychange", say);
  setInterval(say, 1000);
  say();
  return looking;
}

export function lookingAt(sessionName) {
  try {
    const focus = JSON.parse(localStorage.getItem(FOCUS) || "{}");
    return focus.session === sessionName && Date.now() - focus.at < FOCUS_FRESH_MS;
  } catch {
    return false;
  }
}

// "Turn on notifications" in the top bar, while the browser has not been asked.
export function offerNotifications() {
  const button = document.getElementById("enable-notifications");
  if (!button || !("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    unlockAudio();
    await Notification.requestPermission();
    button.hidden = Notification.permission === "default";
  });
}

export const ALERT_TITLES = {
  waiting: () => gettext("A customer is waiting"),
  message: () => gettext("New message from a customer"),
  transfer: () => gettext("A chat was transferred to you"),
  mention: () => gettext("You were mentioned in a note"),
};
