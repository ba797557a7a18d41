// The public API, same origin, authenticated with the key the person typed (kept for this tab only).

const KEY_SLOT = "zapgate.console.apiKey";
const API = "/v1";

export function getKey() {
  try { return sessionStorage.getItem(KEY_SLOT); } catch { return null; }
}

export function setKey(key) {
  sessionStorage.setItem(KEY_SLOT, key);
}

export function clearKey() {
  try { sessionStorage.removeItem(KEY_SLOT); } catch { /* storage disabled: nothing kept */ }
}

/** An error answered by the API: its `{"error": {"code", "message"}}`, and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
  describe() {
    return this.status ? `${this.message} (${this.code}, HTTP ${this.status})` : this.message;
  }
}

const listeners = new Set();
/** Called with every 401: the key was revoked or is wrong. */
export function onUnauthorized(fn) { listeners.add(fn); }

/** Call `/v1<path>`: JSON in and out; throws ApiError with the API's error shape. */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const key = getKey();
  const init = { method, headers: { Accept: "application/json", ...headers }, signal, credentials: "omit",
                 referrerPolicy: "no-referrer", cache: "no-store" };
  if (key) init.headers["X-API-Key"] = key;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "The API could not be reached: check the connection", null);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const error = data && data.error;
    const code = (error && error.code) || (data && data.message ? "gateway" : "http_error");
    let message = (error && error.message) || (data && data.message) || response.statusText || "request failed";
    if (error && error.retry_after) message += ` (retry in ${error.retry_after} s)`;
    const failure = new ApiError(response.status, code, message, data);
    if (response.status === 401) for (const fn of listeners) fn(failure);
    throw failure;
  }
  return data;
}

export const enc = encodeURIComponent;

/** Every page of a cursor listing (bounded), concatenated under `field`. */
export async function allPages(path, field, { limit = 100, maxPages = 20 } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const data = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    items.push(...(data[field] || []));
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// ------------------------------------------------------------------ live updates (docs/api.md#live-updates)

/**
 * One WebSocket for the whole tab: a ticket from POST /v1/live/tickets, then the url it answers. Events
 * (INSTANCE_STATUS, INSTANCE_QR, MESSAGE_INBOUND, MESSAGE_STATUS, …) go to every subscriber. Reconnects
 * with a fresh ticket (backoff) when the socket closes; a ping every 4 minutes keeps it from idling out.
 */
class Live {
  constructor() {
    this.handlers = new Set();
    this.stateHandlers = new Set();
    this.ws = null;
    this.wanted = false;
    this.backoff = 1000;
    this.timer = null;
    this.pinger = null;
    this.state = "off";
    this.openedAt = 0;
  }
  /** Resolves once the socket is open (or after `ms`): a page that reads after it misses no event. */
  whenOpen(ms = 1500) {
    if (this.state === "on") return Promise.resolve(true);
    return new Promise((resolve) => {
      let off = null;
      const timer = setTimeout(() => { if (off) off(); resolve(false); }, ms);
      off = this.onState((state) => {
        if (state !== "on") return;
        clearTimeout(timer);
        queueMicrotask(() => off && off());
        resolve(true);
      });
    });
  }
  subscribe(fn) { this.handlers.add(fn); return () => this.handlers.delete(fn); }
  onState(fn) { this.stateHandlers.add(fn); fn(this.state); return () => this.stateHandlers.delete(fn); }
  setState(state) {
    this.state = state;
    for (const fn of this.stateHandlers) fn(state);
  }
  start() {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }
  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
    this.setState("off");
  }
  async connect() {
    if (!this.wanted) return;
    this.setState("connecting");
    let ticket;
    try {
      ticket = await api("/live/tickets", { method: "POST" });
    } catch {
      this.retry();
      return;
    }
    if (!this.wanted) return;
    let ws;
    try { ws = new WebSocket(ticket.url); } catch { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 1000;
      this.setState("on");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => { if (ws.readyState === 1) ws.send(JSON.stringify({ action: "ping" })); }, 240000);
      this.openedAt = Date.now();
      for (const fn of this.handlers) fn({ type: "LIVE_CONNECTED", at: this.openedAt });
    };
    ws.onmessage = (m) => {
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      if (!event || typeof event.type !== "string") return;
      for (const fn of this.handlers) {
        try { fn(event); } catch (err) { console.error("live handler failed", err); }
      }
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws === ws) this.ws = null;
      this.retry();
    };
  }
  retry() {
    if (!this.wanted) return;
    this.setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 30000);
  }
}

export const live = new Live();
