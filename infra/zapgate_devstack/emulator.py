"""The embedded AWS emulation: a moto server on loopback, and the template's resources created in it.

moto's backends check a DynamoDB condition and apply the write in two Python steps, so two
threads can interleave between them. Real DynamoDB applies each conditional write to an item
atomically; serialising requests restores that guarantee, which the lock and queue tests rely on.
SQS requests are the exception: moto's SQS backend guards its queues itself, and a long-polling
ReceiveMessage (the local events worker's) would otherwise hold every other request for seconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from zapgate_devstack.template import LocalNames, load_template, parameter_defaults, resources_of_type

REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class _OneRequestAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _is_sqs(environ):
            return list(self._app(environ, start_response))
        with self._lock:
            # Materialise the body inside the lock: the work happens while iterating.
            return list(self._app(environ, start_response))


def _is_sqs(environ: dict[str, Any]) -> bool:
    """SQS's JSON protocol names its target; SigV4's credential scope names the service either way."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.startswith("AmazonSQS.") or "/sqs/aws4_request" in environ.get("HTTP_AUTHORIZATION", "")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per AWS call drowns the run's output
        pass


class MotoServer:
    """moto in server mode on 127.0.0.1; port 0 picks a free one."""

    def __init__(self, port: int = 0) -> None:
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **LOCAL_CREDENTIALS)

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))


def _create_table(client: Any, name: str, props: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):  # the events outbox reads MessagesTable's stream (stream_worker.py)
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


# Queue properties that are plain SQS attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "SqsManagedSseEnabled",
    # FIFO queues (AutomationsQueue): the name gets SQS's required ".fifo" suffix below.
    "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)  # fmt: skip


def _dead_letter_target(props: dict[str, Any]) -> str | None:
    """The logical id a queue's RedrivePolicy names with !GetAtt <Queue>.Arn (None: no DLQ)."""
    target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
    if target is None:
        return None
    if isinstance(target, dict) and "Fn::GetAtt" in target and target["Fn::GetAtt"][1:] == ["Arn"]:
        return str(target["Fn::GetAtt"][0])
    raise ValueError(f"RedrivePolicy.deadLetterTargetArn {target!r} is not resolvable locally (use !GetAtt Q.Arn)")


def _create_queues(sqs: Any, queues: dict[str, dict[str, Any]], names: LocalNames, name_format: str) -> None:
    """Queues with their attributes; a dead-letter queue before the queues that redrive into it."""
    arns: dict[str, str] = {}
    pending = dict(queues)
    while pending:
        ready = [q for q, r in pending.items() if _dead_letter_target(r.get("Properties") or {}) in (None, *arns)]
        if not ready:
            raise ValueError(f"queues {sorted(pending)} redrive into queues the template does not declare")
        for logical_id in ready:
            props = pending.pop(logical_id).get("Properties") or {}
            attributes = {
                key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
                for key in _QUEUE_ATTRIBUTES
                if key in props
            }
            target = _dead_letter_target(props)
            if target is not None:
                max_receives = int(props["RedrivePolicy"]["maxReceiveCount"])
                redrive = {"deadLetterTargetArn": arns[target], "maxReceiveCount": max_receives}
                attributes["RedrivePolicy"] = json.dumps(redrive)
            name = name_format.format(logical_id) + (".fifo" if props.get("FifoQueue") else "")
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            names.physical[logical_id] = url
            found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arns[logical_id] = found["Attributes"]["QueueArn"]


# AutomationsAllowHttp: a local stack's tools and models answer on http://127.0.0.1 (docs/automations.md).
LOCAL_PARAMETERS = {"WhatsAppWorkers": "external", "AutomationsAllowHttp": "true"}


def _s3_cors(cors: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """CloudFormation's CorsConfiguration in S3 API form; `!Ref <CommaDelimitedList parameter>` resolved."""

    def values(value: Any) -> list[str]:
        if isinstance(value, dict) and "Ref" in value:
            return [item.strip() for item in parameters[value["Ref"]].split(",")]
        return [str(item) for item in value]

    rules = []
    for rule in cors["CorsRules"]:
        converted: dict[str, Any] = {"AllowedMethods": values(rule["AllowedMethods"]),
                                     "AllowedOrigins": values(rule["AllowedOrigins"])}
        if "AllowedHeaders" in rule:
            converted["AllowedHeaders"] = values(rule["AllowedHeaders"])
        if "ExposedHeaders" in rule:
            converted["ExposeHeaders"] = values(rule["ExposedHeaders"])
        if "MaxAge" in rule:
            converted["MaxAgeSeconds"] = int(rule["MaxAge"])
        rules.append(converted)
    return {"CORSRules": rules}


def create_template_resources(
    server: MotoServer, secrets: dict[str, str] | None = None, prefix: str = "zapgate-local"
) -> LocalNames:
    """Create every table, bucket, queue and secret template.yaml declares; return their local names.

    `secrets` gives the value of each AWS::SecretsManager::Secret by logical id (the template
    only says "generate one"; locally we choose it so it can be printed and handed to sidecars).
    """
    template = load_template()
    # The local workers (make run's sidecars, the tests' ones, a Node worker) run outside any stack.
    names = LocalNames(parameters={**parameter_defaults(template), **LOCAL_PARAMETERS})
    run = uuid.uuid4().hex[:6]

    dynamodb = server.client("dynamodb")
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        name = f"{prefix}-{logical_id}-{run}"
        _create_table(dynamodb, name, resource["Properties"])
        names.physical[logical_id] = name

    s3 = server.client("s3")
    for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items():
        name = f"{prefix}-{logical_id}-{run}".lower()
        s3.create_bucket(Bucket=name)
        cors = (resource.get("Properties") or {}).get("CorsConfiguration")
        if cors:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration=_s3_cors(cors, names.parameters))
        names.physical[logical_id] = name

    _create_queues(server.client("sqs"), resources_of_type(template, "AWS::SQS::Queue"), names, f"{prefix}-{{}}-{run}")

    secretsmanager = server.client("secretsmanager")
    for logical_id in resources_of_type(template, "AWS::SecretsManager::Secret"):
        value = (secrets or {}).get(logical_id) or uuid.uuid4().hex
        arn = secretsmanager.create_secret(Name=f"{prefix}-{logical_id}-{run}", SecretString=value)["ARN"]
        names.physical[logical_id] = arn

    return names
