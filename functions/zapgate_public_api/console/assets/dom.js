// Building DOM without HTML strings: every text goes in through textContent (never innerHTML), so a
// message body such as `<img src=x onerror=alert(1)>` is shown as the characters it is.

/**
 * h("div", {class: "row", dataset: {testid: "x"}, onclick: fn}, "text", child, [more])
 * Attributes: `class`, `dataset` (object), `on<event>` (listener), `text` (textContent), anything else is
 * setAttribute (booleans: present when true). Children: strings become text nodes; null/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value") el.value = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function testid(id, attrs = {}) {
  return { ...attrs, "data-testid": id };
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function fmtDuration(ms) {
  if (!(ms >= 0)) return "";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), mm = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${s % 60}s`;
  return `${s % 60}s`;
}

export function loading(text = "Loading…") {
  return h("p", { class: "muted loading", role: "status" }, text);
}

export function empty(text) {
  return h("p", { class: "muted empty" }, text);
}

/** A status pill; `id` is its data-testid. */
export function statusPill(status, id = "instance-status") {
  const s = String(status || "UNKNOWN");
  return h("span", { class: `pill status-${s.toLowerCase()}`, "data-testid": id, "data-status": s }, s);
}

/** A one-time secret (API key, webhook secret): shown in a box with a copy button, once. */
export function secretBox(label, secret) {
  const input = h("input", { type: "text", readonly: true, value: secret, class: "secret", spellcheck: "false" });
  const copy = h("button", {
    type: "button", class: "small", onclick: async () => {
      try { await navigator.clipboard.writeText(secret); copy.textContent = "Copied"; }
      catch { input.select(); }
    },
  }, "Copy");
  return h("div", { class: "secret-box", role: "status" },
    h("strong", {}, label), h("p", { class: "muted" }, "Shown this once: store it now."), h("div", { class: "row" }, input, copy));
}
