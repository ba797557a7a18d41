// The automation form (automations.js): the fields people change most for a rule (trigger: keywords, pattern,
// first message, away with a time zone and weekly hours; a text reply; cooldown) and for an AI agent (provider,
// model, temperature, system prompt, memory, fallback, owner numbers, tools as JSON). Fields the form does not
// show (max_tokens, a media reply, …) are kept from the stored configuration, so saving never drops them.
// No validation beyond what turning the form into JSON needs: the API's contract is the one judge.
import { h } from "./dom.js";

/** The answer's fields that are not configuration: never sent back. */
export const READ_ONLY = ["id", "instance_id", "version", "api_key_set", "created_at", "updated_at"];
const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"],
  ["sat", "Saturday"], ["sun", "Sunday"]];
const RULE_ONLY = ["trigger", "reply", "cooldown_s"];
const AGENT_ONLY = ["audience", "provider", "model", "base_url", "region", "api_key", "temperature", "system_prompt",
  "memory_messages", "tools", "max_tool_rounds", "max_tokens", "timeout_s", "time_budget_s", "fallback_text",
  "escalate_to_human", "escalation_ttl_s"];
const TRIGGERS = [["keyword", "Keywords"], ["pattern", "Pattern (regular expression)"],
  ["first_message", "First message (a welcome)"], ["away", "Away (outside business hours)"]];

/** A mistake found while turning the form into JSON; `field` is the data-field to mark. */
export class FormError extends Error {
  constructor(message, field) { super(message); this.field = field; }
}

let formCount = 0; // ids for label/for pairs, unique per form

/**
 * The form for `current` (an automation as the API answers it) or a new one (null). Answers
 * {element, build({withKey}), base(), markInvalid(fieldOrMessage)}.
 */
