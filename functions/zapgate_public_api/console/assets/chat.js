// #/instances/<id>/chats/<chat>: the chats (unread counts, groups by name) and one chat's messages, new ones
// arriving live; send text, media (presigned upload), a reply and a reaction; edit a sent text, delete a message
// for everyone (with a confirmation). Opening the chat marks it read; typing shows while the person writes; an
// escalation (automations paused for a person) is shown with "Resume automations" (chat_tools.js).
import { api, enc, live } from "./api.js";
import { empty, fmtTime, h, loading, mount } from "./dom.js";
import { jidPhone } from "./instances.js";
import { escalationBar, groupNames, markRead, typingNotifier } from "./chat_tools.js";

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
const VIDEO_TYPES = ["video/mp4", "video/3gpp"];
const SENT = ["sent", "delivered", "read", "played"];
const EDIT_WINDOW_MS = 15 * 60 * 1000; // WhatsApp's: the API refuses later edits (422 expired)

/** The user part of a chat id (digits of a number, a group id), so "5511…" and "5511…@s.whatsapp.net" match. */
export function chatKey(chat) {
  return String(chat || "").split("@")[0].split(":")[0].replace(/^\+/, "");
}

export function sameChat(a, b) {
  return chatKey(a) !== "" && chatKey(a) === chatKey(b);
}

/** Fill `el` with conversation rows (newest first); `current` is the open chat, if any; `groups` names groups. */
export function conversationsList(el, instanceId, conversations, current, groups = new Map()) {
  if (!conversations.length) { mount(el, empty("No chats yet.")); return; }
  mount(el, conversations.map((c) => {
    const last = c.last_message || {};
    const preview = last.revoked ? "🚫 message deleted" : last.body || (last.media_type ? `[${last.media_type}]` : "");
    return h("a", {
      class: `row-item${current && sameChat(current, c.chat_id) ? " active" : ""}`, "data-testid": "chat-row",
      "data-chat-id": c.chat_id, href: `#/instances/${enc(instanceId)}/chats/${enc(c.chat_id)}`,
    },
      h("div", { class: "row-main" },
        h("span", { class: "title", "data-testid": "chat-name" },
          c.chat_type === "group" ? `👥 ${groups.get(c.chat_id) || c.chat_id}` : c.push_name || jidPhone(c.chat_id)),
        c.push_name ? h("span", { class: "muted small", "data-testid": "chat-number" }, jidPhone(c.chat_id)) : null,
        h("span", { class: "muted small" }, `${last.direction === "outbound" ? "You: " : ""}${preview}`.slice(0, 90))),
      h("div", { class: "row-meta" },
        h("span", { class: "muted small" }, fmtTime(last.created_at)),
        c.unread_count ? h("span", { class: "badge", "data-testid": "chat-unread", title: "unread" }, String(c.unread_count)) : null));
  }));
}

