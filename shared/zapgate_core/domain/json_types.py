"""A name for "a JSON object": what crosses a wire as JSON (event envelopes, stream images) and stays untyped."""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]
