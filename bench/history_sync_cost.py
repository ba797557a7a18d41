"""What a history sync costs in DynamoDB, per 1,000 history messages (issue 13).

A fresh instance with `history_sync` on receives 1,000 history messages (20 chats x 50, a 60-character text,
every third one sent by the account, as the sim and neonize deliver them) through the real worker-proxy route
`POST /worker-proxy/history`, in the sidecar's batches of 100 (TestClient, moto). Then the same 10 batches are
sent again (a sidecar retrying after a lost answer). For each pass the script reports:

- the DynamoDB requests made (a botocore hook on the function's client), by operation;
- the write units AWS would bill: per stored item, 1 WRU per started KB on the table plus, for each global
  secondary index the item lands in, 1 WRU per started KB of its index entry (bench/idle_cost.py's rules, on
  the items as stored and the table's indexes as moto describes them). moto reports no consumed capacity;
- the read units: BatchGetItem reads each key eventually consistently, 0.5 RRU per key (found or not);
  the instance's GetItem (its setting and tenant) 0.5 RRU per batch;
- what that is in USD at bench/aws_prices.json's on-demand prices.

Usage: .venv/bin/python bench/history_sync_cost.py [--messages 1000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from dynamodb_ops import TENANT, WORKER_SECRET, configure
from idle_cost import IndexSpec, index_write_units, item_size, table_write_units

from zapgate_devstack.emulator import MotoServer

PRICES = json.loads((Path(__file__).with_name("aws_prices.json")).read_text())["dynamodb_on_demand"]
BATCH = 100  # the sidecar's (contract/own_messages.py MAX_HISTORY_BATCH)
CHATS = 20
BODY = "Olá! Seu pedido 12345 saiu para entrega e chega hoje até as 18h."  # ~60 characters


def _messages(instance_id: str, n: int, now_s: int) -> list[dict[str, Any]]:
    own_jid = "5511999990000:3@s.whatsapp.net"
    found = []
    for k in range(n):
        chat = f"55119{k % CHATS:08d}@s.whatsapp.net"
        own = k % 3 == 0
        found.append({"instanceId": instance_id, "from": own_jid if own else chat, "to": chat if own else own_jid,
                      "body": BODY, "wa_message_id": f"3EB0{k:016X}", "from_me": own, "chat_id_norm": chat,
                      "chat_type": "direct", "sender_jid_raw": own_jid if own else chat, "push_name": "Maria Silva",
                      "timestamp": now_s - 3600 - k})
    return found


def _indexes(table: str) -> tuple[tuple[str, ...], list[IndexSpec]]:
    from zapgate_control.aws import client

    described = client("dynamodb").describe_table(TableName=table)["Table"]
    keys = tuple(k["AttributeName"] for k in described["KeySchema"])
    specs = []
    for index in described.get("GlobalSecondaryIndexes", []):
        projection = index.get("Projection") or {}
        specs.append(IndexSpec(index["IndexName"], tuple(k["AttributeName"] for k in index["KeySchema"]),
                               projection.get("ProjectionType", "ALL"), tuple(projection.get("NonKeyAttributes", []))))
    return keys, specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    n = parser.parse_args().messages
    warnings.filterwarnings("ignore")
    server = MotoServer().start()
    try:
        env = configure(server)
        from fastapi.testclient import TestClient

        from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore
        from zapgate_control.adapters.dynamodb.own_messages import DynamoOwnMessageStore
        from zapgate_control.aws import client
        from zapgate_control.ports.own_messages import HistorySyncSetting
        from zapgate_core.domain.ids import inbound_id
        from zapgate_worker_proxy.app import app

        instance = DynamoInstanceStore(env["INSTANCES_TABLE"]).create(TENANT, "history-bench", 0, True)
        DynamoOwnMessageStore(env["MESSAGES_TABLE"], env["INSTANCES_TABLE"]).set_history_setting(
            TENANT, instance.id, HistorySyncSetting(enabled=True, days=30))
        worker = TestClient(app, headers={"Authorization": f"Bearer {WORKER_SECRET}"})
        calls: Counter[str] = Counter()
        client("dynamodb").meta.events.register(
            "before-parameter-build.dynamodb", lambda model, **_: calls.update([model.name]))
        messages = _messages(instance.id, n, int(time.time()))
        keys, indexes = _indexes(env["MESSAGES_TABLE"])
        wru_usd = PRICES["usd_per_million_write_request_units"] / 1e6
        rru_usd = PRICES["usd_per_million_read_request_units"] / 1e6
        print("| pass | messages | stored | DynamoDB requests | WRU (table + indexes) | RRU | USD "
              "| wall time vs moto |")
        print("|---|---|---|---|---|---|---|---|")
        for name in ("first upload", "the same batches again (retry)"):
            calls.clear()
            stored = 0
            started = time.perf_counter()
            for start in range(0, n, BATCH):
                answer = worker.post("/worker-proxy/history",
                                     json={"instanceId": instance.id, "messages": messages[start:start + BATCH]})
                assert answer.status_code == 200, answer.text
                stored += answer.json()["stored"]
            elapsed = time.perf_counter() - started
            requests = ", ".join(f"{v} {k}" for k, v in sorted(calls.items()))  # before the script's own reads
            items = []
            if stored:
                for message in messages:
                    got = client("dynamodb").get_item(TableName=env["MESSAGES_TABLE"],
                                                      Key={"id": {"S": inbound_id(instance.id,
                                                                                  message["wa_message_id"])}})
                    items.append(got["Item"])
            table_wru = sum(table_write_units(None, item) for item in items)
            index_wru = sum(index_write_units(None, item, keys, indexes) for item in items)
            rru = 0.5 * n + 0.5 * (n // BATCH)  # BatchGetItem per key + the instance's GetItem per batch
            usd = (table_wru + index_wru) * wru_usd + rru * rru_usd
            print(f"| {name} | {n:,} | {stored:,} | {requests} | {table_wru} + {index_wru} = {table_wru + index_wru} "
                  f"| {rru:g} | ${usd:.5f} | {elapsed * 1000:.0f} ms |")
            if items:
                sizes = [item_size(item) for item in items]
                print(f"\n(item size: {min(sizes)}-{max(sizes)} B; indexes written per item: "
                      f"{', '.join(i.name for i in indexes if i.entry(items[0], keys) is not None)})\n")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
