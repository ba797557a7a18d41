"""What WhatsApp accepts per media type: MIME types and sizes (the Cloud API's published limits).

Checked when a client asks for an upload and when it sends a media_url with a mime_type, so a
file WhatsApp would refuse fails now with 413/415 instead of later in the sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRule:
    max_bytes: int
    mime_types: frozenset[str] | None  # None: any type (documents)


RULES: dict[str, MediaRule] = {
    "image": MediaRule(5 * MB, frozenset({"image/jpeg", "image/png", "image/webp"})),
    "video": MediaRule(16 * MB, frozenset({"video/mp4", "video/3gpp"})),
    "audio": MediaRule(
        16 * MB, frozenset({"audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4", "audio/amr", "audio/opus"})
    ),
    "document": MediaRule(100 * MB, None),
    # WhatsApp's sticker limits are 100 KB static / 500 KB animated; 1 MB leaves room without admitting files
    # no client would show as a sticker.
    "sticker": MediaRule(1 * MB, frozenset({"image/webp"})),
}


class MediaRejected(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def check_media(media_type: str, mime_type: str | None, size: int | None) -> None:
    """Raises MediaRejected: 415 for a MIME type the kind does not take, 413 above its size."""
    rule = RULES[media_type]
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if rule.mime_types is not None and mime and mime not in rule.mime_types:
        allowed = ", ".join(sorted(rule.mime_types))
        raise MediaRejected(415, "unsupported_media_type", f"{media_type} takes {allowed}, not {mime}")
    if size is not None and size > rule.max_bytes:
        raise MediaRejected(413, "media_too_large", f"{media_type} is limited to {rule.max_bytes // MB} MB")
