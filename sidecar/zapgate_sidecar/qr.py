"""QR codes: a PNG data URL for update-status, and a terminal rendering for local runs."""

from __future__ import annotations

import io

import segno


def png_data_url(code: str) -> str:
    return segno.make(code, error="L").png_data_uri(scale=5, border=2)


def terminal_text(code: str) -> str:
    buffer = io.StringIO()
    segno.make(code, error="L").terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue()
