// #/webhooks: the tenant's webhooks: create (its secret shown once), rotate the secret (shown once), delete;
// under each one its recent failed and dead deliveries, and "Redrive" on a dead one (docs/events.md).
import { api, enc } from "./api.js";
import { empty, fmtTime, h, loading, mount, secretBox } from "./dom.js";

const EVENTS = ["MESSAGE_INBOUND", "MESSAGE_STATUS", "INSTANCE_STATUS", "MESSAGE_EDITED", "MESSAGE_REVOKED",
  "GROUP_PARTICIPANTS_CHANGED", "GROUP_UPDATED", "CALL_RECEIVED", "AUTOMATION_ESCALATED"];

export function render(root, _params, ctx) {
  let disposed = false;
  const list = h("div", { class: "list", "data-testid": "webhooks-list" }, loading());
  const secretSlot = h("div");
  const url = h("input", { type: "url", required: true, placeholder: "https://example.com/zapgate", "data-testid": "webhook-url",
                           "aria-label": "Webhook URL", autocomplete: "off" });
  const boxes = EVENTS.map((name) => h("input", { type: "checkbox", value: name, id: `ev-${name}` }));
  mount(root,
    h("div", { class: "page-head" }, h("h1", {}, "Webhooks")),
    h("section", { class: "card" },
      h("h2", {}, "New webhook"),
      h("form", { class: "stack", onsubmit: create },
        h("label", {}, "URL (https://, or http:// to localhost)"), url,
        h("fieldset", { class: "row small" }, h("legend", {}, "Events (none ticked: every event, new types too)"),
          boxes.map((box) => h("span", { class: "row" }, box, h("label", { for: box.id }, box.value)))),
        h("div", { class: "row" }, h("button", { type: "submit", "data-testid": "webhook-create-submit" }, "Create")))),
    secretSlot,
    list,
    h("p", { class: "muted small" },
      "Deliveries are signed (X-Zapgate-Signature) and retried with backoff (5 attempts). Under each webhook: its failed ",
      "attempts of the last 7 days and its dead deliveries (all attempts failed) of the last 14; successful deliveries are ",
      "not listed. Redrive sends a dead one to that webhook again, with the whole retry schedule."));

  async function load() {
    try {
      const data = await api("/webhooks");
      if (disposed) return;
      if (!data.webhooks.length) { mount(list, empty("No webhooks: events reach nobody but live connections.")); return; }
      mount(list, data.webhooks.map((w) => h("div", { class: "webhook-item" }, row(w), deliveries(w))));
    } catch (err) { if (!disposed) { mount(list, empty("Could not load the webhooks.")); ctx.showError(err); } }
  }

  function row(w) {
    const confirm = h("span", { class: "confirm", hidden: true }, "Delete?",
      h("button", { type: "button", class: "danger small", onclick: () => remove(w) }, "Delete"),
      h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    return h("div", { class: "row-item", "data-testid": "webhook-row", "data-webhook-id": w.id },
      h("div", { class: "row-main" }, h("span", { class: "title" }, w.url),
        h("span", { class: "muted small" }, `${w.events ? w.events.join(", ") : "every event"} · created ${fmtTime(w.created_at)}`)),
      h("div", { class: "row-meta" },
        h("button", { type: "button", class: "secondary small", "data-testid": "webhook-rotate", onclick: () => rotate(w) }, "Rotate secret"),
        h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = false; } }, "Delete"), confirm));
  }

  // One listing per webhook (at most 10 webhooks), 10 newest attempts; "Load more" follows the cursor.
  function deliveries(w) {
    const body = h("div", { class: "delivery-list" }, loading("Loading deliveries…"));
    const more = h("div");
    const box = h("div", { class: "deliveries", "data-testid": "webhook-deliveries", "data-webhook-id": w.id },
      h("div", { class: "small muted" }, "Failed and dead deliveries"), body, more);
    async function page(cursor) {
      try {
        const data = await api(`/webhooks/${enc(w.id)}/deliveries?limit=10${cursor ? `&cursor=${enc(cursor)}` : ""}`);
        if (disposed) return;
        if (!cursor) mount(body);
        if (!cursor && !data.deliveries.length) mount(body, empty("None in the last 7 days."));
        body.append(...data.deliveries.map((d) => attempt(w, d, () => page(null))));
        mount(more, data.next_cursor
          ? h("button", { type: "button", class: "secondary small", onclick: () => page(data.next_cursor) }, "Load more")
          : null);
      } catch (err) { if (!disposed) { mount(body, empty("Could not load the deliveries.")); ctx.showError(err); } }
    }
    page(null);
    return box;
  }

  function attempt(w, d, reload) {
    const redrive = d.outcome === "dead"
      ? h("button", { type: "button", class: "small", "data-testid": "delivery-redrive", onclick: async () => {
          redrive.disabled = true;
          try {
            // A fresh key per click: a retried request (the network dropped the answer) is answered, not sent twice.
            await api(`/webhooks/${enc(w.id)}/deliveries/${enc(d.event_id)}/redrive`,
              { method: "POST", headers: { "Idempotency-Key": crypto.randomUUID() } });
            ctx.showError(null);
            reload();
          } catch (err) { redrive.disabled = false; ctx.showError(err); }
        } }, "Redrive")
      : null;
    return h("div", { class: "delivery", "data-testid": "delivery-row", "data-event-id": d.event_id, "data-outcome": d.outcome },
      h("span", { class: `pill outcome-${d.outcome}` }, d.outcome),
      h("span", {}, d.event_type), h("code", { class: "small", title: d.event_id }, d.event_id.slice(0, 8)),
      h("span", { class: "muted" }, `attempt ${d.attempt}`), h("span", { class: "reason" }, d.reason),
      h("span", { class: "muted" }, fmtTime(d.at)), redrive);
  }

  async function create(event) {
    event.preventDefault();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const created = await api("/webhooks", { method: "POST", body: { url: url.value.trim(), ...(events.length ? { events } : {}) } });
      ctx.showError(null);
      url.value = ""; boxes.forEach((b) => { b.checked = false; });
      mount(secretSlot, secretBox(`Signing secret of ${created.url}`, created.secret));
      load();
    } catch (err) { ctx.showError(err); }
  }

  async function rotate(w) {
    try {
      const rotated = await api(`/webhooks/${enc(w.id)}/secret`, { method: "POST" });
      ctx.showError(null);
      mount(secretSlot, secretBox(`New signing secret of ${rotated.url}`, rotated.secret),
        h("p", { class: "muted small" }, `The previous secret keeps signing beside it until ${fmtTime(rotated.previous_secret_valid_until)}.`));
    } catch (err) { ctx.showError(err); }
  }

  async function remove(w) {
    try { await api(`/webhooks/${enc(w.id)}`, { method: "DELETE" }); ctx.showError(null); load(); }
    catch (err) { ctx.showError(err); }
  }

  load();
  return () => { disposed = true; mount(secretSlot); };
}
