"""What moto's API Gateway management API received: every frame posted to a connection, decoded."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

ACCOUNT, REGION = "123456789012", "us-east-1"


def pushed(connection_id: str) -> list[dict[str, Any]]:
    """Every JSON document posted to the connection, in order (moto concatenates the posts)."""
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    connections = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections
    key = quote(connection_id, safe="")  # moto keys connections by the id as it is in the URL path
    if key not in connections:
        return []
    text, found, decoder = connections[key].data.decode(), [], json.JSONDecoder()
    while text:
        value, end = decoder.raw_decode(text)
        found.append(value)
        text = text[end:]
    return found
