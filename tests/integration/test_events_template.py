"""template.yaml's events pipeline matches the code: queue timing, DLQ, event source, least privilege."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tests.integration.test_template import _with_fake_artifacts
from zapgate_control.adapters.webhook_http import TIMEOUT
from zapgate_core.domain.webhooks import MAX_RECEIVE_COUNT, RETRY_CAP_S
from zapgate_devstack.template import load_template, resources_of_type


def _resource(logical_id: str) -> dict[str, Any]:
    return dict(load_template()["Resources"][logical_id]["Properties"])


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="offline",
                                    aws_secret_access_key="offline")
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    return translator.translate(_with_fake_artifacts(load_template()), parameter_values={})


def test_the_queue_outlasts_six_processor_timeouts_and_dead_letters_after_five_receives() -> None:
    queue, dlq = _resource("EventsQueue"), _resource("EventsDeadLetterQueue")
    processor = _resource("EventsProcessorFunction")
    assert queue["VisibilityTimeout"] >= 6 * processor["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}, "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert dlq["MessageRetentionPeriod"] == 14 * 86_400 > queue["MessageRetentionPeriod"]
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    # Retries (max delay each) end long before the queue would drop an event.
    assert queue["MessageRetentionPeriod"] > MAX_RECEIVE_COUNT * (RETRY_CAP_S + 900)


def test_a_batch_of_ten_worst_case_posts_fits_in_the_processor_timeout() -> None:
    worst_post = TIMEOUT.connect + TIMEOUT.write + TIMEOUT.read  # type: ignore[operator]
    assert 10 * worst_post < _resource("EventsProcessorFunction")["Timeout"]


def test_the_processor_reads_the_queue_in_batches_with_partial_failures(expanded: dict[str, Any]) -> None:
    (mapping,) = [m for m in resources_of_type(expanded, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"] == {"Ref": "EventsProcessorFunctionAliascurrent"}]
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["FunctionName"] == {"Ref": "EventsProcessorFunctionAliascurrent"}
    function = resources_of_type(expanded, "AWS::Lambda::Function")["EventsProcessorFunction"]["Properties"]
    assert function["Environment"]["Variables"]["WEBHOOK_RETRY_BASE_SECONDS"] == {"Ref": "WebhookRetryBaseSeconds"}


def _statements(policy_holder: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in policy_holder.get("Policies", []):
        document = policy.get("PolicyDocument", policy)
        for statement in document.get("Statement", []):
            # A statement granted only under a condition counts as granted (its condition is tested apart).
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            statements.append(statement)
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_processor_role_allows_exactly_what_the_processor_does() -> None:
    role = _resource("EventsProcessorRole")
    granted = {(action, str(rule["Resource"])) for rule in _statements(role) for action in _actions(rule)}
    queue, webhooks = "{'Fn::GetAtt': ['EventsQueue', 'Arn']}", "{'Fn::GetAtt': ['WebhooksTable', 'Arn']}"
    assert granted == {
        ("logs:CreateLogStream", "{'Fn::GetAtt': ['EventsProcessorLogGroup', 'Arn']}"),
        ("logs:PutLogEvents", "{'Fn::GetAtt': ['EventsProcessorLogGroup', 'Arn']}"),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
        ("sqs:ReceiveMessage", queue), ("sqs:DeleteMessage", queue), ("sqs:GetQueueAttributes", queue),
        ("sqs:ChangeMessageVisibility", queue), ("sqs:SendMessage", queue),
        ("dynamodb:GetItem", webhooks), ("dynamodb:Query", webhooks),
        ("dynamodb:PutItem", webhooks),  # the delivery log: failed and dead attempts (ports/delivery_log.py)
        ("dynamodb:Query", "{'Fn::Sub': '${MessagesTable.Arn}/index/timeline'}"),
        ("dynamodb:UpdateItem", "{'Fn::GetAtt': ['MessagesTable', 'Arn']}"),
        # Live updates: the tenant's connections (index only), forgetting gone ones, pushing (POST only).
        ("dynamodb:Query", "{'Fn::Sub': '${LiveConnectionsTable.Arn}/index/by_tenant'}"),
        ("dynamodb:DeleteItem", "{'Fn::GetAtt': ['LiveConnectionsTable', 'Arn']}"),
        ("execute-api:ManageConnections", "{'Fn::Sub': 'arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                                          "${AWS::AccountId}:${LiveApi}/live/POST/@connections/*'}"),
        # EventBridge, only when a bus is named (checked below): that one bus, PutEvents only.
        ("events:PutEvents", "{'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                             "event-bus/${EventBridgeBusName}'}"),
    }
    conditional = [s["Fn::If"] for s in role["Policies"][0]["PolicyDocument"]["Statement"]
                   if "Fn::If" in s]
    assert [(c[0], c[1]["Sid"], c[2]) for c in conditional] == [("HasEventBus", "EventBus", {"Ref": "AWS::NoValue"})]
    processor = _resource("EventsProcessorFunction")
    assert processor["Role"] == {"Fn::GetAtt": ["EventsProcessorRole", "Arn"]} and "Policies" not in processor
    assert processor["LoggingConfig"] == {"LogGroup": {"Ref": "EventsProcessorLogGroup"}}


def test_only_the_worker_proxy_publishes_and_only_the_public_api_manages_webhooks_and_redrives() -> None:
    worker = _statements(_resource("WorkerProxyFunction"))
    public = _statements(_resource("PublicApiFunction"))
    assert [s["Resource"] for s in worker if any(a.startswith("sqs:") for a in _actions(s))] == [
        {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    ]
    assert all(_actions(s) == ["sqs:SendMessage"] for s in worker if any(a.startswith("sqs:") for a in _actions(s)))
    on_webhooks = [s for s in public if s["Resource"] == {"Fn::GetAtt": ["WebhooksTable", "Arn"]}]
    assert on_webhooks and set(_actions(on_webhooks[0])) == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:UpdateItem"}
    # A redrive of the tenant's own dead delivery: SendMessage to EventsQueue, nothing else on any queue.
    assert [(_actions(s), s["Resource"]) for s in public if any(a.startswith("sqs:") for a in _actions(s))] == [
        (["sqs:SendMessage"], {"Fn::GetAtt": ["EventsQueue", "Arn"]})]
    assert not any("WebhooksTable" in str(s["Resource"]) for s in worker)


def test_every_function_gets_the_queue_and_the_webhooks_table() -> None:
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EVENTS_QUEUE_URL"] == {"Ref": "EventsQueue"}
    assert variables["WEBHOOKS_TABLE"] == {"Ref": "WebhooksTable"}
    from zapgate_control.settings import Settings

    default = Settings.__dataclass_fields__["webhook_retry_base_seconds"].default
    assert load_template()["Parameters"]["WebhookRetryBaseSeconds"]["Default"] == default


def test_the_outbox_reads_the_messages_stream_and_may_only_publish(expanded: dict[str, Any]) -> None:
    table = _resource("MessagesTable")
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}  # OldImage: was it a move?
    (mapping,) = [m["Properties"] for m in resources_of_type(expanded, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"] == {"Ref": "EventsPublisherFunctionAliascurrent"}]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["MessagesTable", "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # LATEST would skip what is written while it is created
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["BisectBatchOnFunctionError"]
    # Bounded retries, given up while the records are still in the stream (24 h) to be replayed.
    assert mapping["MaximumRetryAttempts"] > 0 and 0 < mapping["MaximumRecordAgeInSeconds"] <= 12 * 3600
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["OutboxFailuresQueue",
                                                                                        "Arn"]}}}
    assert len(mapping["FilterCriteria"]["Filters"]) == 2  # evaluated on records in tests/unit/test_outbox.py
    function = _resource("EventsPublisherFunction")
    # Its own role: SAM's default would attach AWSLambdaDynamoDBExecutionRole (every stream, every log group).
    assert function["Role"] == {"Fn::GetAtt": ["EventsPublisherRole", "Arn"]} and "Policies" not in function
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "EventsPublisherLogGroup"}}
    stream = "{'Fn::GetAtt': ['MessagesTable', 'StreamArn']}"
    log_group = "{'Fn::GetAtt': ['EventsPublisherLogGroup', 'Arn']}"
    granted = {(action, str(rule["Resource"])) for rule in _statements(_resource("EventsPublisherRole"))
               for action in _actions(rule)}
    assert granted == {
        ("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group),
        ("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*"),
        ("dynamodb:DescribeStream", stream), ("dynamodb:GetRecords", stream), ("dynamodb:GetShardIterator", stream),
        ("dynamodb:ListStreams", "*"),
        ("sqs:SendMessage", "{'Fn::GetAtt': ['EventsQueue', 'Arn']}"),
        ("sqs:SendMessage", "{'Fn::GetAtt': ['OutboxFailuresQueue', 'Arn']}"),
        ("sqs:SendMessage", "{'Fn::GetAtt': ['AutomationsQueue', 'Arn']}"),  # issue 11: automation jobs
    }
    failures = _resource("OutboxFailuresQueue")
    assert failures["MessageRetentionPeriod"] == 14 * 86_400 and failures["SqsManagedSseEnabled"] is True
