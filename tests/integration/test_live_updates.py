"""Live updates against moto: tickets, the WebSocket Lambda's routes, and the events processor pushing
to live connections through moto's API Gateway management API (it records what each connection got).

The Lambda is called with API Gateway WebSocket events as AWS sends them; the processor runs as in
test_events_pipeline (the real handler fed by the devstack's SQS poller).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, OTHER_API_KEY
from tests.integration.background import BackgroundApp
from tests.integration.management_api import pushed as _pushed
from tests.integration.outbox import publish
from tests.integration.worker_client import make_instance, worker_client
from zapgate_devstack.events_worker import EventsWorker, LambdaContext, sqs_event
from zapgate_devstack.webhook_receiver import Receiver

ACCOUNT, REGION = "123456789012", "us-east-1"


# ------------------------------------------------------------------ helpers
def _public(key: str = API_KEY) -> TestClient:
    from zapgate_public_api.app import app

    return TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False)


def _ws_event(route: str, connection_id: str, *, query: dict[str, list[str]] | None = None,
              headers: dict[str, str] | None = None, body: str | None = None) -> dict[str, Any]:
    """What API Gateway hands the function for a WebSocket route (the fields it reads, as AWS names them)."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {"routeKey": route, "eventType": event_type, "connectionId": connection_id,
                           "requestId": str(uuid.uuid4()), "stage": "live", "apiId": "liveapi"},
        "isBase64Encoded": False,
    }
    if route == "$connect":
        query = query or {}
        event["headers"] = {"Host": "liveapi.execute-api.us-east-1.amazonaws.com", **(headers or {})}
        event["queryStringParameters"] = {name: values[-1] for name, values in query.items()} or None
        event["multiValueQueryStringParameters"] = query or None
    if body is not None:
        event["body"] = body
    return event


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    from zapgate_live.handler import handler

    return dict(handler(event, LambdaContext(function_name="LiveFunction-test")))


def _connect(connection_id: str, **kwargs: Any) -> int:
    return int(_invoke(_ws_event("$connect", connection_id, **kwargs))["statusCode"])


def _say(connection_id: str, message: Any) -> dict[str, Any]:
    body = message if isinstance(message, str) else json.dumps(message)
    answer = _invoke(_ws_event("$default", connection_id, body=body))
    assert answer["statusCode"] == 200
    return dict(json.loads(answer["body"]))


def _ticket(key: str = API_KEY) -> dict[str, Any]:
    response = _public(key).post("/v1/live/tickets")
    assert response.status_code == 201, response.text
    return dict(response.json())


def _item(env: dict[str, str], connection_id: str) -> dict[str, Any] | None:
    from zapgate_control.adapters.dynamodb.codec import from_item
    from zapgate_control.aws import client

    raw = client("dynamodb").get_item(TableName=env["LIVE_CONNECTIONS_TABLE"],
                                      Key={"connection_id": {"S": connection_id}}, ConsistentRead=True)
    return from_item(raw.get("Item"))


def _cid() -> str:
    return f"c{uuid.uuid4().hex[:14]}="  # API Gateway ids look like "L0SM9cOFvHcCIhw="


