// Requests to the phone (docs/requests.md) that have a form on the instance page: block / unblock and the
// blocklist, this account's presence and profile (push name, about), looking up a contact (user info and profile
// picture); joining a group by its invite link; and, in
// a group's info, its name, description and settings (only admins send, info locked), leaving it (with a
// confirmation), its invite link (get, reset) and participants (add, remove, promote, demote, each one's outcome
// shown). Each call waits for the phone's answer (a few seconds); its errors (instance_disconnected,
// instance_timeout, …) go to the banner.
import { api, enc } from "./api.js";
import { empty, h, loading, mount } from "./dom.js";
import { jidPhone } from "./instances.js";

const PARTICIPANT_ACTIONS = [["add", "Add"], ["remove", "Remove"], ["promote", "Promote to admin"], ["demote", "Demote"]];

/** Fill `card` with the account's own requests: blocklist, presence, profile, and a contact's info and picture. */
export function phoneCard(card, id, ctx) {
  const status = h("p", { class: "muted small", role: "status", "data-testid": "phone-status" });
  const blockNumber = h("input", { id: "block-number", "data-testid": "block-number", placeholder: "5511988887777",
                                   autocomplete: "off", inputmode: "tel" });
  const blocklist = h("ul", { class: "plain", "data-testid": "blocklist" });
  const pushName = h("input", { id: "profile-name", "data-testid": "profile-name", maxlength: "25", placeholder: "Loja Aurora",
                                autocomplete: "off" });
  const about = h("input", { id: "profile-about", "data-testid": "profile-about", maxlength: "139", placeholder: "Atendimento 9h–18h",
                             autocomplete: "off" });
  const lookupContact = h("input", { id: "contact-lookup-input", "data-testid": "contact-lookup-input", placeholder: "5511988887777",
                                     autocomplete: "off", inputmode: "tel" });
  const lookupResult = h("div", { "data-testid": "contact-lookup-result" });
  let lookups = 0; // the newest lookup's number: an older one answering late is dropped

  mount(card, h("h2", {}, "On the phone"), h("div", { class: "stack roomy" },
    h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); lookUp(); } },
      h("label", { for: "contact-lookup-input" }, "Look up a contact (number or JID): name, about, profile picture"),
      h("div", { class: "row" }, lookupContact, h("button", { type: "submit", "data-testid": "contact-lookup-submit" }, "Look up"))),
    lookupResult,
    h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); block("block"); } },
      h("label", { for: "block-number" }, "Block a contact (they can no longer message or call)"), blockNumber,
      h("div", { class: "row" },
        h("button", { type: "submit", "data-testid": "block-submit" }, "Block"),
        h("button", { type: "button", class: "secondary", "data-testid": "unblock-submit", onclick: () => block("unblock") }, "Unblock"),
        h("button", { type: "button", class: "secondary", "data-testid": "blocklist-load", onclick: loadBlocklist }, "Show blocklist"))),
    blocklist,
    h("div", { class: "stack" }, h("label", {}, "Presence"),
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", "data-testid": "presence-available", onclick: () => presence("available"),
                      title: "Contacts see it online; the phone stops getting notifications meanwhile" }, "Online"),
        h("button", { type: "button", class: "secondary", "data-testid": "presence-unavailable", onclick: () => presence("unavailable") }, "Offline"))),
    h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); profile("name", { name: pushName.value.trim() }, "Name"); } },
      h("label", { for: "profile-name" }, "Profile name (shown to people who have not saved the number)"),
      h("div", { class: "row" }, pushName, h("button", { type: "submit", "data-testid": "profile-name-submit" }, "Save"))),
    h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); profile("about", { about: about.value }, "About"); } },
      h("label", { for: "profile-about" }, "About (empty clears it)"),
      h("div", { class: "row" }, about, h("button", { type: "submit", "data-testid": "profile-about-submit" }, "Save"))),
    status));

  async function ask(what, call) {
    status.textContent = `${what}: asking the phone…`;
    try {
      const answer = await call();
      ctx.showError(null);
      status.textContent = `${what}: done`;
      return answer;
    } catch (err) {
      status.textContent = `${what}: failed`;
      ctx.showError(err);
      return null;
    }
  }

  async function block(action) {
    const contact = blockNumber.value.trim();
    if (!contact) { ctx.showError("Type the contact's number (with its country code)"); return; }
    const answer = await ask(action === "block" ? "Block" : "Unblock",
      () => api(`/instances/${enc(id)}/contacts/${enc(contact)}/${action}`, { method: "POST" }));
    if (answer) showBlocklist(answer.jids);
  }

  async function loadBlocklist() {
    mount(blocklist, loading("Asking the phone…"));
    const answer = await ask("Blocklist", () => api(`/instances/${enc(id)}/blocklist`));
    if (answer) showBlocklist(answer.jids); else mount(blocklist);
  }

  function showBlocklist(jids) {
    mount(blocklist, jids.length ? [h("li", { class: "muted small" }, "Blocked:"),
      jids.map((jid) => h("li", { "data-testid": "blocked", "data-jid": jid }, jidPhone(jid)))]
      : h("li", {}, empty("Nobody is blocked.")));
  }

  /** User info and profile picture, asked at once; the info's error (e.g. not_on_whatsapp) goes to the banner. */
  async function lookUp() {
    const contact = lookupContact.value.trim();
    if (!contact) { ctx.showError("Type the contact's number (with its country code) or JID"); return; }
    const turn = ++lookups;
    const path = `/instances/${enc(id)}/contacts/${enc(contact)}`;
    status.textContent = "Look up: asking the phone…";
    mount(lookupResult, loading("Asking the phone…"));
    const [info, picture] = await Promise.allSettled([api(`${path}/info`), api(`${path}/picture`)]);
    if (turn !== lookups) return;
    if (info.status === "rejected") {
      mount(lookupResult);
      status.textContent = "Look up: failed";
      ctx.showError(info.reason);
      return;
    }
    ctx.showError(picture.status === "rejected" ? picture.reason : null);
    status.textContent = "Look up: done";
    mount(lookupResult, contactInfo(info.value, picture));
  }

  function presence(state) {
    ask(state === "available" ? "Online" : "Offline",
      () => api(`/instances/${enc(id)}/presence`, { method: "POST", body: { state } }));
  }

  function profile(field, body, label) {
    ask(label, () => api(`/instances/${enc(id)}/profile/${field}`, { method: "PUT", body }));
  }
}

