// A chat's extras (chat.js): the escalation pause (an agent handed the chat to a person, so its automations are
// silent) with "Resume automations"; marking the chat read; typing shown while the person writes; and the
// instance's group names for the chat list (one listing call, kept for a minute).
import { ApiError, allPages, api, enc } from "./api.js";
import { fmtTime, h, mount } from "./dom.js";

const TYPING_EVERY_MS = 5000; // at most one "composing" per 5 s while typing
const TYPING_IDLE_MS = 4000; // "paused" once nothing was typed for this long
const GROUP_NAMES_MS = 60000;

/** Errors that only say "not now": the page does not shout about them (the instance is offline, nothing to mark). */
function quiet(err) {
  return err instanceof ApiError && (err.code === "instance_disconnected" || err.code === "no_received_messages");
}

/** The chat's escalation: hidden unless paused; `load()` reads it again (on open, and on AUTOMATION_ESCALATED). */
export function escalationBar(id, chat, ctx) {
  const el = h("div", { class: "escalation", "data-testid": "chat-escalation", "data-paused": "false", role: "status", hidden: true });
  const path = `/instances/${enc(id)}/chats/${enc(chat)}/escalation`;
  let disposed = false;
  let seq = 0;

  async function load() {
    const mine = ++seq;
    try {
      const answer = await api(path);
      if (!disposed && mine === seq) show(answer);
    } catch (err) { if (!disposed) ctx.showError(err); }
  }

  function show(pause) {
    el.dataset.paused = String(Boolean(pause && pause.paused));
    if (!pause || !pause.paused) { el.hidden = true; mount(el); return; }
    mount(el,
      h("div", { class: "stack tight" },
        h("strong", {}, "Automations are paused in this chat: an agent handed it to a person"),
        pause.reason ? h("span", { "data-testid": "chat-escalation-reason" }, `Reason: ${pause.reason}`) : null,
        h("span", { class: "muted small" }, `Until ${fmtTime(pause.until)}, or until a person replies here.`)),
      h("button", { type: "button", class: "small", "data-testid": "chat-escalation-resume", onclick: resume }, "Resume automations"));
    el.hidden = false;
  }

  async function resume(event) {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api(path, { method: "DELETE" });
      ctx.showError(null);
      seq++; // a read still on its way is older than this
      show(null);
    } catch (err) { button.disabled = false; ctx.showError(err); }
  }

  return { el, load, dispose: () => { disposed = true; } };
}

/** Mark the chat's latest received messages read (best effort): true when the phone marked them. */
export async function markRead(id, chat, ctx) {
  try {
    await api(`/instances/${enc(id)}/chats/read`, { method: "POST", body: { chat } });
    return true;
  } catch (err) {
    if (!quiet(err)) ctx.showError(err);
    return false;
  }
}

/** "composing" while the person types (throttled), "paused" when they stop or send; gives up after one failure. */
export function typingNotifier(id, chat, ctx) {
  let lastComposing = 0;
  let active = false;
  let failed = false;
  let idle = null;

  function post(state) {
    api(`/instances/${enc(id)}/chats/presence`, { method: "POST", body: { chat, state } })
      .catch((err) => { failed = true; if (!quiet(err)) ctx.showError(err); });
  }

  function stop() {
    clearTimeout(idle);
    if (!active || failed) { active = false; return; }
    active = false;
    lastComposing = 0;
    post("paused");
  }

  function typed() {
    if (failed) return;
    const now = Date.now();
    if (now - lastComposing >= TYPING_EVERY_MS) { lastComposing = now; active = true; post("composing"); }
    clearTimeout(idle);
    idle = setTimeout(stop, TYPING_IDLE_MS);
  }

  return { typed, stop, dispose: stop };
}

// ------------------------------------------------------------------ group names (the conversations carry none)
const groupNameCache = new Map(); // instance id -> {at, names: Map(jid -> name)}

/** Keep an instance's groups (from its page's own listing) so the chat page needs no second call. */
export function rememberGroups(id, groups) {
  const names = new Map();
  for (const g of groups || []) if (g && g.jid && g.name) names.set(g.jid, g.name);
  groupNameCache.set(id, { at: Date.now(), names });
  return names;
}

/** A group renamed from the page: its new name shows before the next discovery stores it. */
export function renameGroup(id, jid, name) {
  const cached = groupNameCache.get(id);
  if (cached) cached.names.set(jid, name);
}

/** jid -> name of the instance's known groups: one listing (up to 5 pages of 100), reused for a minute. */
export async function groupNames(id) {
  const cached = groupNameCache.get(id);
  if (cached && Date.now() - cached.at < GROUP_NAMES_MS) return cached.names;
  const groups = await allPages(`/instances/${enc(id)}/groups`, "groups", { maxPages: 5 });
  return rememberGroups(id, groups);
}
