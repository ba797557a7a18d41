"""A presigned upload of outbound media: what the public API answers and the media store produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresignedUpload:
    """Where a client POSTs one file (multipart form: `fields`, then `file`), and where it is read afterwards."""

    url: str
    fields: dict[str, str]
    media_url: str  # a presigned GET of the uploaded object: pass it as media_url when sending
    expires_in: int  # seconds the upload form stays valid
    upload_id: str  # the object's id (a uuid) under the tenant's uploads: a rule's media reply names it
