"""Media bytes, content-addressed (MediaBucket)."""

from __future__ import annotations

from typing import Protocol


class MediaStore(Protocol):
    def put(self, data: bytes, mime_type: str | None) -> tuple[str, bool]: ...
    def url(self, sha256: str) -> str: ...