/**
 * What `GET …/contacts/{n}/info` answered, and the picture (a settled `…/picture`). Every value is text: push
 * names and about texts are written by strangers. The picture is a link, not an <img>: it is on WhatsApp's CDN,
 * which the console's CSP (img-src: itself, data:, blob: and the media bucket) does not load images from.
 */
function contactInfo(info, picture) {
  const row = (label, value, testid, none) => [h("dt", {}, label),
    h("dd", { "data-testid": testid, class: value ? null : "muted" }, value || none)];
  let pictureValue;
  if (picture.status === "rejected") {
    const err = picture.reason;
    const why = err && err.describe ? err.describe() : String((err && err.message) || err);
    pictureValue = h("span", { class: "danger" }, `could not be read: ${why}`);
  } else if (picture.value.url && /^https:\/\//i.test(picture.value.url)) {
    pictureValue = [h("a", { href: picture.value.url, target: "_blank", rel: "noopener noreferrer", "data-testid": "contact-picture" },
      picture.value.url), h("span", { class: "muted small" }, " (on WhatsApp's CDN; the link expires soon)")];
  } else {
    pictureValue = h("span", { class: "muted" },
      picture.value.url ? `not an https link: ${picture.value.url}` : "none, or hidden by their privacy settings");
  }
  return h("dl", { class: "kv", "data-testid": "contact-info", "data-jid": info.jid },
    row("Number", info.jid.endsWith("@s.whatsapp.net") ? jidPhone(info.jid) : info.jid, "contact-jid", ""),
    info.lid && row("LID", info.lid, "contact-lid", ""),
    row("Name", info.push_name, "contact-push-name", "not known (WhatsApp sends it with their messages)"),
    info.business_name && row("Business name", info.business_name, "contact-business-name", ""),
    info.verified_name && row("Verified name", info.verified_name, "contact-verified-name", ""),
    row("About", info.about, "contact-about", "none, or hidden by their privacy settings"),
    h("dt", {}, "Picture"), h("dd", {}, pictureValue));
}

