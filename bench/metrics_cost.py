"""What one `GET /v1/instances/{id}/metrics` costs, by the number of messages in its window.

For each size N: a fresh instance gets N outbound messages through the real lifecycle (enqueue, claim,
mark-sent with the sidecar's usual send_debug) and N inbound messages (a 60-character text from a
contact, as /inbound stores it), all inside the window; a few more wait on the queue. Then the real
public app answers the metrics call (TestClient, moto), and the script reports:

- the DynamoDB requests the call made (a botocore hook on the app's client), by operation;
- the read units AWS would bill for them, computed with the on-demand rules of bench/aws_prices.json
  (bench/idle_cost.py: one unit per started 4 KB of what one Query reads, summed over its items before
  any projection, half for an index; a GetItem likewise) from the stored items themselves. moto reports a
  fixed figure per request, so the `read_units` the endpoint answers is only meaningful on AWS;
- the wall time of the call against moto (a local emulator: an upper bound of the in-Lambda work,
  not a latency prediction);
- the per-message storage size of each direction, which is what the cost is proportional to.

Usage: .venv/bin/python bench/metrics_cost.py [--sizes 100,1000,3000]
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from dynamodb_ops import API_KEY, TENANT, configure
from idle_cost import item_size, read_units

from zapgate_devstack.emulator import MotoServer

PRICES = json.loads((Path(__file__).with_name("aws_prices.json")).read_text())["dynamodb_on_demand"]
QUEUED = 5  # messages left waiting on the queue
PAGE = 1_000  # the adapter's page (adapters/dynamodb/message_metrics.py PAGE_ITEMS)


def _fill(env: dict[str, str], instance_id: str, n: int) -> None:
    from zapgate_control.adapters.dynamodb.messages import DynamoMessageStore
    from zapgate_control.ports.messages import InboundContent, MarkFields
    from zapgate_core.contract.outbound_content import OutboundContent
    from zapgate_core.domain.outbound import ClaimPolicy, MessageState

    store = DynamoMessageStore(env["MESSAGES_TABLE"])
    policy = ClaimPolicy()
    body = "Olá! Seu pedido 12345 saiu para entrega e chega hoje até as 18h."  # ~60 characters
    for k in range(n):
        to = f"55119{k % 100_000:08d}"
        message = store.enqueue(TENANT, instance_id, OutboundContent(to=to, body=body))
        store.claim(instance_id, 1, policy)
        store.mark(message.id, MessageState.SENT, MarkFields(
            wa_message_id=f"3EB0{k:016X}",
            send_debug={"to": to, "media_type": None, "jid": f"{to}@s.whatsapp.net", "elapsed_ms": 412.3},
        ))  # fmt: skip
        chat = f"{to}@s.whatsapp.net"
        store.put_inbound(f"in-{instance_id}-{k}", instance_id, TENANT, InboundContent(
            from_=chat, chat_id=chat, chat_type="direct", body=body, wa_message_id=f"3A{k:018X}",
            push_name="Maria Silva", wa_timestamp="2026-12-03T12:00:00Z", sender_jid_raw=chat,
        ))  # fmt: skip
    for _ in range(QUEUED):
        store.enqueue(TENANT, instance_id, OutboundContent(to="5511999999999", body=body))


def _billed(env: dict[str, str], instance_id: str) -> dict[str, float]:
    """RRU AWS would bill the call's Queries: each page's full index entries summed, then rounded once."""
    from zapgate_control.aws import client

    dynamodb = client("dynamodb")

    def pages(index: str, key: str, value: str) -> tuple[float, int, int]:
        units, items, total_bytes = 0.0, 0, 0
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": env["MESSAGES_TABLE"], "IndexName": index, "KeyConditionExpression": f"{key} = :v",
                "ExpressionAttributeValues": {":v": {"S": value}}, "Limit": PAGE,
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = dynamodb.query(**request)
            entries = response.get("Items", [])
            size = sum(item_size(entry) for entry in entries)
            units += read_units(size, consistent=False)
            items, total_bytes = items + len(entries), total_bytes + size
            start = response.get("LastEvaluatedKey")
            if not start:
                return units, items, total_bytes

    out_units, out_items, out_bytes = pages("timeline", "timeline_pk", f"{instance_id}#outbound")
    in_units, in_items, in_bytes = pages("timeline", "timeline_pk", f"{instance_id}#inbound")
    # The queue index holds keys + state, lease_expires_at, claim_count (its INCLUDE projection).
    raw = dynamodb.query(TableName=env["MESSAGES_TABLE"], IndexName="outbound_queue",
                         KeyConditionExpression="queue_pk = :v", ExpressionAttributeValues={":v": {"S": instance_id}})
    wanted = {"id", "queue_pk", "queue_sk", "state", "lease_expires_at", "claim_count"}
    queue_bytes = sum(item_size({k: v for k, v in e.items() if k in wanted}) for e in raw.get("Items", []))
    instance = dynamodb.get_item(TableName=env["INSTANCES_TABLE"], Key={"id": {"S": instance_id}})["Item"]
    return {
        "outbound": out_units, "inbound": in_units, "queue": read_units(queue_bytes, consistent=False),
        "instance": read_units(item_size(instance), consistent=False),
        "outbound_bytes_each": out_bytes / max(1, out_items), "inbound_bytes_each": in_bytes / max(1, in_items),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000", help="messages per direction in the window")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    warnings.filterwarnings("ignore")
    server = MotoServer().start()
    try:
        env = configure(server)
        from fastapi.testclient import TestClient

        from zapgate_control.adapters.dynamodb.api_keys import put_api_key
        from zapgate_control.aws import client
        from zapgate_public_api.app import app

        put_api_key(env["API_KEYS_TABLE"], API_KEY, TENANT, "bench")
        api = TestClient(app, headers={"X-API-Key": API_KEY})
        calls: Counter[str] = Counter()
        client("dynamodb").meta.events.register(
            "before-parameter-build.dynamodb", lambda model, **_: calls.update([model.name])
        )
        usd = PRICES["usd_per_million_read_request_units"] / 1e6
        print("| messages per direction in the window | DynamoDB requests | RRU billed (out + in + queue + instance) "
              "| USD per call | per 1,000 calls | wall time vs moto |")
        print("|---|---|---|---|---|---|")
        for n in sizes:
            instance_id = api.post("/v1/instances", json={"name": f"bench-{n}"}).json()["id"]
            _fill(env, instance_id, n)
            calls.clear()
            started = time.perf_counter()
            body = api.get(f"/v1/instances/{instance_id}/metrics", params={"hours": 24}).json()
            elapsed = time.perf_counter() - started
            assert body["totals"]["sent"] == n and body["totals"]["received"] == n, body["totals"]
            assert body["queue"]["depth"] == QUEUED
            requests = {k: v for k, v in calls.items() if k != "UpdateItem"}  # the rate limit's counter aside
            billed = _billed(env, instance_id)
            units = billed["outbound"] + billed["inbound"] + billed["queue"] + billed["instance"]
            print(f"| {n:,} | {', '.join(f'{v} {k}' for k, v in sorted(requests.items()))} "
                  f"| {billed['outbound']:g} + {billed['inbound']:g} + {billed['queue']:g} + {billed['instance']:g}"
                  f" = {units:g} | ${units * usd:.7f} | ${units * usd * 1000:.4f} | {elapsed * 1000:.0f} ms |")
        print(f"\nstored size per message: outbound {billed['outbound_bytes_each']:.0f} B, "
              f"inbound {billed['inbound_bytes_each']:.0f} B "
              f"(=> ~{4096 / billed['outbound_bytes_each']:.0f} / ~{4096 / billed['inbound_bytes_each']:.0f} "
              f"messages per 0.5 RRU); a capped read (10,000 per direction) bills at most "
              f"~{math.ceil(10_000 * billed['outbound_bytes_each'] / 4096) / 2:g} + "
              f"~{math.ceil(10_000 * billed['inbound_bytes_each'] / 4096) / 2:g} RRU at these sizes")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