export function render(root, { id, chat }, ctx) {
  let disposed = false;
  let loadedAt = 0;
  let replyTo = null; // {id, text}
  let editing = null; // the message being edited (the composer holds its new text)
  let confirmRevoke = null; // the id of the message whose "Delete for everyone?" is open
  let messages = [];
  let names = new Map();
  let conversations = null;
  let markedRead = false;

  const chatsList = h("div", { class: "list", "data-testid": "chats-list" }, loading());
  const messageList = h("div", { class: "messages", "data-testid": "message-list", "aria-live": "polite" }, loading());
  const text = h("textarea", { "data-testid": "send-text", rows: "2", placeholder: "Message", "aria-label": "Message" });
  const file = h("input", { type: "file", "data-testid": "send-file", "aria-label": "Attach a file" });
  const replying = h("div", { class: "replying", hidden: true });
  const sendButton = h("button", { type: "submit", "data-testid": "send-submit" }, "Send");
  const heading = h("h2", { "data-testid": "chat-title" }, chat.includes("@g.us") ? chat : jidPhone(chat));
  const composer = h("form", { class: "composer", onsubmit: send },
    replying, h("div", { class: "row" }, text, sendButton), h("div", { class: "row small" }, h("label", {}, "Attach "), file));
  const escalation = escalationBar(id, chat, ctx);
  const typing = typingNotifier(id, chat, ctx);

  mount(root,
    h("p", { class: "small" }, h("a", { href: `#/instances/${enc(id)}` }, "← Instance")),
    h("div", { class: "chat-layout" },
      h("section", { class: "conversations" }, h("h2", {}, "Chats"), chatsList),
      h("section", { class: "chat-pane" }, heading, escalation.el, messageList, composer)));

  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
    else if (e.key === "Escape" && editing) cancelCompose();
  });
  text.addEventListener("input", () => { if (text.value.trim()) typing.typed(); else typing.stop(); });

  async function loadChats() {
    try {
      const data = await api(`/instances/${enc(id)}/conversations?limit=50`);
      if (disposed) return;
      conversations = data.conversations;
      conversationsList(chatsList, id, conversations, chat, names);
    } catch (err) { if (!disposed) { mount(chatsList, empty("Could not load the chats.")); ctx.showError(err); } }
  }

  async function loadGroupNames() {
    try {
      names = await groupNames(id);
      if (disposed) return;
      if (conversations) conversationsList(chatsList, id, conversations, chat, names);
      if (chat.includes("@g.us") && names.get(chat)) mount(heading, names.get(chat), " ", h("span", { class: "muted small" }, chat));
    } catch (err) { if (!disposed) ctx.showError(err); } // the list still shows, with group ids
  }

  /** Best effort, once per arrival: the chat's latest received messages read on the phone. */
  async function readReceived() {
    if (!messages.some((m) => m.direction === "inbound" && !m.revoked)) return;
    const newest = messages.filter((m) => m.direction === "inbound").pop();
    if (markedRead === newest.id) return;
    markedRead = newest.id;
    await markRead(id, chat, ctx); // (the list's unread count is the API's own: inbound since the last reply or read)
  }

  async function loadMessages() {
    loadedAt = Date.now();
    try {
      const data = await api(`/instances/${enc(id)}/chats/${enc(chat)}/messages?limit=50`);
      if (disposed) return;
      messages = data.messages.slice().reverse(); // the API answers newest first
      // A direct chat is named after the contact's latest push name (the number stays beside it).
      const named = !chat.includes("@g.us") && data.messages.find((m) => m.direction === "inbound" && m.push_name && sameChat(m.from, chat));
      if (named) mount(heading, named.push_name, " ", h("span", { class: "muted small" }, jidPhone(named.chat_id || chat)));
      showMessages();
      readReceived();
    } catch (err) { if (!disposed) { mount(messageList, empty("Could not load the messages.")); ctx.showError(err); } }
  }

  function showMessages() {
    const atBottom = messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 40;
    const reactions = new Map(); // reacted-to message (our id or WhatsApp id) -> emojis
    for (const m of messages) {
      if (m.type !== "reaction" || !m.reaction) continue;
      const target = m.reaction.message_id || m.reaction.wa_message_id;
      if (!target) continue;
      const list = reactions.get(target) || [];
      if (m.reaction.emoji) list.push(m.reaction.emoji);
      reactions.set(target, list);
    }
    const shown = messages.filter((m) => m.type !== "reaction");
    if (!shown.length) { mount(messageList, empty("No messages in this chat yet: write the first one below.")); return; }
    mount(messageList, shown.map((m) => messageView(m, [...(reactions.get(m.id) || []), ...(reactions.get(m.wa_message_id) || [])])));
    if (atBottom || messageList.dataset.scrolled !== "1") {
      messageList.scrollTop = messageList.scrollHeight;
      messageList.dataset.scrolled = "1";
    }
  }

  function messageView(m, reacted) {
    const isGroup = String(m.chat_id || chat).endsWith("@g.us");
    const revoked = Boolean(m.revoked);
    const edited = m.edited && m.edited.count ? m.edited : null;
    return h("article", { class: `message${revoked ? " revoked" : ""}${confirmRevoke === m.id ? " confirming" : ""}`,
      "data-testid": "message", "data-direction": m.direction, "data-message-id": m.id, "data-revoked": String(revoked) },
      m.direction === "inbound" && isGroup && (m.push_name || m.from) ? h("div", { class: "who" }, m.push_name || jidPhone(m.from)) : null,
      m.quoted_text ? h("div", { class: "quote" }, m.quoted_text) : null,
      revoked ? h("div", { class: "deleted", "data-testid": "message-revoked" }, "🚫 message deleted") : null,
      media(m),
      // A deleted message keeps its text in history (zapgate marks, never erases): shown struck through.
      m.body ? h("div", { class: revoked ? "body was" : "body", "data-testid": "message-body" }, m.body) : null,
      reacted.length ? h("div", { class: "reactions" }, reacted.join(" ")) : null,
      h("div", { class: "meta" },
        edited ? h("span", { "data-testid": "message-edited", title: edited.original_body ? `Was: ${edited.original_body}` : "" },
          edited.count > 1 ? `edited ×${edited.count}` : "edited") : null,
        h("span", {}, fmtTime(m.created_at)),
        m.direction === "outbound" ? h("span", { "data-testid": "message-status" }, m.status) : null,
        m.error ? h("span", { class: "danger" }, m.error) : null),
      revoked ? null : actions(m, isGroup));
  }

  function actions(m, isGroup) {
    if (confirmRevoke === m.id) {
      return h("div", { class: "actions confirm" }, "Delete for everyone?",
        h("button", { type: "button", class: "danger", "data-testid": "message-revoke-confirm", onclick: () => revoke(m) }, "Delete"),
        h("button", { type: "button", class: "secondary", onclick: () => { confirmRevoke = null; showMessages(); } }, "Cancel"));
    }
    const sent = m.direction === "outbound" && (SENT.includes(m.status) || m.wa_message_id);
    const editable = sent && (m.type || "text") === "text" && !m.media_url && Date.now() - Date.parse(m.created_at) < EDIT_WINDOW_MS;
    const revocable = sent || (m.direction === "inbound" && (m.from_me || isGroup)); // a group's: admins only (WhatsApp decides)
    return h("div", { class: "actions" },
      m.direction === "outbound" || m.wa_message_id ? h("button", { type: "button", class: "secondary", "data-testid": "message-reply",
        onclick: () => startReply(m) }, "Reply") : null,
      editable ? h("button", { type: "button", class: "secondary", "data-testid": "message-edit", onclick: () => startEdit(m) }, "Edit") : null,
      revocable ? h("button", { type: "button", class: "secondary", "data-testid": "message-revoke", title: "Delete for everyone",
        onclick: () => askRevoke(m) }, "Delete…") : null,
      REACTIONS.map((emoji) => h("button", { type: "button", class: "secondary", "data-testid": "message-react",
        title: `React ${emoji}`, onclick: () => react(m, emoji) }, emoji)));
  }

  function askRevoke(m) {
    confirmRevoke = m.id;
    showMessages();
    const button = messageList.querySelector('[data-testid="message-revoke-confirm"]');
    if (button) button.focus();
  }

  async function revoke(m) {
    confirmRevoke = null;
    try {
      await api(`/instances/${enc(id)}/messages/${enc(m.id)}/revoke`, { method: "POST" });
      ctx.showError(null);
    } catch (err) { ctx.showError(err); }
    if (!disposed) loadMessages();
  }

  function media(m) {
    if (!m.media_url || !/^https?:\/\//i.test(m.media_url)) return null; // only web links become src / href
    const kind = m.media_type || m.type;
    if (kind === "image" || kind === "sticker") return h("img", { src: m.media_url, alt: m.file_name || "image", loading: "lazy" });
    if (kind === "video") return h("video", { src: m.media_url, controls: true, preload: "metadata" });
    if (kind === "audio") return h("audio", { src: m.media_url, controls: true, preload: "metadata" });
    return h("a", { href: m.media_url, target: "_blank", rel: "noopener noreferrer", download: m.file_name || "" }, `📎 ${m.file_name || "document"}`);
  }

  function startReply(m) {
    if (editing) cancelCompose();
    replyTo = { id: m.id, text: m.body || `[${m.type}]` };
    mount(replying, "Replying to: ", h("em", {}, replyTo.text.slice(0, 120)), " ",
      h("button", { type: "button", class: "secondary small", onclick: cancelCompose }, "Cancel"));
    replying.hidden = false;
    text.focus();
  }

  /** The composer edits the message: its text to change, "Save" instead of "Send", no attachment. */
  function startEdit(m) {
    replyTo = null;
    editing = m;
    mount(replying, "Editing: ", h("em", {}, String(m.body || "").slice(0, 120)), " ",
      h("button", { type: "button", class: "secondary small", "data-testid": "message-edit-cancel", onclick: cancelCompose }, "Cancel"));
    replying.hidden = false;
    text.value = m.body || "";
    sendButton.textContent = "Save";
    file.disabled = true;
    text.focus();
  }

  function cancelCompose() {
    if (editing) text.value = "";
    replyTo = null; editing = null;
    replying.hidden = true;
    sendButton.textContent = "Send";
    file.disabled = false;
  }

  async function saveEdit(body) {
    await api(`/instances/${enc(id)}/messages/${enc(editing.id)}/edit`, { method: "POST", body: { text: body } });
  }

  async function react(m, emoji) {
    const target = m.direction === "outbound" ? m.id : (m.wa_message_id || m.id);
    try {
      await api(`/instances/${enc(id)}/messages`, { method: "POST",
        body: { type: "reaction", to: m.chat_id || chat, reaction: { message_id: target, emoji } } });
      ctx.showError(null);
      loadMessages();
    } catch (err) { ctx.showError(err); }
  }

  async function send(event) {
    event.preventDefault();
    const body = text.value;
    const upload = file.files && file.files[0];
    if (!body.trim() && !upload) return;
    sendButton.disabled = true;
    typing.stop();
    try {
      if (editing) {
        if (body !== editing.body) await saveEdit(body);
        ctx.showError(null);
        cancelCompose();
        await loadMessages();
        return;
      }
      const message = { to: chat };
      if (upload) Object.assign(message, await uploadMedia(upload), body.trim() ? { body } : {});
      else message.body = body;
      if (replyTo) message.reply_to = replyTo.id;
      await api(`/instances/${enc(id)}/messages`, { method: "POST", body: message });
      ctx.showError(null);
      text.value = ""; file.value = ""; cancelCompose();
      await loadMessages();
      messageList.scrollTop = messageList.scrollHeight;
    } catch (err) {
      ctx.showError(err);
    } finally {
      sendButton.disabled = false;
    }
  }

  /** POST /v1/media-uploads, then the file to the presigned POST; answers the fields of the send. */
  async function uploadMedia(upload) {
    const mime = upload.type || "application/octet-stream";
    const kind = IMAGE_TYPES.includes(mime) ? "image" : VIDEO_TYPES.includes(mime) ? "video"
      : mime.startsWith("audio/") ? "audio" : "document";
    const ticket = await api("/media-uploads", { method: "POST", body: { media_type: kind, mime_type: mime, size: upload.size } });
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.upload.fields)) form.append(name, value);
    form.append("file", upload, upload.name);
    let response;
    try {
      response = await fetch(ticket.upload.url, { method: "POST", body: form, credentials: "omit", referrerPolicy: "no-referrer" });
    } catch {
      // The bucket answers without CORS headers: the POST went out but its answer cannot be read.
      await fetch(ticket.upload.url, { method: "POST", body: form, mode: "no-cors", credentials: "omit", referrerPolicy: "no-referrer" });
    }
    if (response && !response.ok) throw new Error(`The upload was refused (HTTP ${response.status})`);
    return { type: kind, media_url: ticket.media_url, mime_type: mime, file_name: upload.name };
  }

  let timer = null;
  const refresh = () => { clearTimeout(timer); timer = setTimeout(() => { loadMessages(); loadChats(); }, 250); };
  const unsubscribe = live.subscribe((event) => {
    if (event.type === "LIVE_CONNECTED") { if (loadedAt && loadedAt < event.at) { refresh(); escalation.load(); } return; }
    if (event.instanceId !== id) return;
    if (event.type === "AUTOMATION_ESCALATED") { if (sameChat((event.payload || {}).chatId, chat)) escalation.load(); return; }
    if (event.type === "GROUP_UPDATED") { // a new name shows in the list (the event's `changes`)
      const p = event.payload || {}, jid = (p.group || {}).jid, name = (p.changes || {}).name;
      if (jid && name) { names.set(jid, name); loadChats(); }
      return;
    }
    if (!event.type.startsWith("MESSAGE_")) return;
    const message = (event.payload && event.payload.message) || {};
    if (sameChat(message.chatId, chat) || messages.some((m) => m.id === message.id)) refresh();
    else loadChats();
  });

  live.whenOpen().then(() => { if (!disposed) { loadChats(); loadMessages(); escalation.load(); } }); // read after the socket opens
  loadGroupNames();
  return () => { disposed = true; unsubscribe(); clearTimeout(timer); typing.dispose(); escalation.dispose(); };
}
