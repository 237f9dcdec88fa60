// The agents' copilot on the conversation page (COPILOT=on): the take-over
// summary, and suggested replies that fill the composer (nothing is sent
// until the agent sends). Both arrive on the agents' stream; a page shows
// only the suggestions it asked for (by request id).
import { gettext, postJSON, refusal, showError } from "./live.js";

export function bindCopilot({ api, input, errorBox }) {
  const panel = document.getElementById("copilot");
  if (!panel) return { onEvent: () => false };
  const summaryText = document.getElementById("summary-text");
  const summaryState = document.getElementById("summary-state");
  const refresh = document.getElementById("summary-refresh");
  const suggest = document.getElementById("suggest");
  const list = document.getElementById("suggestions");
  let asked = null; // the request id of this page's pending suggestions

  function showSummary(summary) {
    summaryText.textContent = summary.text;
    summaryText.hidden = false;
    summaryState.textContent = "";
  }

  async function ask(button, path, pending) {
    button.disabled = true;
    const { ok, status, data } = await postJSON(`${api}/${path}`, {});
    button.disabled = false;
    if (!ok) {
      showError(errorBox, refusal(status, data));
      return null;
    }
    pending();
    return data;
  }

  refresh.addEventListener("click", () =>
    ask(refresh, "summary", () => {
      summaryState.textContent = gettext("Summarising…");
    }),
  );

  suggest.addEventListener("click", async () => {
    const data = await ask(suggest, "suggestions", () => {
      list.replaceChildren();
      list.hidden = true;
      suggest.textContent = gettext("Thinking…");
    });
    if (data) asked = data.request_id;
  });

  function offer(suggestions) {
    suggest.textContent = gettext("Suggest replies");
    list.replaceChildren(
      ...suggestions.map((text) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "suggestion";
        button.textContent = text;
        button.addEventListener("click", () => {
          if (input.disabled) return;
          input.value = text; // fills the composer; the agent edits and sends
          input.focus();
          list.hidden = true;
        });
        item.append(button);
        return item;
      }),
    );
    list.hidden = !suggestions.length;
  }

  return {
    // True when the event was the copilot's.
    onEvent(data) {
      if (data.type === "summary") {
        if (data.failed) summaryState.textContent = gettext("The summary could not be made. Try again.");
        else showSummary(data.summary);
        return true;
      }
      if (data.type === "suggestions") {
        if (data.request_id !== asked) return true; // another page's
        asked = null;
        if (data.failed) {
          suggest.textContent = gettext("Suggest replies");
          showError(errorBox, gettext("No suggestions right now. Try again."));
        } else offer(data.suggestions || []);
        return true;
      }
      return false;
    },
  };
}
