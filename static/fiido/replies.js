// The agent's canned replies (templates/workbench/canned_replies.html): add,
// edit and delete their own; the shared ones (kept by staff in the admin) are
// listed to read.
import { startDesk } from "./desk.js";
import { startKeyboard } from "./keyboard.js";
import { gettext, refusal, sendJSON, showError } from "./live.js";

const list = document.getElementById("replies");
const errorBox = document.getElementById("error");
const newForm = document.getElementById("new-reply");
let replies = JSON.parse(document.getElementById("replies-data").textContent);

const API = "/workbench/api/canned-replies";

function field(labelText, element) {
  const label = document.createElement("label");
  label.className = "reply-form__label";
  label.textContent = labelText;
  label.append(element);
  return label;
}

function editor(reply, li) {
  const form = document.createElement("form");
  form.className = "reply-form reply-form--inline";
  const shortcut = Object.assign(document.createElement("input"), { name: "shortcut", value: reply.shortcut, required: true, maxLength: 32 });
  const title = Object.assign(document.createElement("input"), { name: "title", value: reply.title, required: true, maxLength: 100 });
  const body = Object.assign(document.createElement("textarea"), { name: "body", value: reply.body, required: true, rows: 3 });
  const save = Object.assign(document.createElement("button"), { type: "submit", className: "button button--primary", textContent: gettext("Save") });
  const cancel = Object.assign(document.createElement("button"), { type: "button", className: "button button--quiet", textContent: gettext("Cancel") });
  form.append(field(gettext("Shortcut"), shortcut), field(gettext("Title"), title), field(gettext("Text"), body), save, cancel);
  cancel.addEventListener("click", render);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    const { ok, status, data } = await sendJSON("PATCH", `${API}/${reply.id}`, {
      shortcut: shortcut.value,
      title: title.value,
      body: body.value,
    });
    save.disabled = false;
    if (!ok) {
      showError(errorBox, refusal(status, data));
      return;
    }
    showError(errorBox, "");
    replies = replies.map((r) => (r.id === reply.id ? data : r));
    render();
  });
  li.replaceChildren(form);
  shortcut.focus();
}

function item(reply) {
  const li = document.createElement("li");
  li.className = "row reply";
  li.dataset.shortcut = reply.shortcut;
  const head = document.createElement("p");
  head.className = "reply__head";
  const shortcut = document.createElement("code");
  shortcut.textContent = `/${reply.shortcut}`;
  const title = document.createElement("strong");
  title.textContent = reply.title;
  head.append(shortcut, " ", title);
  if (reply.shared) {
    const tag = document.createElement("span");
    tag.className = "bubble__tag";
    tag.textContent = gettext("Shared");
    head.append(" ", tag);
  }
  const body = document.createElement("p");
  body.className = "reply__body";
  body.textContent = reply.body;
  li.append(head, body);
  if (!reply.shared) {
    const actions = document.createElement("p");
    actions.className = "reply__actions";
    const edit = Object.assign(document.createElement("button"), { type: "button", className: "button button--quiet", textContent: gettext("Edit") });
    const remove = Object.assign(document.createElement("button"), { type: "button", className: "button button--danger", textContent: gettext("Delete") });
    edit.addEventListener("click", () => editor(reply, li));
    remove.addEventListener("click", async () => {
      if (!window.confirm(gettext("Delete this reply?"))) return;
      const { ok, status, data } = await sendJSON("DELETE", `${API}/${reply.id}`);
      if (!ok && status !== 404) {
        showError(errorBox, refusal(status, data));
        return;
      }
      replies = replies.filter((r) => r.id !== reply.id);
      render();
    });
    actions.append(edit, " ", remove);
    li.append(actions);
  }
  return li;
}

function render() {
  const own = replies.filter((r) => !r.shared).sort((a, b) => a.shortcut.localeCompare(b.shortcut));
  const shared = replies.filter((r) => r.shared).sort((a, b) => a.shortcut.localeCompare(b.shortcut));
  list.replaceChildren(...[...own, ...shared].map(item));
  if (!replies.length) {
    const empty = document.createElement("li");
    empty.className = "rows__empty";
    empty.textContent = list.dataset.empty;
    list.append(empty);
  }
}

newForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = Object.fromEntries(new FormData(newForm));
  const button = newForm.querySelector("button[type=submit]");
  button.disabled = true;
  const { ok, status, data } = await sendJSON("POST", API, values);
  button.disabled = false;
  if (!ok) {
    showError(errorBox, refusal(status, data));
    return;
  }
  showError(errorBox, "");
  replies.push(data);
  newForm.reset();
  render();
});

render();
startDesk();
startKeyboard();
