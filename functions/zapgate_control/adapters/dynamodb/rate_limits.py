"""Per-tenant request counters: a fixed one-minute window, one conditional UpdateItem per request.

The counter of tenant T for the window starting at epoch second S is the item
`key_hash = "rl#<S>#<T>"` in the API keys table (it has no tenant_id, so the keys index never
sees it). `ADD hits :one` only while `hits < limit`: a refused request is not counted, so a
client that waits for Retry-After gets in. The item expires through the table's TTL
(`expires_at_epoch`) a minute after its window ends; nothing ever reads an old window again.
"""

from __future__ import annotations

from zapgate_control.adapters.dynamodb.codec import is_conditional_failure, to_item, to_values
from zapgate_control.aws import client
from zapgate_control.clock import Clock, system_clock

PREFIX = "rl#"
WINDOW_S = 60
# DynamoDB throttles one item beyond ~1000 writes/s: only a tenant far over its limit gets there.
_THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}


def counter_key(tenant_id: str, window_start_s: int) -> str:
    return f"{PREFIX}{window_start_s}#{tenant_id}"


class DynamoRateLimiter:
    def __init__(self, table: str, limit: int, window_s: int = WINDOW_S, clock: Clock = system_clock) -> None:
        self.table = table
        self.limit = limit  # 0 or less: no limit, and no DynamoDB request
        self.window_s = window_s
        self.clock = clock

    def hit(self, tenant_id: str) -> int | None:
        """Count one request of the tenant: None if it may proceed, else seconds until the window ends."""
        if self.limit <= 0:
            return None
        now_ms = self.clock()
        window_ms = self.window_s * 1000
        start_s = now_ms // window_ms * self.window_s
        retry_after = max(1, -(-((start_s + self.window_s) * 1000 - now_ms) // 1000))  # ceil, at least 1 s
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=to_item({"key_hash": counter_key(tenant_id, start_s)}),
                UpdateExpression="ADD hits :one SET expires_at_epoch = :expires",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues=to_values(
                    {":one": 1, ":limit": self.limit, ":expires": start_s + 2 * self.window_s}
                ),
            )
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if is_conditional_failure(exc) or code in _THROTTLED:
                return retry_after
            raise
        return None