export function buildForm(current) {
  const base = {};
  for (const [key, value] of Object.entries(current || {})) if (!READ_ONLY.includes(key)) base[key] = value;
  const prefix = `automation-form-${++formCount}`;
  const fields = [];

  function input(name, attrs = {}, tag = "input") {
    const el = h(tag, { id: `${prefix}-${name}`, "data-testid": `automation-${name.replace(/_/g, "-")}`, autocomplete: "off", ...attrs });
    el.dataset.field = name;
    fields.push(el);
    return el;
  }
  const box = (el, label, help, wide = false) => h("div", { class: `field${wide ? " wide" : ""}` },
    h("label", { for: el.id }, label), el, help ? h("small", { class: "muted" }, help) : null);
  const check = (el, label) => h("div", { class: "check" }, el, h("label", { for: el.id }, label));
  const options = (pairs, selected) => pairs.map(([value, label]) => h("option", { value, selected: value === selected }, label));
  const str = (v) => (v === undefined || v === null ? "" : String(v));

  // ------------------------------------------------------------ both kinds
  const kind = input("kind", { disabled: Boolean(current) }, "select");
  kind.append(...options([["rule", "Rule: a trigger and a canned reply"], ["agent", "AI agent"]], base.kind || "rule"));
  const name = input("name", { maxlength: "100", value: str(base.name), placeholder: "Preço" });
  const position = input("position", { type: "number", min: "0", max: "10000", value: str(base.position ?? 0), class: "narrow" });
  const enabled = input("enabled", { type: "checkbox" });
  enabled.checked = base.enabled !== false;
  const groups = input("include_groups", { type: "checkbox" });
  groups.checked = Boolean(base.include_groups);
  const owners = input("owner_numbers", { value: (base.owner_numbers || []).join(", "), placeholder: "5511999990000, …" });

  // ------------------------------------------------------------ rules
  const t = base.trigger || { type: "keyword" };
  const trigger = input("trigger", {}, "select");
  trigger.append(...options(TRIGGERS, t.type));
  const keywords = input("keywords", { value: (t.keywords || []).join(", "), placeholder: "preço, quanto custa" });
  const pattern = input("pattern", { value: str(t.pattern), placeholder: "\\bpedido\\s*#?\\d{4,}", spellcheck: "false" });
  const caseSensitive = input("case_sensitive", { type: "checkbox" });
  caseSensitive.checked = Boolean(t.case_sensitive);
  const zone = input("timezone", { value: t.timezone || localZone(), placeholder: "America/Sao_Paulo" });
  const hours = DAYS.map(([day]) => input(day, { value: formatRanges(t.type === "away" ? (t.hours || {})[day]
    : (day === "sat" || day === "sun" ? [] : [{ start: "09:00", end: "18:00" }])), placeholder: "closed", class: "hours" }));
  const mediaReply = base.reply && base.reply.type === "media";
  const replyText = input("text", { rows: "3", placeholder: "Banho a partir de R$ 50" }, "textarea");
  replyText.value = base.reply && base.reply.type === "text" ? str(base.reply.text) : "";
  const cooldown = input("cooldown_s", { type: "number", min: "0", max: "604800", value: str(base.cooldown_s), class: "narrow",
                                         placeholder: "default" });

  const keywordBox = box(keywords, "Keywords (comma-separated; whole words, any case and accents)", null, true);
  const patternBox = h("div", { class: "field wide" }, box(pattern, "Pattern (Python regular expression, searched anywhere)"),
    check(caseSensitive, "Case-sensitive"));
  const awayBox = h("div", { class: "field wide" }, box(zone, "Time zone (IANA)"),
    h("fieldset", { class: "hours-grid" }, h("legend", {}, "Open hours per day, e.g. 09:00-12:00, 13:00-18:00; empty: closed all day"),
      DAYS.map(([, label], i) => [h("label", { for: hours[i].id }, label), hours[i]])));
  const ruleBox = h("fieldset", { class: "form-grid", "data-kind": "rule" }, h("legend", {}, "Rule"),
    box(trigger, "Trigger"), box(cooldown, "Cooldown, seconds (empty: the default, 3600 for away, else 0)"),
    keywordBox, patternBox, awayBox,
    mediaReply ? h("p", { class: "muted small wide" }, `Reply: ${base.reply.media_type} (a media reply: change it in the JSON below).`)
      : box(replyText, "Reply text", null, true));

  // ------------------------------------------------------------ agents
  const audience = input("audience", {}, "select");
  audience.append(...options([["customer", "Customers (everyone but the owner numbers)"], ["owner", "The owner numbers (an assistant)"]],
    base.audience || "customer"));
  const provider = input("provider", {}, "select");
  provider.append(...options([["openai", "OpenAI-compatible"], ["bedrock", "Amazon Bedrock"]], base.provider || "openai"));
  const model = input("model", { value: str(base.model), placeholder: "gpt-4o-mini", spellcheck: "false" });
  const baseUrl = input("base_url", { type: "url", value: str(base.base_url), placeholder: "https://api.openai.com/v1 (empty: the default)" });
  const region = input("region", { value: str(base.region), placeholder: "the stack's" });
  // Write-only: the API never answers the key, and the form never fills this field in.
  const apiKey = input("api_key", { type: "password", value: "", spellcheck: "false", autocomplete: "new-password",
    placeholder: current && current.api_key_set ? "a key is stored: empty keeps it" : "none stored" });
  const removeKey = input("remove_key", { type: "checkbox" });
  const temperature = input("temperature", { type: "number", min: "0", max: "2", step: "0.1", value: str(base.temperature ?? 0.7), class: "narrow" });
  const prompt = input("system_prompt", { rows: "5", placeholder: "Você é a recepcionista do pet shop…" }, "textarea");
  prompt.value = str(base.system_prompt);
  const memory = input("memory_messages", { type: "number", min: "0", max: "50", value: str(base.memory_messages ?? 20), class: "narrow" });
  const fallback = input("fallback_text", { rows: "2", placeholder: "Desculpe, ocorreu um erro. Por favor, tente novamente." }, "textarea");
  fallback.value = str(base.fallback_text);
  const escalate = input("escalate_to_human", { type: "checkbox" });
  escalate.checked = base.escalate_to_human !== false;
  const tools = input("tools", { rows: "5", spellcheck: "false", class: "code", placeholder: '[{"name": "book", "description": "…", "url": "https://…", "parameters": {"type": "object"}}]' }, "textarea");
  tools.value = base.tools && base.tools.length ? JSON.stringify(base.tools, null, 2) : "";

  const openaiBox = h("div", { class: "field wide form-grid" }, box(baseUrl, "Base URL (OpenAI-compatible endpoint)"),
    h("div", { class: "field" }, h("label", { for: apiKey.id }, "API key (write-only)"), apiKey,
      current && current.api_key_set ? check(removeKey, "Remove the stored key") : null));
  const bedrockBox = box(region, "Region");
  const agentBox = h("fieldset", { class: "form-grid", "data-kind": "agent" }, h("legend", {}, "AI agent"),
    box(audience, "Answers"), box(provider, "Provider"), box(model, "Model"), bedrockBox, openaiBox,
    box(temperature, "Temperature (0–2)"), box(memory, "Memory: the chat's last N messages"),
    box(prompt, "System prompt", null, true),
    box(fallback, "Fallback reply when the model fails (empty: the default)", null, true),
    h("div", { class: "field wide" }, check(escalate, "Offer escalate_to_human (the model may hand the chat to a person)")),
    box(tools, "Tools (JSON list: name, description, url, parameters)", "Each is a POST to your endpoint, signed like a webhook.", true));

  const element = h("div", { class: "stack" },
    h("div", { class: "form-grid" }, box(kind, "Kind"), box(name, "Name"), box(position, "Position (order within its kind)"),
      box(owners, "Owner numbers (the business's phones; comma-separated)"),
      h("div", { class: "field" }, check(enabled, "Enabled"), check(groups, "Also answer in groups"))),
    ruleBox, agentBox);

  function shown() {
    const rule = kind.value === "rule";
    ruleBox.hidden = !rule;
    agentBox.hidden = rule;
    keywordBox.hidden = trigger.value !== "keyword";
    patternBox.hidden = trigger.value !== "pattern";
    awayBox.hidden = trigger.value !== "away";
    openaiBox.hidden = provider.value !== "openai";
    bedrockBox.hidden = provider.value !== "bedrock";
  }
  for (const el of [kind, trigger, provider]) el.addEventListener("change", shown);
  shown();

  function build({ withKey }) {
    const out = base.kind === kind.value ? structuredClone(base) : {};
    for (const key of kind.value === "rule" ? AGENT_ONLY : RULE_ONLY) delete out[key];
    Object.assign(out, { kind: kind.value, name: name.value.trim(), enabled: enabled.checked, include_groups: groups.checked,
                         owner_numbers: list(owners.value) });
    setNumber(out, "position", position);
    if (kind.value === "rule") {
      out.trigger = triggerOf();
      if (!mediaReply || base.kind !== "rule") out.reply = { type: "text", text: replyText.value };
      setNumber(out, "cooldown_s", cooldown);
      return out;
    }
    Object.assign(out, { audience: audience.value, provider: provider.value, model: model.value.trim(),
                         system_prompt: prompt.value, escalate_to_human: escalate.checked, tools: toolsOf() });
    setNumber(out, "temperature", temperature);
    setNumber(out, "memory_messages", memory);
    if (fallback.value.trim()) out.fallback_text = fallback.value; else delete out.fallback_text;
    delete out.base_url; delete out.region; delete out.api_key;
    if (provider.value === "openai" && baseUrl.value.trim()) out.base_url = baseUrl.value.trim();
    if (provider.value === "bedrock" && region.value.trim()) out.region = region.value.trim();
    // PUT without api_key keeps the stored one; null removes it (the API's rule).
    if (withKey && provider.value === "openai" && apiKey.value) out.api_key = apiKey.value;
    else if (withKey && provider.value === "openai" && removeKey.checked) out.api_key = null;
    return out;
  }

  function triggerOf() {
    const type = trigger.value;
    if (type === "keyword") return { type, keywords: list(keywords.value) };
    if (type === "pattern") return { type, pattern: pattern.value, case_sensitive: caseSensitive.checked };
    if (type === "first_message") return { type };
    const byDay = {};
    DAYS.forEach(([day, label], i) => {
      const ranges = parseRanges(hours[i].value, day, label);
      if (ranges.length) byDay[day] = ranges;
    });
    return { type, timezone: zone.value.trim(), hours: byDay };
  }

  function toolsOf() {
    if (!tools.value.trim()) return [];
    let parsed;
    try { parsed = JSON.parse(tools.value); } catch { throw new FormError("tools: not valid JSON (a list of objects)", "tools"); }
    if (!Array.isArray(parsed)) throw new FormError("tools: must be a JSON list, [ … ]", "tools");
    return parsed;
  }

  /** Mark the field a FormError names, or the one an API message starts with ("trigger.keyword.keywords: …"). */
  function markInvalid(what) {
    for (const el of fields) { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); }
    if (!what) return;
    const path = /^[\w.]+$/.test(what) ? what : (/^([\w.]+):\s/.exec(what) || [])[1];
    if (!path) return;
    for (const part of path.split(".").reverse()) {
      const el = fields.find((f) => f.dataset.field === part && !f.closest("[hidden]"));
      if (el) { el.classList.add("invalid"); el.setAttribute("aria-invalid", "true"); el.focus(); return; }
    }
  }

  return { element, build, base: () => ({ ...base }), markInvalid };
}

function setNumber(out, key, el) {
  if (el.value === "") delete out[key]; // empty: the API's default
  else out[key] = Number(el.value);
}

function list(text) {
  return text.split(/[,;\n]+/).map((s) => s.trim()).filter(Boolean);
}

function localZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "America/Sao_Paulo"; } catch { return "America/Sao_Paulo"; }
}

function formatRanges(ranges) {
  return (ranges || []).map((r) => `${r.start}-${r.end}`).join(", ");
}

function parseRanges(text, day, label) {
  return list(text).map((piece) => {
    const parts = piece.split("-").map((s) => s.trim());
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new FormError(`${label}: write each range as start-end, e.g. 09:00-18:00, separated by commas`, day);
    }
    return { start: parts[0], end: parts[1] };
  });
}
