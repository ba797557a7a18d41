// #/keys: the tenant's API keys: create (the key shown once), revoke (the last active key cannot be).
import { allPages, api, enc } from "./api.js";
import { empty, fmtTime, h, loading, mount, secretBox } from "./dom.js";

export function render(root, _params, ctx) {
  let disposed = false;
  const list = h("div", { class: "list", "data-testid": "keys-list" }, loading());
  const secretSlot = h("div");
  const label = h("input", { maxlength: "100", placeholder: "ci", "aria-label": "Label", "data-testid": "key-label", autocomplete: "off" });
  mount(root,
    h("div", { class: "page-head" }, h("h1", {}, "API keys"),
      h("form", { class: "inline-form", onsubmit: create }, h("label", {}, "New key, label"), label,
        h("button", { type: "submit", "data-testid": "key-create-submit" }, "Create"))),
    secretSlot, list,
    h("p", { class: "muted small" }, "Keys are stored as hashes only; a revoked key is refused from its next request. ",
      "To rotate: create a key, move your clients to it, revoke the old one."));

  async function load() {
    try {
      const keys = await allPages("/keys", "keys");
      if (disposed) return;
      if (!keys.length) { mount(list, empty("No keys listed (keys made before key ids exist are not listed).")); return; }
      mount(list, keys.map(row));
    } catch (err) { if (!disposed) { mount(list, empty("Could not load the keys.")); ctx.showError(err); } }
  }

  function row(k) {
    const confirm = h("span", { class: "confirm", hidden: true }, "Revoke? Clients using it stop working.",
      h("button", { type: "button", class: "danger small", "data-testid": "key-revoke-confirm", onclick: () => revoke(k) }, "Revoke"),
      h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    return h("div", { class: "row-item", "data-testid": "key-row", "data-key-id": k.id },
      h("div", { class: "row-main" }, h("span", { class: "title" }, k.label || "(no label)"),
        h("span", { class: "muted small" }, `…${k.last4 || "????"} · created ${fmtTime(k.created_at)}`)),
      h("div", { class: "row-meta" },
        k.revoked ? h("span", { class: "pill status-disconnected" }, `revoked ${fmtTime(k.revoked_at)}`)
          : [h("button", { type: "button", class: "secondary small", "data-testid": "key-revoke", onclick: () => { confirm.hidden = false; } }, "Revoke"), confirm]));
  }

  async function create(event) {
    event.preventDefault();
    try {
      const created = await api("/keys", { method: "POST", body: label.value.trim() ? { label: label.value.trim() } : {} });
      ctx.showError(null);
      label.value = "";
      mount(secretSlot, secretBox(`API key ${created.label || ""}`.trim(), created.key));
      setTimeout(load, 1200); // the listing reads an eventually consistent index
      load();
    } catch (err) { ctx.showError(err); }
  }

  async function revoke(k) {
    try { await api(`/keys/${enc(k.id)}`, { method: "DELETE" }); ctx.showError(null); load(); }
    catch (err) { ctx.showError(err); }
  }

  load();
  return () => { disposed = true; mount(secretSlot); };
}
