"""cold_start.py's first invocation of each function: an event shaped like the one Lambda receives, chosen
by what invokes the function in template.yaml (an HTTP API request, an SQS record, a DynamoDB stream record
or a WebSocket $connect), each touching DynamoDB for real."""

from __future__ import annotations

import json
import uuid
from typing import Any

from zapgate_devstack.emulator import REGION
from zapgate_devstack.template import resources_of_type

WORKER_SECRET = "bench-worker-secret-0123456789abcdef"
API_KEY = "bench-api-key-tenant-a-0123456789abcdef"
TENANT = "tenant-a"
ACCOUNT = "123456789012"
API_ID = "bench0api1"

# The first request each API serves: a representative read that touches DynamoDB (and, for the
# worker-proxy, Secrets Manager through the bearer check). Keyed by the HttpApi path prefix.
FIRST_REQUESTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "/worker-proxy": (
        "/worker-proxy/eligible-instances",
        "limit=50",
        {"authorization": f"Bearer {WORKER_SECRET}"},
    ),
    "/v1": ("/v1/instances", "limit=50", {"x-api-key": API_KEY}),
}


def http_api_event(method: str, path: str, query: str, headers: dict[str, str], route_key: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, shaped like the ones Lambda receives."""
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "user-agent": "zapgate-bench",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-amzn-trace-id": f"Root=1-00000000-{uuid.uuid4().hex[:24]}",
            **headers,
        },
        "queryStringParameters": dict(part.split("=", 1) for part in query.split("&") if part) or None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "zapgate-bench",
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000,
        },
        "pathParameters": {"proxy": path.split("/", 2)[-1]},
        "isBase64Encoded": False,
    }


def sqs_event(body: str, attributes: dict[str, str], queue_arn: str) -> dict[str, Any]:
    """One SQS record, as Lambda's SQS poller delivers it."""
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": f"bench-{uuid.uuid4().hex}", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767225600000", "SenderId": ACCOUNT,
                       "ApproximateFirstReceiveTimestamp": "1767225600000"},
        "messageAttributes": {name: {"stringValue": value, "dataType": "String", "stringListValues": [],
                                     "binaryListValues": []} for name, value in attributes.items()},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION,
    }]}  # fmt: skip


def dynamodb_stream_event(new_image: dict[str, Any], table_arn: str) -> dict[str, Any]:
    """One INSERT record of a NEW_AND_OLD_IMAGES stream, as Lambda's stream poller delivers it."""
    return {"Records": [{
        "eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": REGION, "eventSourceARN": f"{table_arn}/stream/2026-01-01T00:00:00.000",
        "dynamodb": {"ApproximateCreationDateTime": 1767225600, "Keys": {"id": new_image["id"]},
                     "NewImage": new_image, "SequenceNumber": "100000000000000000001", "SizeBytes": 200,
                     "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }]}  # fmt: skip


def websocket_connect_event(headers: dict[str, str]) -> dict[str, Any]:
    """API Gateway WebSocket $connect (a server client presenting its API key in a header)."""
    return {
        "headers": {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com", **headers},
        "multiValueHeaders": {"Host": [f"{API_ID}.execute-api.{REGION}.amazonaws.com"],
                              **{k: [v] for k, v in headers.items()}},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "messageDirection": "IN",
                           "connectionId": f"bench{uuid.uuid4().hex[:8]}=", "connectedAt": 1767225600000,
                           "requestId": str(uuid.uuid4()), "apiId": API_ID, "stage": "live",
                           "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
                           "identity": {"sourceIp": "203.0.113.7"}},
        "isBase64Encoded": False,
    }  # fmt: skip


def _inbound_image() -> dict[str, Any]:
    """A stored inbound message in DynamoDB JSON (what a stream record carries)."""
    message_id = str(uuid.uuid4())
    return {
        "id": {"S": message_id}, "tenant_id": {"S": TENANT}, "instance_id": {"S": "bench-instance"},
        "direction": {"S": "inbound"}, "state": {"S": "received"}, "body": {"S": "olá"},
        "from": {"S": "5511988887777@s.whatsapp.net"}, "chat_id": {"S": "5511988887777@s.whatsapp.net"},
        "wa_message_id": {"S": f"BENCH{message_id[:8]}"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"},
        "timeline_sk": {"S": f"1767225600000#{message_id}"},
    }  # fmt: skip


def _sources(template: dict[str, Any], logical_id: str) -> list[str]:
    """What invokes the function: its SAM event types, or "WebSocket" when an ApiGatewayV2 integration names it."""
    props = template["Resources"][logical_id]["Properties"]
    kinds = [event.get("Type", "") for event in props.get("Events", {}).values()]
    for integration in resources_of_type(template, "AWS::ApiGatewayV2::Integration").values():
        if logical_id in repr(integration["Properties"].get("IntegrationUri")):
            kinds.append("WebSocket")
    return kinds


def first_event(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A representative first invocation, by what invokes the function: each touches DynamoDB for real."""
    props = template["Resources"][logical_id]["Properties"]
    kinds = _sources(template, logical_id)
    if "HttpApi" in kinds:
        event = next(e for e in props["Events"].values() if e.get("Type") == "HttpApi")
        path = event["Properties"]["Path"]
        prefix, route_key = path.split("/{", 1)[0], f"{event['Properties'].get('Method', 'ANY')} {path}"
        # A function added later without an entry here still gets timed: a GET on its prefix.
        request_path, query, headers = FIRST_REQUESTS.get(prefix, (prefix, "", {}))
        return http_api_event("GET", request_path, query, headers, route_key)
    variables = (props.get("Environment") or {}).get("Variables") or {}
    if "SQS" in kinds and "AUTOMATIONS_TABLE" in variables:  # the automations runner: a job (instance read)
        job = {
            "tenantId": TENANT,
            "instanceId": "bench-instance",
            "messageId": str(uuid.uuid4()),
            "chatId": "5511988887777@s.whatsapp.net",
            "sender": "5511988887777@s.whatsapp.net",
            "text": "olá",
            "storedAt": "2026-01-01T00:00:00.000Z",
        }
        return sqs_event(json.dumps(job), {}, f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-automations.fifo")
    if "SQS" in kinds:  # the events processor: an event for a tenant (webhooks and live connections read)
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": "INSTANCE_STATUS",
                "instanceId": "bench-instance",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "payload": {"status": "CONNECTED"},
            }
        )
        # Another tenant than the one LiveFunction's $connect registers: a push to the bench's (absent) live
        # endpoint would time the connection errors, not the processor.
        return sqs_event(
            body,
            {"tenantId": f"{TENANT}-events", "eventType": "INSTANCE_STATUS"},
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-events",
        )
    if "DynamoDB" in kinds:  # a stream consumer: one new inbound message
        return dynamodb_stream_event(_inbound_image(), f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/bench")
    if "WebSocket" in kinds and "WORKER_SECRET_ARN" in variables:  # the sidecars' push channel: a sidecar joins
        headers = {"Authorization": f"Bearer {WORKER_SECRET}", "X-Instance-Owner": "bench-sidecar"}
        return websocket_connect_event(headers)
    if "WebSocket" in kinds:  # $connect authenticates (API key) and stores the connection
        return websocket_connect_event({"X-API-Key": API_KEY})
    raise ValueError(f"{logical_id}: no first event for a function invoked by {kinds or 'nothing'}")
