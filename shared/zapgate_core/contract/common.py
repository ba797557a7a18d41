"""Types and limits both APIs share. Kept apart from the worker-proxy models so the public API
can use them without building the whole contract's schemas on a cold start."""

from __future__ import annotations

from typing import Literal

Status = Literal["CONNECTING", "CONNECTED", "DISCONNECTED"]
MediaType = Literal["image", "video", "audio", "document"]
JidType = Literal["lid", "pn"]

MAX_ID = 200  # ids, owners and tokens are short; anything longer is a client bug, not data
MAX_QR_CODE = 64_000  # a PNG data URL of a WhatsApp QR is ~5-10 kB
MAX_BODY = 65_536  # WhatsApp caps text near 65k characters
