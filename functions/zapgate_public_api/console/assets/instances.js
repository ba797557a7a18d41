// #/instances: every instance of the tenant from ONE list call (limit 100; "Load more" follows the cursor),
// statuses kept live by the WebSocket; create and delete (with a confirmation).
import { api, enc, live } from "./api.js";
import { empty, fmtTime, h, loading, mount, statusPill } from "./dom.js";

const PAGE = 100;

export function render(root, _params, ctx) {
  const rows = new Map(); // instance id -> {row, instance}
  let nextCursor = null;
  let disposed = false;

  const list = h("div", { class: "list", "data-testid": "instances-list", "aria-live": "polite" }, loading());
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(true) }, "Load more");
  const name = h("input", { id: "create-instance-name", "data-testid": "create-instance-name", required: true,
                            maxlength: "100", placeholder: "support", autocomplete: "off" });
  const create = h("form", { class: "inline-form", onsubmit: onCreate },
    h("label", { for: "create-instance-name" }, "New instance"), name,
    h("button", { type: "submit", "data-testid": "create-instance-submit" }, "Create"));

  mount(root, h("div", { class: "page-head" }, h("h1", {}, "Instances"), create), list, more);

  let loadedAt = 0;
  async function load(append = false) {
    if (!append) loadedAt = Date.now();
    try {
      const data = await api(`/instances?limit=${PAGE}${append && nextCursor ? `&cursor=${enc(nextCursor)}` : ""}`);
      if (disposed) return;
      if (!append) { rows.clear(); mount(list); }
      for (const instance of data.instances) addRow(instance, false);
      nextCursor = data.next_cursor;
      more.hidden = !nextCursor;
      if (!rows.size) mount(list, empty("No instances yet: create one above, then link a phone to it."));
    } catch (err) {
      if (!disposed) { ctx.showError(err); if (!rows.size) mount(list, empty("Could not load the instances.")); }
    }
  }

  function addRow(instance, first) {
    const row = h("div", { class: "row-item", "data-testid": "instance-row", "data-instance-id": instance.id });
    const entry = { row, instance };
    rows.set(instance.id, entry);
    fill(entry);
    if (first) list.prepend(row); else list.appendChild(row);
  }

  function fill(entry) {
    const { row, instance } = entry;
    const confirmBox = h("span", { class: "confirm", hidden: true },
      h("span", {}, "Delete it and its settings?"),
      h("button", { type: "button", class: "danger small", "data-testid": "instance-delete-confirm",
                    onclick: () => remove(entry) }, "Delete"),
      h("button", { type: "button", class: "secondary small", onclick: () => { confirmBox.hidden = true; } }, "Cancel"));
    mount(row,
      h("div", { class: "row-main" },
        h("a", { href: `#/instances/${enc(instance.id)}`, class: "title", "data-testid": "instance-link" }, instance.name),
        h("span", { class: "muted small" },
          instance.push_name ? `${instance.push_name} · ` : "", instance.wa_jid ? jidPhone(instance.wa_jid) : "not linked")),
      h("div", { class: "row-meta" },
        statusPill(instance.status),
        instance.enabled ? null : h("span", { class: "pill muted-pill" }, "disabled"),
        h("span", { class: "muted small", title: "priority" }, `prio ${instance.priority}`),
        h("button", { type: "button", class: "secondary small", "data-testid": "instance-delete",
                      onclick: () => { confirmBox.hidden = false; } }, "Delete"),
        confirmBox));
    row.title = `created ${fmtTime(instance.created_at)}`;
  }

  async function onCreate(event) {
    event.preventDefault();
    const value = name.value.trim();
    if (!value) return;
    try {
      const instance = await api("/instances", { method: "POST", body: { name: value } });
      name.value = "";
      ctx.showError(null);
      if (!rows.size) mount(list);
      addRow(instance, true);
    } catch (err) {
      ctx.showError(err);
    }
  }

  async function remove(entry) {
    try {
      await api(`/instances/${enc(entry.instance.id)}`, { method: "DELETE" });
      entry.row.remove();
      rows.delete(entry.instance.id);
      if (!rows.size) mount(list, empty("No instances yet: create one above, then link a phone to it."));
    } catch (err) {
      ctx.showError(err);
    }
  }

  const unsubscribe = live.subscribe((event) => {
    if (event.type === "LIVE_CONNECTED") { if (loadedAt && loadedAt < event.at) load(); return; } // missed events are not replayed
    const entry = rows.get(event.instanceId);
    if (!entry) return;
    const payload = event.payload || {};
    if (event.type === "INSTANCE_STATUS" && payload.status) {
      entry.instance = { ...entry.instance, status: payload.status,
                         push_name: payload.pushName ?? entry.instance.push_name, wa_jid: payload.jid ?? entry.instance.wa_jid };
      fill(entry);
    } else if (event.type === "INSTANCE_QR" && payload.status && payload.status !== entry.instance.status) {
      entry.instance = { ...entry.instance, status: payload.status };
      fill(entry);
    }
  });

  // Read once the live socket is open (or after 1.5 s): no event falls between the read and the socket.
  live.whenOpen().then(() => { if (!disposed) load(); });
  return () => { disposed = true; unsubscribe(); };
}

export function jidPhone(jid) {
  const user = String(jid).split("@")[0].split(":")[0];
  return /^\d+$/.test(user) ? `+${user}` : String(jid);
}