/** Join a group by its invite link (or code); `onJoined(jid)` after the phone joined. */
export function groupJoinForm(id, ctx, onJoined) {
  const link = h("input", { id: "group-join-link", "data-testid": "group-join-link", placeholder: "https://chat.whatsapp.com/…",
                            autocomplete: "off", spellcheck: "false" });
  const result = h("p", { class: "muted small", role: "status", "data-testid": "group-join-result" });
  const submit = h("button", { type: "submit", class: "secondary", "data-testid": "group-join-submit" }, "Join");
  return h("form", { class: "stack", onsubmit: join },
    h("label", { for: "group-join-link" }, "Join a group by its invite link"),
    h("div", { class: "row" }, link, submit), result);

  async function join(event) {
    event.preventDefault();
    const value = link.value.trim();
    if (!value) return;
    submit.disabled = true;
    result.textContent = "Asking the phone…";
    try {
      const answer = await api(`/instances/${enc(id)}/groups/join`, { method: "POST", body: { link: value } });
      ctx.showError(null);
      link.value = "";
      result.textContent = `Joined ${answer.jid}: it joins the list at the next discovery (asked now).`;
      onJoined(answer.jid);
    } catch (err) { result.textContent = ""; ctx.showError(err); }
    finally { submit.disabled = false; }
  }
}

/**
 * A group's tools, for its info box: name, description, settings, leave; invite link; participants ("Info"
 * again shows the new participant list). `onChanged({name} | {left: true})` after a rename or a leave.
 */
