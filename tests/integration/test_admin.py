"""The operator's create-key command stores only a hash that then authenticates the tenant."""

from __future__ import annotations

import pytest


def test_create_key_prints_once_and_stores_hash(aws_env: dict[str, str], capsys: pytest.CaptureFixture[str],
                                                moto_server: object) -> None:
    from zapgate_control.adapters.dynamodb.api_keys import DynamoApiKeyStore, hash_key
    from zapgate_control.admin import main

    assert main(["create-key", "--table", aws_env["API_KEYS_TABLE"], "--tenant", "acme", "--label", "ci"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("zg_") and len(key) > 40
    store = DynamoApiKeyStore(aws_env["API_KEYS_TABLE"])
    assert store.tenant_for(key) == "acme"
    assert store.tenant_for(key + "x") is None
    items = moto_server.client("dynamodb").scan(TableName=aws_env["API_KEYS_TABLE"])["Items"]  # type: ignore[attr-defined]
    stored = [i for i in items if i["tenant_id"]["S"] == "acme"]
    assert stored[0]["key_hash"]["S"] == hash_key(key)
    assert key not in str(items)
