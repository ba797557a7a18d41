"""LivePusher on API Gateway's management API: POST @connections/{id} of the WebSocket stage.

`endpoint_url` is LIVE_ENDPOINT_URL (https://<api>.execute-api.<region>.amazonaws.com/live in AWS;
the local gateway serves the same paths). A connection API Gateway no longer knows answers 410
GoneException: reported as GONE so the caller forgets it. Anything else raises.
"""

from __future__ import annotations

from zapgate_control.aws import client
from zapgate_core.domain.live import PUSH_GONE, PUSH_SENT


def _is_gone(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code == "GoneException" or status == 410


class ApiGatewayLivePusher:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def post(self, connection_id: str, data: bytes) -> str:
        try:
            client("apigatewaymanagementapi", self.endpoint_url).post_to_connection(
                ConnectionId=connection_id, Data=data
            )
        except Exception as exc:
            if _is_gone(exc):
                return PUSH_GONE
            raise
        return PUSH_SENT
