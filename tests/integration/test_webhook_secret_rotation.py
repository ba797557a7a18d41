"""Rotating a webhook's signing secret: the new secret is shown once, deliveries carry both signatures
for the grace period (so a receiver still holding the old secret keeps verifying), then only the new one.
Deliveries go through the real processor handler to a real local receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.background import BackgroundApp
from tests.integration.test_events_eventbridge import _event, _publish, _worker
from tests.integration.test_events_pipeline import _public, _webhook
from zapgate_core.domain.webhooks import verify
from zapgate_devstack.webhook_receiver import Receiver


@pytest.fixture
def receiver(aws_env: dict[str, str]) -> Iterator[tuple[Receiver, str]]:
    from zapgate_events import handler

    handler.deps.cache_clear()
    hook = Receiver(out=lambda line: None)
    with BackgroundApp(hook.app) as server:
        yield hook, f"{server.url}/hook"
    handler.deps.cache_clear()


def test_a_rotated_secret_signs_beside_the_old_one_until_the_grace_ends(
    aws_env: dict[str, str], receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    created = _webhook(url)
    old_secret = created["secret"]

    rotated = _public().post(f"/v1/webhooks/{created['id']}/secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert rotated.json()["previous_secret_valid_until"].endswith("Z")
    listed = _public().get("/v1/webhooks").json()["webhooks"]
    assert old_secret not in str(listed) and new_secret not in str(listed)  # shown once, never listed

    _publish(aws_env, _event())
    assert _worker(aws_env).drain().failed == 0
    (delivery,) = hook.deliveries
    assert delivery.signature.count("v1=") == 2
    for secret in (old_secret, new_secret):  # a receiver on either secret accepts it
        assert verify(secret, delivery.timestamp, delivery.body, delivery.signature)

    # Once the grace has passed, only the new secret signs.
    from zapgate_control.aws import client

    client("dynamodb").update_item(
        TableName=aws_env["WEBHOOKS_TABLE"], Key={"tenant_id": {"S": "tenant-a"}, "webhook_id": {"S": created["id"]}},
        UpdateExpression="SET previous_secret_until = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    _publish(aws_env, _event())
    assert _worker(aws_env).drain().failed == 0
    latest = hook.deliveries[-1]
    assert latest.signature.count("v1=") == 1
    assert verify(new_secret, latest.timestamp, latest.body, latest.signature)
    assert not verify(old_secret, latest.timestamp, latest.body, latest.signature)


def test_rotating_another_tenants_or_an_unknown_webhook_is_a_404_and_changes_nothing(
    aws_env: dict[str, str], receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    created = _webhook(url, hook)  # tenant A's; the receiver verifies with its secret
    for key, webhook_id in ((OTHER_API_KEY, created["id"]), (API_KEY, "wh_00000000000000000000000000000000")):
        answer = _public(key).post(f"/v1/webhooks/{webhook_id}/secret")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    _publish(aws_env, _event())
    assert _worker(aws_env).drain().failed == 0
    (delivery,) = hook.deliveries
    assert delivery.signature_valid is True and delivery.signature.count("v1=") == 1
