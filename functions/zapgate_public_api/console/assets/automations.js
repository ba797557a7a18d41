// An instance's automations (issue 11, docs/automations.md), on its page: the list in evaluation order (rules,
// then agents), pause / enable, create and edit, delete; and the recent interactions.
// The form covers the fields people change most (automations_form.js); "Advanced: JSON" edits the whole
// configuration. The API validates either way: its 422 is shown in the banner, beside the form, and on the field
// it names. A provider key is write-only: typed into a password field, sent once, never shown again.
import { ApiError, api, enc } from "./api.js";
import { empty, fmtTime, h, loading, mount } from "./dom.js";
import { jidPhone } from "./instances.js";
import { FormError, READ_ONLY, buildForm } from "./automations_form.js";

/** Fill `card` with the automations of instance `id`; answers {load, dispose}. */
export function automationsCard(card, id, ctx) {
  let disposed = false;
  let items = [];
  let editing = null; // the open editor's {close}

  const list = h("div", { class: "list", "data-testid": "automations-list" }, loading());
  const editorSlot = h("div");
  const interactions = h("div", { class: "scroll" }, loading());
  mount(card,
    h("h2", {}, "Automations",
      h("button", { type: "button", class: "small", "data-testid": "automation-new", onclick: () => open(null) }, "New automation")),
    h("p", { class: "muted small" }, "Rules answer first (by position), then AI agents. A paused automation is skipped."),
    editorSlot, list,
    h("h3", {}, "Recent interactions"), interactions);

  async function load() {
    try {
      const [listed, recent] = await Promise.all([
        api(`/instances/${enc(id)}/automations`),
        api(`/instances/${enc(id)}/interactions?limit=10`),
      ]);
      if (disposed) return;
      items = listed.automations || [];
      showList();
      showInteractions(recent.interactions || []);
    } catch (err) {
      if (disposed) return;
      mount(list, empty(err instanceof ApiError ? err.describe() : "Could not load the automations."));
      mount(interactions);
    }
  }

  function showList() {
    if (!items.length) { mount(list, empty("No automations yet: “New automation” adds a rule or an AI agent.")); return; }
    mount(list, items.map(row));
  }

  function row(a) {
    const confirm = h("span", { class: "confirm", hidden: true }, "Delete it?",
      h("button", { type: "button", class: "danger small", "data-testid": "automation-delete-confirm", onclick: () => remove(a) }, "Delete"),
      h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = true; } }, "Cancel"));
    return h("div", { class: "row-item", "data-testid": "automation-row", "data-automation-id": a.id, "data-enabled": String(a.enabled) },
      h("div", { class: "row-main" },
        h("span", { class: "title", "data-testid": "automation-title" }, a.name),
        h("span", { class: "muted small", "data-testid": "automation-summary" }, summary(a)),
        h("span", { class: "muted small" }, `${a.kind} · position ${a.position} · v${a.version}`)),
      h("div", { class: "row-meta" },
        h("span", { class: `pill ${a.enabled ? "status-connected" : ""}` }, a.enabled ? "on" : "paused"),
        h("button", { type: "button", class: "secondary small", "data-testid": "automation-toggle", onclick: () => toggle(a) },
          a.enabled ? "Pause" : "Enable"),
        h("button", { type: "button", class: "secondary small", "data-testid": "automation-edit", onclick: () => open(a) }, "Edit"),
        h("button", { type: "button", class: "secondary small", onclick: () => { confirm.hidden = false; } }, "Delete…"),
        confirm));
  }

  async function toggle(a) {
    try {
      await api(`/instances/${enc(id)}/automations/${enc(a.id)}`, { method: "PATCH", body: { enabled: !a.enabled },
                                                                    headers: { "If-Match": String(a.version) } });
      ctx.showError(null);
      load();
    } catch (err) { ctx.showError(err); }
  }

  async function remove(a) {
    try {
      await api(`/instances/${enc(id)}/automations/${enc(a.id)}`, { method: "DELETE", headers: { "If-Match": String(a.version) } });
      ctx.showError(null);
      if (editing && editing.id === a.id) editing.close();
      load();
    } catch (err) { ctx.showError(err); }
  }

  // ---------------------------------------------------------------- the editor
  function open(current) {
    if (editing) editing.close();
    const form = buildForm(current);
    const formError = h("p", { class: "form-error", "data-testid": "automation-form-error", role: "alert", hidden: true });
    const json = h("textarea", { class: "code", rows: "16", spellcheck: "false", "data-testid": "automation-json",
                                 "aria-label": "The whole configuration as JSON" });
    const advanced = h("details", { class: "advanced" },
      h("summary", {}, "Advanced: the whole configuration as JSON"),
      h("p", { class: "muted small" }, "Every field (docs/automations.md). A provider key is never shown: add ",
        h("code", {}, "\"api_key\""), " here to set one, leave it out to keep the stored one."),
      json,
      h("div", { class: "row" }, h("button", { type: "button", "data-testid": "automation-json-save", onclick: saveJson }, "Save this JSON")));
    advanced.addEventListener("toggle", () => {
      if (!advanced.open) return;
      try { json.value = JSON.stringify(form.build({ withKey: false }), null, 2); }
      catch (err) { json.value = JSON.stringify(form.base(), null, 2); fail(err); }
    });
    const save = h("button", { type: "submit", "data-testid": "automation-save" }, current ? "Save changes" : "Create");
    const editor = h("form", { class: "editor stack", "data-testid": "automation-editor", novalidate: true, onsubmit: saveForm },
      h("h3", {}, current ? `Edit “${current.name}”` : "New automation"),
      form.element, formError,
      h("div", { class: "row" }, save,
        h("button", { type: "button", class: "secondary", "data-testid": "automation-cancel", onclick: () => close() }, "Cancel")),
      advanced);
    mount(editorSlot, editor);
    editor.scrollIntoView({ block: "nearest" });
    const close = () => { mount(editorSlot); editing = null; };
    editing = { id: current && current.id, close };

    function fail(err) {
      ctx.showError(err);
      const message = err instanceof ApiError || err instanceof FormError ? err.message : String(err.message || err);
      formError.textContent = err instanceof ApiError && err.status === 422 ? `The API refused it: ${message}` : message;
      formError.hidden = false;
      form.markInvalid(err instanceof FormError ? err.field : message);
    }

    async function send(body, button) {
      form.markInvalid(null);
      formError.hidden = true;
      button.disabled = true;
      try {
        if (current) {
          await api(`/instances/${enc(id)}/automations/${enc(current.id)}`,
            { method: "PUT", body, headers: { "If-Match": String(current.version) } });
        } else {
          await api(`/instances/${enc(id)}/automations`, { method: "POST", body });
        }
        ctx.showError(null);
        close(); // the form (and any key typed into it) goes; the list shows what the API stored
        load();
      } catch (err) {
        fail(err);
      } finally {
        button.disabled = false;
      }
    }

    function saveForm(event) {
      event.preventDefault();
      let body;
      try { body = form.build({ withKey: true }); } catch (err) { fail(err); return; }
      send(body, save);
    }

    function saveJson(event) {
      let body;
      try { body = JSON.parse(json.value); } catch { fail(new FormError("The JSON does not parse: check its quotes and commas", null)); return; }
      if (!body || typeof body !== "object" || Array.isArray(body)) { fail(new FormError("The JSON must be one object", null)); return; }
      for (const field of READ_ONLY) delete body[field];
      send(body, event.currentTarget);
    }
  }

  // ---------------------------------------------------------------- interactions
  function showInteractions(list) {
    if (!list.length) { mount(interactions, empty("None yet.")); return; }
    const names = new Map(items.map((a) => [a.id, a.name]));
    mount(interactions, h("table", { "data-testid": "interactions" }, h("tbody", {}, list.map((i) =>
      h("tr", {},
        h("td", { class: "muted nowrap" }, fmtTime(i.created_at)),
        h("td", {}, jidPhone(i.chat)),
        h("td", {}, i.outcome, i.automation_id ? h("div", { class: "muted small" }, names.get(i.automation_id) || i.automation_kind || "") : null),
        h("td", { class: "muted small" },
          i.reason || i.error || (i.model ? `${i.model} · ${i.tokens_in}+${i.tokens_out} tokens · ${i.latency_ms} ms` : "")))))));
  }

  return { load, dispose: () => { disposed = true; } };
}

/** One line on what an automation does: its trigger and reply, or its model. */
export function summary(a) {
  if (a.kind === "agent") {
    return `${a.audience === "owner" ? "owner assistant" : "answers customers"} · ${a.provider} ${a.model}` +
      `${a.api_key_set ? " · key stored" : ""}${(a.tools || []).length ? ` · ${a.tools.length} tools` : ""}`;
  }
  const t = a.trigger || {};
  const when = t.type === "keyword" ? `keywords: ${(t.keywords || []).join(", ")}`
    : t.type === "pattern" ? `pattern: ${t.pattern}`
    : t.type === "first_message" ? "first message (welcome)"
    : t.type === "away" ? `away (outside hours, ${t.timezone})` : String(t.type);
  const r = a.reply || {};
  const text = String(r.text || "");
  const reply = r.type === "text" ? `“${text.length > 60 ? `${text.slice(0, 59)}…` : text}”` : `${r.media_type || "media"} reply`;
  return `${when} → ${reply}${a.cooldown_s ? ` · cooldown ${a.cooldown_s} s` : ""}`;
}
