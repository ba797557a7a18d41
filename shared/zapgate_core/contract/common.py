"""Types and limits both APIs share. Kept apart from the worker-proxy models so the public API
can use them without building the whole contract's schemas on a cold start."""

from __future__ import annotations

from typing import Literal

from zapgate_core.domain.message_kinds import MediaKind, MessageKind

Status = Literal["CONNECTING", "CONNECTED", "DISCONNECTED"]
MediaType = MediaKind
JidType = Literal["lid", "pn"]

MAX_ID = 200  # ids, owners and tokens are short; anything longer is a client bug, not data
MAX_QR_CODE = 64_000  # a PNG data URL of a WhatsApp QR is ~5-10 kB
MAX_BODY = 65_536  # WhatsApp caps text near 65k characters
# An instance's priority lies in [-PRIORITY_LIMIT, PRIORITY_LIMIT]: the storage encodes it in a sort key
# that must stay positive, so the bound is part of the contract the public API enforces.
PRIORITY_LIMIT = 1_000_000

# What kind of WhatsApp message an inbound message is (message.type in events, `type` in history).
InboundMessageType = MessageKind
MAX_LABEL = 1_000  # a location's name/address, a poll's question or option, a button's text
MAX_VCARD = 10_000  # a vCard without its photo
MAX_QUOTED_TEXT = 1_000  # the quoted message's text, cut by the sender: a reminder, not a copy
MAX_EMOJI = 32  # characters: one emoji, skin tones and ZWJ sequences included
MAX_POLL_OPTIONS = 32  # received polls, leniently (a newer client may allow more)
SEND_POLL_OPTIONS = 12  # WhatsApp's limit on a poll's options: what the public API lets a poll have
POLL_OPTION_HASH = r"^[0-9a-f]{64}$"  # a vote names options by SHA-256 of their name (whatsmeow HashPollOptions)
