"""Operator commands against a deployed (or local) stack.

    python -m zapgate_control.admin create-key --table <ApiKeysTableName> --tenant acme [--label ci]

prints a new API key once; only its SHA-256 is stored. The table name is the stack output
`ApiKeysTableName`; AWS credentials come from the usual boto3 chain.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from zapgate_control.adapters.dynamodb.api_keys import put_api_key


def new_api_key() -> str:
    return f"zg_{secrets.token_urlsafe(32)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zapgate_control.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for a tenant (shown once)")
    create.add_argument("--table", default=os.environ.get("API_KEYS_TABLE"), help="ApiKeysTableName stack output")
    create.add_argument("--tenant", required=True)
    create.add_argument("--label", default="")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table (or API_KEYS_TABLE) is required")
    key = new_api_key()
    put_api_key(args.table, key, args.tenant, args.label)
    print(key)
    print(f"stored hashed for tenant {args.tenant!r}; this is the only time the key is shown", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
