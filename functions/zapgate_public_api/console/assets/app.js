// The console's shell: sign in / out, the hash router (#/instances, #/instances/<id>,
// #/instances/<id>/chats/<chat>, #/webhooks, #/keys), the error banner and the live connection.
import { ApiError, clearKey, getKey, live, onUnauthorized, setKey } from "./api.js";
import { mount } from "./dom.js";

const $ = (id) => document.getElementById(id);

let cleanup = null;
let renderSeq = 0;

/** Show an error (an ApiError's message and code, or any text) in the banner; null hides it. */
export function showError(error) {
  const banner = $("error-banner");
  if (!error) { banner.hidden = true; banner.textContent = ""; return; }
  banner.textContent = error instanceof ApiError ? error.describe() : String(error.message || error);
  banner.hidden = false;
}

const ctx = { showError, navigate: (hash) => { location.hash = hash; } };

const routes = [
  [/^#\/instances\/([^/]+)\/chats\/([^/]+)$/, () => import("./chat.js"), (m) => ({ id: dec(m[1]), chat: dec(m[2]) })],
  [/^#\/instances\/([^/]+)$/, () => import("./instance.js"), (m) => ({ id: dec(m[1]) })],
  [/^#\/instances$/, () => import("./instances.js"), () => ({})],
  [/^#\/webhooks$/, () => import("./webhooks.js"), () => ({})],
  [/^#\/keys$/, () => import("./keys.js"), () => ({})],
];

function dec(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

async function render() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* the old page is gone anyway */ } cleanup = null; }
  showError(null);
  const signedIn = Boolean(getKey());
  $("signin").hidden = signedIn;
  $("nav").hidden = !signedIn;
  const page = $("page");
  if (!signedIn) {
    mount(page);
    $("signin-key").focus();
    return;
  }
  live.start();
  const hash = location.hash || "#/instances";
  for (const [pattern, load, params] of routes) {
    const match = hash.match(pattern);
    if (!match) continue;
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
    }
    try {
      const module = await load();
      if (seq !== renderSeq) return;
      const container = document.createElement("div");
      mount(page, container);
      cleanup = module.render(container, params(match), ctx) || null;
    } catch (err) {
      showError(err);
    }
    return;
  }
  location.replace("#/instances");
}

function signOut() {
  live.stop();
  clearKey();
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  mount($("page"));
  history.replaceState(null, "", location.pathname);
  render();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("signin-key");
  const key = input.value.trim();
  if (!key) return;
  const button = $("signin-form").querySelector("button");
  button.disabled = true;
  // The first page's own calls check the key (a 401 comes back here): no extra request before the list.
  setKey(key);
  input.value = "";
  button.disabled = false;
  if (!location.hash || location.hash === "#") location.hash = "#/instances";
  else render();
});

$("signout").addEventListener("click", signOut);

onUnauthorized(() => {
  // A wrong or revoked key: forget it and ask again.
  if (!getKey()) return;
  live.stop();
  clearKey();
  render().then(() => showError("The API key was refused (unknown or revoked): sign in again"));
});

live.onState((state) => {
  const el = $("live-state");
  el.textContent = `live: ${state}`;
  el.dataset.state = state;
});

window.addEventListener("hashchange", render);
render();
