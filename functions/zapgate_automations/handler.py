"""Lambda entry point named in template.yaml: AutomationsQueue (FIFO) → runner.run, partial batch responses.

Thin: each SQS record is a job (zapgate_core.domain.automations.jobs); runner.py decides and answers.
A job that raised (a store or the send path down) is listed in `batchItemFailures` after its visibility
is set to a short backoff (15 s, 30 s, …), so SQS hands it out again soon rather than after the queue's
long visibility timeout; after 3 receives it goes to AutomationsDeadLetterQueue (redrive-dlq). A model
failure never raises: it is the fallback reply and a failed interaction.

The composition root: builds the adapters (stores from wiring, chat models per provider, the tools'
HTTP client), once per container.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from zapgate_automations import runner
from zapgate_automations.jobs import BadJob, Job
from zapgate_automations.tool_http import HttpToolTransport
from zapgate_control.adapters.sqs_events import SqsRedelivery
from zapgate_control.observability import flush_metrics, logger
from zapgate_control.ports.automations import ProviderSecretStore
from zapgate_control.services.automations import definition
from zapgate_control.snapstart import install_hooks
from zapgate_control.wiring import get_stores
from zapgate_core.domain.automations.conversation import ChatModel
from zapgate_core.domain.automations.definitions import Agent
from zapgate_core.domain.automations.retry_policy import SEED_003_DELAYS_S, RetryPolicy

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
RETRY_BASE_S = 15  # a failed job's first redelivery; doubles per receive


def retry_delays() -> tuple[float, ...]:
    """AUTOMATION_RETRY_DELAYS ("2,4,8", template parameter AutomationRetryDelays): seed 003's by default."""
    raw = os.environ.get("AUTOMATION_RETRY_DELAYS", "").strip()
    if not raw:
        return SEED_003_DELAYS_S
    return tuple(float(part) for part in raw.split(",") if part.strip())


@cache
def _openai(api_key: str, base_url: str | None) -> ChatModel:
    from zapgate_automations.providers.openai_chat import OpenAIChatModel

    return OpenAIChatModel(api_key=api_key, base_url=base_url)


@cache
def _bedrock(region: str | None, endpoint_url: str | None) -> ChatModel:
    from zapgate_automations.providers.bedrock_converse import BedrockConverseModel

    return BedrockConverseModel(region=region, endpoint_url=endpoint_url)


def chat_model(agent: Agent, api_key: str | None) -> ChatModel:
    """The agent's provider. AUTOMATIONS_OPENAI_BASE_URL / _API_KEY and AUTOMATIONS_BEDROCK_ENDPOINT_URL are
    defaults for agents that name none (the local stack points them at its local model or a real provider);
    unset in AWS."""
    if agent.provider == "bedrock":
        return _bedrock(agent.region, os.environ.get("AUTOMATIONS_BEDROCK_ENDPOINT_URL") or None)
    base_url = agent.base_url or os.environ.get("AUTOMATIONS_OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("AUTOMATIONS_OPENAI_API_KEY") or ""
    # The key is a cache key only inside this process; never logged (the adapter's repr leaves it out).
    return _openai(key or "missing-key", base_url)


class CachedProviderKeys:
    """Provider keys read once per (automation, key version) per container: a replaced key has a new version
    (AutomationRecord.api_key_version), so the cache never answers a stale key. Only in memory, never logged."""

    def __init__(self, store: ProviderSecretStore, max_entries: int = 256) -> None:
        self.store, self.max_entries = store, max_entries
        self.keys: dict[tuple[str, str], str | None] = {}

    def get(self, automation_id: str, version: str | None = None) -> str | None:
        if version is None:
            return self.store.get(automation_id, version)
        if (automation_id, version) not in self.keys:
            if len(self.keys) >= self.max_entries:
                self.keys.clear()
            self.keys[(automation_id, version)] = self.store.get(automation_id, version)
        return self.keys[(automation_id, version)]

    def put(self, tenant_id: str, instance_id: str, automation_id: str, api_key: str) -> str:
        return self.store.put(tenant_id, instance_id, automation_id, api_key)

    def delete(self, automation_id: str) -> None:
        self.store.delete(automation_id)


@cache
def deps() -> runner.RunnerDeps:
    stores = get_stores()
    return runner.RunnerDeps(
        instances=stores.instances, messages=stores.messages, automations=stores.automations,
        interactions=stores.interactions, escalations=stores.escalations, cooldowns=stores.cooldowns,
        provider_keys=CachedProviderKeys(stores.provider_secrets), webhooks=stores.webhooks, events=stores.events,
        models=chat_model, tools=HttpToolTransport(allow_http=stores.settings.automations_allow_http),
        definitions=definition, waker=stores.sidecar_waker, media=stores.media,
        retry=RetryPolicy(delays_s=retry_delays()),
    )  # fmt: skip


@cache
def redelivery() -> SqsRedelivery:
    return SqsRedelivery(os.environ.get("AUTOMATIONS_QUEUE_URL", ""))


def record_handler(record: SQSRecord) -> str:
    receives = int(record.attributes.approximate_receive_count or 1)
    try:
        job = Job.parse(record.body, attempt=receives)
    except BadJob:
        logger.error("automation job unreadable", extra={"message_id": record.message_id})
        raise
    logger.append_keys(instance_id=job.instance_id, message_id=job.message_id)
    try:
        result = runner.run(deps(), job)
    except Exception:
        logger.exception("automation job failed, will retry")
        try:
            redelivery().delay(record.receipt_handle, min(900, RETRY_BASE_S * 2 ** (receives - 1)))
        except Exception:  # the queue's own visibility timeout applies then
            logger.warning("could not set the job's retry delay")
        raise
    logger.info("automation job done", extra={"outcome": result.outcome, "automation_id": result.automation_id,
                                               "reason": result.reason})  # fmt: skip
    return result.outcome


def _traced(handler: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Powertools Tracer (X-Ray subsegments for each AWS and HTTP call of a run) only when XRAY_SDK_TRACING=on.

    Creating a Tracer imports the X-Ray SDK, whose recorder builds its own X-Ray botocore client (two botocore
    sessions) at import: 190-280 ms of every cold start here, whether tracing is enabled or not (docs/
    benchmarks.md, issue 14). Lambda's active tracing (template Globals) records each invocation without it.
    """
    if os.environ.get("XRAY_SDK_TRACING", "off") != "on":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler)


@_traced
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return dict(
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
        )
    finally:
        flush_metrics()


# SnapStart: the model and tool clients (httpx pools) and the stores are made anew after a restore.
install_hooks(prime=deps, resets=(deps, redelivery, _openai, _bedrock), clients=("dynamodb", "sqs", "secretsmanager"))
