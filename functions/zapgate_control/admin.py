"""Operator commands against a deployed (or local) stack.

    python -m zapgate_control.admin create-key --table <ApiKeysTableName> --tenant acme [--label ci]

prints a new API key once; only its SHA-256 is stored. The table name is the stack output
`ApiKeysTableName`; AWS credentials come from the usual boto3 chain. This is also how a new
tenant comes to exist: the public API only manages keys of the caller's own tenant.

    python -m zapgate_control.admin backfill-key-ids --table <ApiKeysTableName>

gives keys created before key ids existed an id, so that `GET /v1/keys` lists them and
`DELETE /v1/keys/{id}` can revoke them (run once after upgrading).

    python -m zapgate_control.admin redrive-dlq --queue-url <EventsQueueUrl> [--max N]

moves events that exhausted their webhook retries from the dead-letter queue (found through
the queue's RedrivePolicy) back onto the events queue, printing progress (docs/events.md).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from zapgate_control.adapters.dynamodb.api_keys import backfill_ids, put_api_key


def new_api_key() -> str:
    return f"zg_{secrets.token_urlsafe(32)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zapgate_control.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for a tenant (shown once)")
    create.add_argument("--table", default=os.environ.get("API_KEYS_TABLE"), help="ApiKeysTableName stack output")
    create.add_argument("--tenant", required=True)
    create.add_argument("--label", default="")
    backfill = commands.add_parser("backfill-key-ids", help="give pre-existing keys an id (listable, revocable)")
    backfill.add_argument("--table", default=os.environ.get("API_KEYS_TABLE"), help="ApiKeysTableName stack output")
    redrive_dlq = commands.add_parser("redrive-dlq", help="move dead-lettered events back onto the events queue")
    redrive_dlq.add_argument("--queue-url", default=os.environ.get("EVENTS_QUEUE_URL"),
                             help="EventsQueueUrl stack output (its RedrivePolicy names the DLQ)")
    redrive_dlq.add_argument("--max", type=int, default=None, help="move at most N events (default: all)")
    args = parser.parse_args(argv)
    if args.command == "redrive-dlq":
        return _redrive_dlq(parser, args.queue_url, args.max)
    if not args.table:
        parser.error("--table (or API_KEYS_TABLE) is required")
    if args.command == "backfill-key-ids":
        print(f"{backfill_ids(args.table)} key(s) given an id", file=sys.stderr)
        return 0
    key = new_api_key()
    put_api_key(args.table, key, args.tenant, args.label)
    print(key)
    print(f"stored hashed for tenant {args.tenant!r}; this is the only time the key is shown", file=sys.stderr)
    return 0


def _redrive_dlq(parser: argparse.ArgumentParser, queue_url: str | None, max_messages: int | None) -> int:
    from zapgate_control.aws import client
    from zapgate_control.redrive import dead_letter_queue_url, redrive

    if not queue_url:
        parser.error("--queue-url (or EVENTS_QUEUE_URL) is required")
    if max_messages is not None and max_messages < 1:
        parser.error("--max must be at least 1")
    sqs = client("sqs")
    dlq_url = dead_letter_queue_url(sqs, queue_url)
    print(f"redriving {dlq_url} -> {queue_url}", file=sys.stderr)
    result = redrive(sqs, dlq_url, queue_url, max_messages, progress=lambda line: print(line, file=sys.stderr))
    print(f"{result.moved} event(s) redriven" + (f", {result.failed} left in the DLQ" if result.failed else ""))
    return 1 if result.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