@pytest.fixture
def env(aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    from zapgate_events import handler as events_handler
    from zapgate_live import handler as live_handler

    events_handler.deps.cache_clear()
    live_handler.deps.cache_clear()
    yield aws_env
    events_handler.deps.cache_clear()
    live_handler.deps.cache_clear()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver(out=lambda line: None)
    with BackgroundApp(hook.app) as server:
        yield hook, f"{server.url}/hook"


def _drain(env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    publish(env)  # the events outbox: message events reach the queue from MessagesTable's stream
    result = EventsWorker(client("sqs"), env["EVENTS_QUEUE_URL"]).drain()
    assert result.failed == 0 and not result.crashed


def _inbound(instance_id: str, wa_id: str) -> dict[str, Any]:
    return {"instanceId": instance_id, "from": "5511988887777@s.whatsapp.net", "body": "olá", "wa_message_id": wa_id,
            "chat_id_norm": "5511988887777@s.whatsapp.net", "sender_jid_raw": "5511988887777@s.whatsapp.net"}


# ------------------------------------------------------------------ tickets and $connect
def test_a_ticket_opens_one_connection_once_and_is_stored_only_hashed(env: dict[str, str]) -> None:
    from zapgate_control.aws import client

    issued = _ticket()
    assert issued["expiresInSeconds"] == 60
    assert issued["url"] == f"{env['LIVE_URL']}?ticket={issued['ticket']}"
    stored = json.dumps(client("dynamodb").scan(TableName=env["LIVE_CONNECTIONS_TABLE"])["Items"])
    assert issued["ticket"] not in stored  # only its hash
    assert hashlib.sha256(issued["ticket"].encode()).hexdigest() in stored

    first, second = _cid(), _cid()
    assert _connect(first, query={"ticket": [issued["ticket"]]}) == 200
    connection = _item(env, first)
    assert connection is not None and connection["tenant_id"] == "tenant-a" and "instance_ids" not in connection
    now = time.time()
    assert now + 2 * 3600 < connection["ttl"] < now + 2 * 3600 + 15 * 60  # outlives API Gateway's 2 h cap
    assert connection["connected_at"].endswith("Z")
    assert _connect(second, query={"ticket": [issued["ticket"]]}) == 401  # used
    assert _item(env, second) is None
    assert client("dynamodb").scan(TableName=env["LIVE_CONNECTIONS_TABLE"])["Count"] == 1  # the ticket is gone


def test_unknown_expired_and_missing_credentials_are_refused(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.live_connections import DynamoLiveConnectionStore
    from zapgate_core.domain.live import ticket_key

    DynamoLiveConnectionStore(env["LIVE_CONNECTIONS_TABLE"]).put_ticket(
        ticket_key("zlt_expired"), "tenant-a", int(time.time()) - 1)  # not yet swept by the TTL
    for kwargs in ({"query": {"ticket": ["zlt_expired"]}}, {"query": {"ticket": ["zlt_never-issued"]}},
                   {"query": {"ticket": ["x" * 300]}}, {}, {"headers": {"X-API-Key": "wrong-key"}},
                   {"headers": {"Authorization": f"Basic {API_KEY}"}}):
        connection_id = _cid()
        assert _connect(connection_id, **kwargs) == 401, kwargs
        assert _item(env, connection_id) is None


def test_server_clients_connect_with_their_api_key_in_a_header(env: dict[str, str]) -> None:
    by_key, by_bearer = _cid(), _cid()
    assert _connect(by_key, headers={"x-api-key": API_KEY}) == 200
    assert _connect(by_bearer, headers={"Authorization": f"Bearer {OTHER_API_KEY}"}) == 200
    assert (_item(env, by_key) or {})["tenant_id"] == "tenant-a"
    assert (_item(env, by_bearer) or {})["tenant_id"] == "tenant-b"


def test_instance_ids_on_connect_must_all_be_the_tenants(env: dict[str, str]) -> None:
    mine, also_mine = make_instance(env)["id"], make_instance(env, "second")["id"]
    theirs = make_instance(env, tenant="tenant-b")["id"]
    refused = _cid()
    ticket = _ticket()["ticket"]
    assert _connect(refused, query={"ticket": [ticket], "instanceId": [mine, theirs]}) == 403
    assert _item(env, refused) is None
    assert _connect(_cid(), query={"ticket": [_ticket()["ticket"]], "instanceId": ["no-such-instance"]}) == 403

    subscribed = _cid()
    query = {"ticket": [_ticket()["ticket"]], "instanceId": [f"{also_mine},{mine}", mine]}
    assert _connect(subscribed, query=query) == 200
    assert (_item(env, subscribed) or {})["instance_ids"] == sorted([mine, also_mine])


def test_messages_ping_subscribe_and_errors(env: dict[str, str]) -> None:
    mine, theirs = make_instance(env)["id"], make_instance(env, tenant="tenant-b")["id"]
    connection_id = _cid()
    assert _connect(connection_id, headers={"X-API-Key": API_KEY}) == 200

    assert _say(connection_id, {"action": "ping"}) == {"type": "pong"}
    refused = _say(connection_id, {"action": "subscribe", "instanceIds": [mine, theirs]})
    assert refused == {"type": "error", "error": {"code": "not_found", "message": "instance not found"}}
    assert "instance_ids" not in (_item(env, connection_id) or {})  # nothing changed
    assert _say(connection_id, {"action": "subscribe", "instanceIds": [mine]}) == {
        "type": "subscribed", "instanceIds": [mine]}
    assert (_item(env, connection_id) or {})["instance_ids"] == [mine]
    assert _say(connection_id, {"action": "subscribe", "instanceIds": []})["instanceIds"] is None  # all again
    assert "instance_ids" not in (_item(env, connection_id) or {})

    for message, code in (("not json", "malformed_json"), ([1, 2], "malformed_json"), ({"action": "dance"},
                          "unknown_action"), ({"action": "subscribe", "instanceIds": "x"}, "validation_error")):
        answer = _say(connection_id, message)
        assert answer["type"] == "error" and answer["error"]["code"] == code, (message, answer)
    # A message on a connection that is not (or no longer) registered changes nothing.
    stranger = _cid()
    assert _say(stranger, {"action": "subscribe", "instanceIds": [mine]})["error"]["code"] == "not_connected"
    assert _item(env, stranger) is None


def test_disconnect_forgets_the_connection_and_is_idempotent(env: dict[str, str]) -> None:
    connection_id = _cid()
    assert _connect(connection_id, headers={"X-API-Key": API_KEY}) == 200
    assert _item(env, connection_id) is not None
    for _ in range(2):
        assert _invoke(_ws_event("$disconnect", connection_id))["statusCode"] == 200
    assert _item(env, connection_id) is None


# ------------------------------------------------------------------ pushing (events processor)
def test_the_processor_pushes_to_the_tenants_subscribed_connections_only(env: dict[str, str]) -> None:
    instance, other_instance = make_instance(env)["id"], make_instance(env, "other")["id"]
    everything, only_this, only_other, tenant_b = _cid(), _cid(), _cid(), _cid()
    assert _connect(everything, headers={"X-API-Key": API_KEY}) == 200
    assert _connect(only_this, query={"ticket": [_ticket()["ticket"]], "instanceId": [instance]}) == 200
    assert _connect(only_other, query={"ticket": [_ticket()["ticket"]], "instanceId": [other_instance]}) == 200
    assert _connect(tenant_b, headers={"X-API-Key": OTHER_API_KEY}) == 200

    stored = worker_client().post("/worker-proxy/inbound", json=_inbound(instance, "L1")).json()
    _drain(env)
    for connection_id in (everything, only_this):
        (event,) = _pushed(connection_id)
        assert event["type"] == "MESSAGE_INBOUND" and event["instanceId"] == instance
        assert event["payload"]["message"]["id"] == stored["id"]
    assert _pushed(only_other) == []  # subscribed to another instance
    assert _pushed(tenant_b) == []  # another tenant's connection


def test_a_new_qr_is_pushed_live_and_never_reaches_webhooks(
    env: dict[str, str], receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    created = _public().post("/v1/webhooks", json={"url": url})  # every type
    assert created.status_code == 201
    hook.secret = created.json()["secret"]
    instance = make_instance(env)["id"]
    connection_id = _cid()
    assert _connect(connection_id, headers={"X-API-Key": API_KEY}) == 200
    qr = "data:image/png;base64,iVBORw0KGgoQR1"
    for body in ({"status": "CONNECTING", "qr_code": qr}, {"status": "CONNECTING", "qr_code": qr},  # same QR
                 {"status": "CONNECTING", "qr_code": qr + "2"}):
        response = worker_client().post("/worker-proxy/update-status", json={"instanceId": instance, **body})
        assert response.status_code == 200
    _drain(env)

    pushed = _pushed(connection_id)
    assert sorted(e["type"] for e in pushed) == ["INSTANCE_QR", "INSTANCE_QR", "INSTANCE_STATUS"]
    assert [e["payload"]["qr"] for e in pushed if e["type"] == "INSTANCE_QR"] == [qr, qr + "2"]
    assert all(e["instanceId"] == instance for e in pushed)
    assert [d.type for d in hook.deliveries] == ["INSTANCE_STATUS"]  # the webhook never sees a QR
    assert "data:image" not in json.dumps([d.body for d in hook.deliveries])


def test_a_retried_record_is_not_pushed_again_and_connections_are_read_once_per_batch(env: dict[str, str]) -> None:
    from zapgate_control.aws import client
    from zapgate_events import handler

    instance = make_instance(env)["id"]
    connection_id = _cid()
    assert _connect(connection_id, headers={"X-API-Key": API_KEY}) == 200
    for n in range(3):
        worker_client().post("/worker-proxy/inbound", json=_inbound(instance, f"B{n}"))
    publish(env)
    queue = env["EVENTS_QUEUE_URL"]
    messages = client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                             AttributeNames=["All"])["Messages"]
    assert len(messages) == 3

    queries: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == env["LIVE_CONNECTIONS_TABLE"]:
            queries.append(params.get("IndexName", ""))

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.Query", count)
    try:
        answer = handler.handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext())
        assert answer == {"batchItemFailures": []}
        assert queries == ["by_tenant"]  # one Query for the tenant, for the whole batch
        assert len(_pushed(connection_id)) == 3

        for message in messages:
            message["Attributes"]["ApproximateReceiveCount"] = "2"  # SQS handing the same records out again
        answer = handler.handler(sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:q"), LambdaContext())
        assert answer == {"batchItemFailures": []}
    finally:
        client("dynamodb").meta.events.unregister("provide-client-params.dynamodb.Query", count)
    assert len(_pushed(connection_id)) == 3  # live updates are pushed once; retries are for webhooks
    assert queries == ["by_tenant"]


def test_a_gone_connection_is_deleted_and_other_push_failures_never_fail_the_record(env: dict[str, str]) -> None:
    from zapgate_control.adapters.dynamodb.live_connections import DynamoLiveConnectionStore
    from zapgate_control.adapters.live_push import ApiGatewayLivePusher
    from zapgate_control.services.live import LiveFanout
    from zapgate_core.domain.live import PUSH_GONE

    instance = make_instance(env)["id"]
    gone, broken, alive = _cid(), _cid(), _cid()
    for connection_id in (gone, broken, alive):
        assert _connect(connection_id, headers={"X-API-Key": API_KEY}) == 200

    class Flaky(ApiGatewayLivePusher):
        def post(self, connection_id: str, data: bytes) -> str:
            if connection_id == gone:
                return PUSH_GONE
            if connection_id == broken:
                raise TimeoutError("read timeout")
            return super().post(connection_id, data)

    store = DynamoLiveConnectionStore(env["LIVE_CONNECTIONS_TABLE"])
    fanout = LiveFanout(store, Flaky(env["LIVE_ENDPOINT_URL"]))
    envelope = {"id": "e1", "type": "INSTANCE_STATUS", "instanceId": instance, "timestamp": "t", "payload": {}}
    assert fanout.push("tenant-a", envelope) == 1
    assert _item(env, gone) is None  # forgotten
    assert _item(env, broken) is not None and _item(env, alive) is not None
    assert _pushed(alive) == [envelope]
    assert fanout.push("tenant-a", {**envelope, "id": "e2"}) == 1  # the cached list no longer holds it
    assert [e["id"] for e in _pushed(alive)] == ["e1", "e2"]


def test_the_management_api_adapter_maps_410_to_gone(env: dict[str, str]) -> None:
    from botocore.stub import Stubber

    from zapgate_control.adapters.live_push import ApiGatewayLivePusher
    from zapgate_control.aws import client

    pusher = ApiGatewayLivePusher(env["LIVE_ENDPOINT_URL"])
    assert pusher.post("real-one", b'{"a":1}') == "sent"
    assert _pushed("real-one") == [{"a": 1}]
    with Stubber(client("apigatewaymanagementapi", env["LIVE_ENDPOINT_URL"])) as stub:
        stub.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)
        assert pusher.post("closed", b"{}") == "gone"
        stub.add_client_error("post_to_connection", service_error_code="LimitExceededException",
                              http_status_code=429)
        with pytest.raises(Exception, match="LimitExceeded"):
            pusher.post("busy", b"{}")


def test_webhooks_cannot_subscribe_to_the_live_only_qr_event(env: dict[str, str]) -> None:
    response = _public().post("/v1/webhooks", json={"url": "https://app.example/h", "events": ["INSTANCE_QR"]})
    assert response.status_code == 422
    assert _public().get("/v1/webhooks").json() == {"webhooks": []}
