// #/instances/<id>: status and uptime, linking (QR / pairing code, live), settings, commands, chats (groups by
// name; a new chat), groups (monitor, create, join by invite link, info; rename, description, settings, leave,
// invite link and participants from phone.js), check numbers, the account's requests to the phone (phone.js),
// automations (automations.js) and the audit log.
import { ApiError, allPages, api, enc, live } from "./api.js";
import { empty, fmtDuration, fmtTime, h, loading, mount, statusPill } from "./dom.js";
import { jidPhone } from "./instances.js";
import { conversationsList } from "./chat.js";
import { rememberGroups, renameGroup } from "./chat_tools.js";
import { automationsCard } from "./automations.js";
import { groupJoinForm, groupTools, phoneCard } from "./phone.js";

const COMMANDS = [
  ["refresh_qr", "Refresh QR", "Reopen the session: a fresh QR when not linked (keys kept)"],
  ["restart", "Restart", "Close and reopen the WhatsApp session"],
  ["fetch_groups", "Fetch groups", "List the account's groups into the groups below"],
  ["logout", "Log out", "Unlink the device and wipe its keys: a new QR follows"],
];

export function render(root, { id }, ctx) {
  let instance = null;
  let disposed = false;
  let loadedAt = 0;
  let connectedSince = null;
  const timers = [];

  const title = h("h1", {}, "Instance");
  const statusSlot = h("span", { "data-testid": "instance-page-status" }, "…");
  const account = h("span", { class: "muted" });
  const uptime = h("span", { class: "muted", title: "Connected for" });
  const linkCard = h("section", { class: "card", hidden: true });
  const overview = h("dl", { class: "kv" });
  const settingsCard = h("section", { class: "card" });
  const commandsCard = h("section", { class: "card" });
  const chatsCard = h("section", { class: "card" });
  const groupsCard = h("section", { class: "card" });
  const checkCard = h("section", { class: "card" });
  const automationsSection = h("section", { class: "card wide", "data-testid": "automations-card" });
  const phoneSection = h("section", { class: "card", "data-testid": "phone-card" });
  const auditCard = h("section", { class: "card wide" });

  mount(root,
    h("p", { class: "small" }, h("a", { href: "#/instances" }, "← Instances")),
    h("div", { class: "page-head" }, h("div", { class: "stack" }, title, h("div", { class: "row" }, statusSlot, account, uptime))),
    linkCard,
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h2", {}, "Overview"), overview),
      chatsCard, commandsCard, settingsCard, checkCard, groupsCard, phoneSection, automationsSection, auditCard));

  // ---------------------------------------------------------------- the instance
  async function load() {
    loadedAt = Date.now();
    try {
      instance = await api(`/instances/${enc(id)}`);
      if (disposed) return;
      show();
    } catch (err) {
      if (disposed) return;
      ctx.showError(err);
      if (err instanceof ApiError && err.status === 404) mount(root, empty("No such instance (deleted?)."), h("a", { href: "#/instances" }, "Back to the instances"));
    }
  }

  function show() {
    title.textContent = instance.name;
    mount(statusSlot, statusPill(instance.status));
    account.textContent = instance.wa_jid ? `${instance.push_name || ""} ${jidPhone(instance.wa_jid)}`.trim() : "not linked";
    showLinking();
    showSettings();
    if (instance.status === "CONNECTED") loadMetrics(); else { connectedSince = null; tick(); overviewRows(null); }
  }

  // ---------------------------------------------------------------- linking
  const qrBox = h("div", { class: "qr" });
  const pairingPhone = h("input", { id: "pairing-phone", "data-testid": "pairing-phone", inputmode: "numeric",
                                    placeholder: "5511999990000", pattern: "[0-9]{8,15}", autocomplete: "off" });
  const pairingCode = h("span", { class: "pairing-code", "data-testid": "pairing-code" });
  const pairingNote = h("span", { class: "muted small", role: "status" });
  const pairingBox = h("p", { class: "pairing", hidden: true }, pairingNote, pairingCode);
  const pairingForm = h("form", { class: "inline-form", onsubmit: askPairingCode },
    h("label", { for: "pairing-phone" }, "Or link with a phone number"), pairingPhone,
    h("button", { type: "submit", "data-testid": "pairing-submit" }, "Get pairing code"));

  function showLinking() {
    const linked = instance.status === "CONNECTED";
    linkCard.hidden = linked || !instance.enabled;
    if (linkCard.hidden) return;
    if (!linkCard.firstChild) {
      mount(linkCard, h("h2", {}, "Link a phone"),
        h("p", { class: "muted small" },
          "On the phone: WhatsApp → Settings → Linked devices → Link a device, and scan. The QR changes every few seconds; ",
          "this page shows each new one and turns CONNECTED by itself."),
        qrBox, pairingForm, pairingBox);
    }
    showQr(instance.qr_code, instance.pairing_code);
  }

  function showQr(qr, code) {
    if (qr && /^data:image\//.test(qr)) {
      let img = qrBox.querySelector("img");
      if (!img) {
        img = h("img", { alt: "WhatsApp QR code to scan", "data-testid": "qr-image" });
        mount(qrBox, img);
      }
      img.src = qr; // a data: URL (img-src allows data:)
    } else {
      mount(qrBox, loading(instance.status === "DISCONNECTED" ? "Waiting for a sidecar to open the session…" : "Waiting for the QR…"));
    }
    if (code) {
      pairingBox.hidden = false;
      pairingNote.textContent = "On the phone: Linked devices → Link with phone number instead, and type";
      pairingCode.textContent = code;
      pairingCode.hidden = false;
    } else if (!pairingNote.dataset.asking) {
      pairingBox.hidden = true;
    }
  }

  async function askPairingCode(event) {
    event.preventDefault();
    const phone = pairingPhone.value.replace(/\D/g, "");
    if (!/^\d{8,15}$/.test(phone)) { ctx.showError("Type the number with its country code, digits only (8 to 15)"); return; }
    try {
      await api(`/instances/${enc(id)}/commands`, { method: "POST", body: { type: "pairing_code", phone } });
      ctx.showError(null);
      pairingBox.hidden = false;
      pairingCode.hidden = true;
      pairingNote.dataset.asking = "1";
      pairingNote.textContent = "Asking WhatsApp for a pairing code…";
    } catch (err) { ctx.showError(err); }
  }

  // ---------------------------------------------------------------- overview and uptime
  async function loadMetrics() {
    try {
      const metrics = await api(`/instances/${enc(id)}/metrics?hours=24`);
      if (disposed) return;
      connectedSince = metrics.connection && metrics.connection.connected_since;
      overviewRows(metrics);
      tick();
    } catch (err) { if (!disposed) ctx.showError(err); }
  }

  function overviewRows(metrics) {
    const rows = [
      ["Id", instance.id], ["Status", instance.status],
      ["Account", instance.wa_jid ? jidPhone(instance.wa_jid) : "—"], ["Push name", instance.push_name || "—"],
      ["Enabled", instance.enabled ? "yes" : "no"], ["Priority", String(instance.priority)],
      ["Created", fmtTime(instance.created_at)],
    ];
    if (metrics) {
      const t = metrics.totals || {};
      rows.push(["Connected since", metrics.connection.connected_since ? fmtTime(metrics.connection.connected_since) : "—"],
        ["Held by a sidecar", metrics.connection.held ? "yes" : "no (status may be stale)"],
        ["Last 24 h", `${t.sent || 0} sent · ${t.failed || 0} failed · ${t.pending || 0} pending · ${t.received || 0} received`],
        ["Send queue", `${metrics.queue.depth} waiting`]);
    }
    mount(overview, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function tick() {
    if (connectedSince && instance && instance.status === "CONNECTED") {
      uptime.textContent = `up ${fmtDuration(Date.now() - new Date(connectedSince).getTime())}`;
    } else uptime.textContent = "";
  }
  timers.push(setInterval(tick, 1000));

  // ---------------------------------------------------------------- settings
  function showSettings() {
    const name = h("input", { value: instance.name, maxlength: "100", "aria-label": "Name" });
    const priority = h("input", { type: "number", value: String(instance.priority), "aria-label": "Priority", class: "narrow" });
    const enabled = h("input", { type: "checkbox", id: "instance-enabled", "data-testid": "instance-enabled" });
    enabled.checked = Boolean(instance.enabled);
    const confirm = h("span", { class: "confirm", hidden: true }, "Delete this instance?",
      h("button", { type: "button", class: "danger small", "data-testid": "instance-delete-confirm", onclick: remove }, "Delete"),
      h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    mount(settingsCard, h("h2", {}, "Settings"),
      h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); patch({ name: name.value.trim(), priority: Number(priority.value) }); } },
        h("label", {}, "Name"), name,
        h("label", {}, "Priority (higher runs first when sidecars are short)"), priority,
        h("div", { class: "row" }, h("button", { type: "submit", "data-testid": "instance-save" }, "Save"))),
      h("div", { class: "check" }, enabled, h("label", { for: "instance-enabled" }, "Enabled (a disabled instance is not run by any sidecar)")),
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", "data-testid": "instance-delete", onclick: () => { confirm.hidden = false; } }, "Delete…"),
        confirm));
    enabled.addEventListener("change", () => patch({ enabled: enabled.checked }));
  }

  async function patch(changes) {
    try {
      instance = await api(`/instances/${enc(id)}`, { method: "PATCH", body: changes });
      ctx.showError(null);
      show();
    } catch (err) { ctx.showError(err); }
  }

  async function remove() {
    try {
      await api(`/instances/${enc(id)}`, { method: "DELETE" });
      ctx.navigate("#/instances");
    } catch (err) { ctx.showError(err); }
  }

  // ---------------------------------------------------------------- commands
  const commandResult = h("p", { class: "muted small", role: "status" });
  mount(commandsCard, h("h2", {}, "Commands"),
    h("div", { class: "row" }, COMMANDS.map(([type, label, help]) =>
      h("button", { type: "button", class: "secondary", title: help, "data-testid": `command-${type}`,
                    onclick: () => command(type, label) }, label))),
    commandResult,
    h("p", { class: "muted small" }, "A command reaches the sidecar holding the instance within seconds; its result lands in the audit log."));

  async function command(type, label) {
    try {
      const accepted = await api(`/instances/${enc(id)}/commands`, { method: "POST", body: { type } });
      ctx.showError(null);
      commandResult.textContent = `${label}: ${accepted.status}`;
      setTimeout(() => { if (!disposed) { loadAudit(); if (type === "fetch_groups") loadGroups(); } }, 2500);
    } catch (err) { ctx.showError(err); }
  }

  // ---------------------------------------------------------------- chats and a new chat
  const chatsList = h("div", { class: "list", "data-testid": "chats-list" }, loading());
  const sendTo = h("input", { id: "send-to", "data-testid": "send-to", placeholder: "5511988887777", autocomplete: "off",
                              "aria-label": "To (phone number or group id)" });
  const sendText = h("textarea", { "data-testid": "send-text", rows: "2", placeholder: "Message", "aria-label": "Message" });
  mount(chatsCard, h("h2", {}, "Chats"),
    h("form", { class: "stack", onsubmit: newChat },
      h("label", { for: "send-to" }, "New chat: to"), sendTo, sendText,
      h("div", { class: "row" }, h("button", { type: "submit", "data-testid": "send-submit" }, "Send"))),
    chatsList);

  let conversations = null;
  let groupNames = new Map(); // jid -> name, from the groups listing below (the conversations carry no group name)
  async function loadChats() {
    try {
      const data = await api(`/instances/${enc(id)}/conversations?limit=50`);
      if (disposed) return;
      conversations = data.conversations;
      conversationsList(chatsList, id, conversations, null, groupNames);
    } catch (err) { if (!disposed) { ctx.showError(err); mount(chatsList, empty("Could not load the chats.")); } }
  }

  async function newChat(event) {
    event.preventDefault();
    const to = sendTo.value.trim();
    const body = sendText.value;
    if (!to || !body.trim()) { ctx.showError("Give a recipient and a message"); return; }
    try {
      await api(`/instances/${enc(id)}/messages`, { method: "POST", body: { to, body } });
      ctx.showError(null);
      sendText.value = "";
      ctx.navigate(`#/instances/${enc(id)}/chats/${enc(to.includes("@") ? to : to.replace(/\D/g, ""))}`);
    } catch (err) { ctx.showError(err); }
  }

  // ---------------------------------------------------------------- groups
  const groupsList = h("div", { class: "scroll" }, loading());
  const groupInfo = h("div", { class: "small" });
  const groupName = h("input", { placeholder: "Group name", maxlength: "100", "aria-label": "Group name" });
  const groupMembers = h("input", { placeholder: "Participants: 5511988887777, …", "aria-label": "Participants" });
  mount(groupsCard, h("h2", {}, "Groups"),
    groupsList,
    h("form", { class: "stack", onsubmit: createGroup }, h("label", {}, "Create a group"), groupName, groupMembers,
      h("div", { class: "row" }, h("button", { type: "submit", "data-testid": "group-create-submit" }, "Create group"))),
    groupJoinForm(id, ctx, () => rediscover()),
    groupInfo);

  async function loadGroups() {
    try {
      const groups = await allPages(`/instances/${enc(id)}/groups`, "groups", { maxPages: 5 });
      if (disposed) return;
      groupNames = rememberGroups(id, groups); // the chat list, here and on a chat's page, names groups
      if (conversations) conversationsList(chatsList, id, conversations, null, groupNames);
      if (!groups.length) { mount(groupsList, empty("No groups known: run “Fetch groups”.")); return; }
      mount(groupsList, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Group"), h("th", { class: "nowrap" }, "Monitor"), h("th", {}, ""))),
        h("tbody", {}, groups.map((g) => {
          const toggle = h("input", { type: "checkbox", "aria-label": `Monitor ${g.name}`, "data-testid": "group-monitor" });
          toggle.checked = Boolean(g.monitor);
          toggle.addEventListener("change", async () => {
            try { await api(`/instances/${enc(id)}/groups/${enc(g.jid)}`, { method: "PATCH", body: { monitor: toggle.checked } }); ctx.showError(null); }
            catch (err) { toggle.checked = !toggle.checked; ctx.showError(err); }
          });
          return h("tr", { "data-group-jid": g.jid },
            h("td", {}, h("div", { class: "group-name" }, g.name || g.jid), h("div", { class: "muted small" }, g.jid)),
            h("td", {}, toggle),
            h("td", { class: "nowrap" }, h("button", { type: "button", class: "secondary small", onclick: () => showGroup(g.jid) }, "Info")));
        }))));
    } catch (err) { if (!disposed) { mount(groupsList, empty("Could not load the groups.")); ctx.showError(err); } }
  }

  async function showGroup(jid) {
    mount(groupInfo, loading("Asking the phone…"));
    try {
      const g = await api(`/instances/${enc(id)}/groups/${enc(jid)}`);
      if (disposed) return;
      mount(groupInfo, groupView(g));
      ctx.showError(null);
    } catch (err) { mount(groupInfo); ctx.showError(err); }
  }

  /** The stored list changes at a discovery: after a rename, a leave or a join, ask for one (as "Fetch groups"). */
  async function rediscover() {
    try {
      await api(`/instances/${enc(id)}/commands`, { method: "POST", body: { type: "fetch_groups" } });
      setTimeout(() => { if (!disposed) loadGroups(); }, 2500);
    } catch (err) { ctx.showError(err); }
  }

  function groupChanged(jid, change) {
    if (change.name) {
      renameGroup(id, jid, change.name);
      groupNames.set(jid, change.name);
      if (conversations) conversationsList(chatsList, id, conversations, null, groupNames);
      const row = groupsList.querySelector(`tr[data-group-jid="${CSS.escape(jid)}"] .group-name`);
      if (row) row.textContent = change.name;
      const shown = groupInfo.querySelector('[data-testid="group-info-name"]');
      if (shown) shown.textContent = change.name;
    }
    if (change.left) mount(groupInfo);
    if (change.name || change.left) rediscover();
  }

  function groupView(g) {
    return h("div", { class: "stack" },
      h("strong", { "data-testid": "group-info-name" }, g.name), g.description ? h("p", { class: "body" }, g.description) : null,
      h("span", { class: "muted" }, `${g.jid} · ${g.announce ? "only admins send" : "everyone sends"} · ${g.locked ? "info locked" : "info open"}`),
      h("ul", {}, (g.participants || []).map((p) =>
        h("li", {}, jidPhone(p.phone_jid || p.jid), p.is_super_admin ? " (creator)" : p.is_admin ? " (admin)" : ""))),
      (g.not_added || []).length ? h("p", { class: "muted" }, `Not added: ${g.not_added.map((p) => `${jidPhone(p.jid || "")} ${p.reason || p.error || ""}`).join(", ")}`) : null,
      groupTools(id, g, ctx, (change) => groupChanged(g.jid, change)));
  }

  async function createGroup(event) {
    event.preventDefault();
    const name = groupName.value.trim();
    if (!name) return;
    const participants = groupMembers.value.split(/[,;\s]+/).filter(Boolean);
    mount(groupInfo, loading("Creating the group on the phone…"));
    try {
      const g = await api(`/instances/${enc(id)}/groups`, { method: "POST", body: { name, participants } });
      groupName.value = ""; groupMembers.value = "";
      mount(groupInfo, groupView(g));
      loadGroups(); // the new group joins the list (its monitor toggle)
      ctx.showError(null);
    } catch (err) { mount(groupInfo); ctx.showError(err); }
  }

  // ---------------------------------------------------------------- check numbers
  const checkInput = h("input", { id: "check-number-input", "data-testid": "check-number-input", placeholder: "5511988887777, 5511977776666",
                                  autocomplete: "off" });
  const checkResult = h("div", { "data-testid": "check-number-result", role: "status" });
  mount(checkCard, h("h2", {}, "Check numbers"),
    h("form", { class: "inline-form", onsubmit: checkNumbers }, h("label", { for: "check-number-input" }, "Numbers"), checkInput,
      h("button", { type: "submit", "data-testid": "check-number-submit" }, "Check")),
    checkResult);

  async function checkNumbers(event) {
    event.preventDefault();
    const numbers = checkInput.value.split(/[,;\n]+/).map((n) => n.trim()).filter(Boolean);
    if (!numbers.length) return;
    mount(checkResult, loading("Asking WhatsApp…"));
    try {
      const data = await api(`/instances/${enc(id)}/contacts/check`, { method: "POST", body: { numbers } });
      ctx.showError(null);
      mount(checkResult, h("ul", {}, data.numbers.map((n) =>
        h("li", { "data-exists": String(n.exists) }, `${n.number}: `, n.exists ? `on WhatsApp (${n.jid || n.lid || ""})` : "not on WhatsApp"))));
    } catch (err) { mount(checkResult); ctx.showError(err); }
  }

  // ---------------------------------------------------------------- automations and requests to the phone
  const automations = automationsCard(automationsSection, id, ctx);
  phoneCard(phoneSection, id, ctx);

  // ---------------------------------------------------------------- audit log
  async function loadAudit() {
    try {
      const data = await api(`/instances/${enc(id)}/audit?limit=30`);
      if (disposed) return;
      mount(auditCard, h("h2", {}, "Audit log"), data.events.length ? h("div", { class: "scroll" }, h("table", {}, h("tbody", {},
        data.events.map((e) => h("tr", {}, h("td", { class: "muted" }, fmtTime(e.at)), h("td", { class: "nowrap" }, e.event),
          h("td", { class: "small" }, detailText(e.detail))))))) : empty("Nothing yet."));
    } catch (err) { if (!disposed) ctx.showError(err); }
  }

  // ---------------------------------------------------------------- live
  let chatsTimer = null;
  const unsubscribe = live.subscribe((event) => {
    if (event.type === "LIVE_CONNECTED") { if (loadedAt && loadedAt < event.at) { load(); loadChats(); } return; }
    if (event.instanceId !== id || !instance) return;
    const payload = event.payload || {};
    if (event.type === "INSTANCE_QR") {
      if (payload.status) instance.status = payload.status;
      instance.qr_code = payload.qr ?? instance.qr_code;
      instance.pairing_code = payload.pairingCode ?? instance.pairing_code;
      mount(statusSlot, statusPill(instance.status));
      showLinking();
    } else if (event.type === "INSTANCE_STATUS") {
      load(); // the account, QR and uptime change with it
      loadAudit();
    } else if (event.type === "GROUP_UPDATED" || event.type === "GROUP_PARTICIPANTS_CHANGED") {
      loadGroups(); // a tracked group's new name is stored with the event
    } else if (event.type.startsWith("MESSAGE_")) {
      clearTimeout(chatsTimer);
      chatsTimer = setTimeout(loadChats, 400);
    }
  });

  live.whenOpen().then(() => { if (!disposed) { load(); loadChats(); } }); // read after the socket opens
  loadGroups();
  automations.load();
  loadAudit();
  return () => { disposed = true; automations.dispose(); unsubscribe(); timers.forEach(clearInterval); clearTimeout(chatsTimer); };
}

function detailText(detail) {
  return Object.entries(detail || {})
    .map(([key, value]) => `${key}: ${value !== null && typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" · ");
}
