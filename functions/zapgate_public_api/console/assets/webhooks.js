// #/webhooks: the tenant's webhooks: create (its secret shown once), rotate the secret (shown once), delete.
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
      "Deliveries are signed (X-Zapgate-Signature) and retried with backoff; events no endpoint took after 5 attempts wait in ",
      "the dead-letter queue. The public API does not list deliveries or the dead-letter queue yet: an operator redrives it ",
      "with ", h("code", {}, "python -m zapgate_control.admin redrive-dlq"), " (docs/events.md)."));

  async function load() {
    try {
      const data = await api("/webhooks");
      if (disposed) return;
      if (!data.webhooks.length) { mount(list, empty("No webhooks: events reach nobody but live connections.")); return; }
      mount(list, data.webhooks.map(row));
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