export function groupTools(id, g, ctx, onChanged = () => {}) {
  const group = `/instances/${enc(id)}/groups/${enc(g.jid)}`;
  const status = h("p", { class: "muted small", role: "status", "data-testid": "group-status" });
  const name = h("input", { "data-testid": "group-rename-input", value: g.name || "", maxlength: "100", "aria-label": "Group name",
                            autocomplete: "off" });
  const description = h("textarea", { "data-testid": "group-description-input", rows: "2", maxlength: "2048",
                                      "aria-label": "Description (empty removes it)", placeholder: "Description (empty removes it)" });
  description.value = g.description || "";
  const announce = h("input", { type: "checkbox", id: `group-announce-${g.jid}`, "data-testid": "group-announce" });
  const locked = h("input", { type: "checkbox", id: `group-locked-${g.jid}`, "data-testid": "group-locked" });
  announce.checked = Boolean(g.announce);
  locked.checked = Boolean(g.locked);
  const confirmLeave = h("span", { class: "confirm", hidden: true }, "Leave this group?",
    h("button", { type: "button", class: "danger small", "data-testid": "group-leave-confirm", onclick: leave }, "Leave"),
    h("button", { type: "button", class: "secondary small", onclick: () => { confirmLeave.hidden = true; } }, "Cancel"));
  const link = h("input", { type: "text", readonly: true, class: "secret", "data-testid": "group-invite-link", hidden: true,
                            "aria-label": "Invite link" });
  const confirmReset = h("span", { class: "confirm", hidden: true }, "The current link stops working.",
    h("button", { type: "button", class: "danger small", "data-testid": "group-invite-reset-confirm", onclick: () => invite(true) }, "Reset"),
    h("button", { type: "button", class: "secondary small", onclick: () => { confirmReset.hidden = true; } }, "Cancel"));
  const action = h("select", { "data-testid": "group-participants-action", "aria-label": "Action" },
    PARTICIPANT_ACTIONS.map(([value, label]) => h("option", { value }, label)));
  const numbers = h("input", { "data-testid": "group-participants-input", placeholder: "5511988887777, …", autocomplete: "off",
                               "aria-label": "Participants" });
  const outcome = h("ul", { class: "plain", "data-testid": "group-participants-result", role: "status" });

  /** One change asked of the phone; its outcome in the status line, its error in the banner. */
  async function change(what, call) {
    status.textContent = `${what}: asking the phone…`;
    try {
      const answer = await call();
      ctx.showError(null);
      status.textContent = `${what}: done`;
      return answer || true;
    } catch (err) {
      status.textContent = `${what}: failed`;
      ctx.showError(err);
      return null;
    }
  }

  async function rename(event) {
    event.preventDefault();
    const value = name.value.trim();
    if (!value) { ctx.showError("Give the group a name (1 to 100 characters)"); return; }
    if (await change("Rename", () => api(`${group}/name`, { method: "PUT", body: { name: value } }))) onChanged({ name: value });
  }

  function describe(event) {
    event.preventDefault();
    change("Description", () => api(`${group}/description`, { method: "PUT", body: { description: description.value } }));
  }

  async function setting(box, field, label) {
    box.disabled = true;
    const done = await change(label, () => api(`${group}/settings`, { method: "PUT", body: { [field]: box.checked } }));
    if (!done) box.checked = !box.checked;
    box.disabled = false;
  }
  announce.addEventListener("change", () => setting(announce, "announce", "Only admins send"));
  locked.addEventListener("change", () => setting(locked, "locked", "Only admins edit the info"));

  async function leave() {
    confirmLeave.hidden = true;
    if (await change("Leave", () => api(`${group}/leave`, { method: "POST" }))) onChanged({ left: true });
  }

  async function invite(reset) {
    confirmReset.hidden = true;
    try {
      const answer = await api(reset ? `${group}/invite-link/reset` : `${group}/invite-link`, reset ? { method: "POST" } : {});
      ctx.showError(null);
      link.value = answer.link;
      link.hidden = false;
    } catch (err) { ctx.showError(err); }
  }

  async function participants(event) {
    event.preventDefault();
    const list = numbers.value.split(/[,;\s]+/).filter(Boolean);
    if (!list.length) return;
    mount(outcome, h("li", {}, loading("Asking the phone…")));
    try {
      const answer = await api(`${group}/participants`, { method: "POST", body: { action: action.value, participants: list } });
      ctx.showError(null);
      numbers.value = "";
      mount(outcome, answer.participants.map((p) => h("li", { "data-ok": String(p.ok), class: p.ok ? "" : "danger" },
        `${jidPhone(p.jid)}: ${p.ok ? "done" : p.error || "refused"}`)));
    } catch (err) { mount(outcome); ctx.showError(err); }
  }

  return h("div", { class: "stack group-tools" },
    h("form", { class: "row", onsubmit: rename }, name,
      h("button", { type: "submit", class: "small", "data-testid": "group-rename-submit" }, "Rename")),
    h("form", { class: "stack tight", onsubmit: describe }, description,
      h("div", { class: "row" }, h("button", { type: "submit", class: "small", "data-testid": "group-description-submit" }, "Save description"))),
    h("div", { class: "check" }, announce, h("label", { for: announce.id }, "Only admins send messages")),
    h("div", { class: "check" }, locked, h("label", { for: locked.id }, "Only admins edit the group's info")),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary small", "data-testid": "group-invite-get", onclick: () => invite(false) }, "Invite link"),
      h("button", { type: "button", class: "secondary small", "data-testid": "group-invite-reset", onclick: () => { confirmReset.hidden = false; } },
        "Reset link…"),
      confirmReset),
    link,
    h("form", { class: "row", onsubmit: participants }, action, numbers,
      h("button", { type: "submit", class: "small", "data-testid": "group-participants-submit" }, "Apply")),
    outcome,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary small", "data-testid": "group-leave", onclick: () => { confirmLeave.hidden = false; } },
        "Leave group…"),
      confirmLeave),
    status);
}
