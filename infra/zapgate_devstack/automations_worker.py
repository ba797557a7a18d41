"""The automations runner on the local stack: Lambda's SQS poller for AutomationsFunction, and a chat model.

- The poller: template.yaml is the source of truth. The function whose handler is the runner's names its
  queue in its `Type: SQS` event; the same poller as the events processor's (events_worker.EventsWorker:
  receive, invoke the real handler with Lambda's SQS event, delete what succeeded, leave the
  batchItemFailures for redelivery; moto applies the RedrivePolicy) runs it in a thread.
- The model: agents that name no base URL (openai) or endpoint (bedrock) talk to a local server speaking
  both wire formats (llm_servers.py: it echoes when unscripted; tests script it over HTTP). With
  ZAPGATE_OPENAI_BASE_URL (and ZAPGATE_OPENAI_API_KEY) in make run's environment, openai agents use that
  real OpenAI-compatible provider instead. The runner reads AUTOMATIONS_OPENAI_BASE_URL,
  AUTOMATIONS_OPENAI_API_KEY and AUTOMATIONS_BEDROCK_ENDPOINT_URL (unset in AWS).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zapgate_devstack.events_worker import EventsWorker
from zapgate_devstack.template import LocalNames, load_template, resources_of_type

HANDLER = "zapgate_automations.handler.handler"  # AutomationsFunction's Handler in template.yaml
DEFAULT_LLM_PORT = 8010


@dataclass(frozen=True)
class SqsSource:
    function: str
    handler: str
    queue: str  # logical id
    batch_size: int


def sqs_sources(template: dict[str, Any]) -> list[SqsSource]:
    found = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            queue = event["Properties"]["Queue"]
            if not (isinstance(queue, dict) and queue.get("Fn::GetAtt", [None, None])[1:] == ["Arn"]):
                raise ValueError(f"{logical_id}: Queue {queue!r} is not resolvable locally (use !GetAtt Q.Arn)")
            found.append(SqsSource(logical_id, props["Handler"], str(queue["Fn::GetAtt"][0]),
                                   int(event["Properties"].get("BatchSize", 10))))  # fmt: skip
    return found


def _runner_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from zapgate_automations.handler import handler  # imported on first use, as Lambda's init

    return handler(event, context)


def start_worker(server: Any, names: LocalNames, log: Callable[[str], None] | None = None) -> EventsWorker | None:
    """The poller for the runner's queue (None when the template has no runner)."""
    source = next((s for s in sqs_sources(load_template()) if s.handler == HANDLER), None)
    if source is None or source.queue not in names.physical:
        return None
    worker = EventsWorker(server.client("sqs"), names.physical[source.queue], handler=_runner_handler,
                          log=log or (lambda line: print(line, flush=True)))  # fmt: skip
    return worker.start()


@dataclass
class LocalModels:
    """Where the local stack's agents get their answers; `served` is None when a real provider is configured."""

    openai_base_url: str
    bedrock_endpoint_url: str | None
    served: Any = None
    real_provider: bool = False

    def stop(self) -> None:
        if self.served is not None:
            with contextlib.suppress(Exception):
                self.served.stop()

    def describe(self) -> str:
        if self.real_provider:
            return f"{self.openai_base_url} (ZAPGATE_OPENAI_BASE_URL); bedrock agents: the local model"
        return f"{self.served.url} (local, echoes unless scripted: POST {self.served.url}/_local/script)"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_models(env: dict[str, str] | None = None) -> LocalModels:
    """Start the local model server and point the runner at it (or at ZAPGATE_OPENAI_BASE_URL)."""
    from zapgate_devstack.llm_servers import ServedModel

    env = dict(os.environ if env is None else env)
    raw_port = env.get("ZAPGATE_LLM_PORT", "").strip()
    port = int(raw_port) if raw_port else DEFAULT_LLM_PORT
    served = ServedModel(port=port if port == 0 or _port_free(port) else 0).start()
    real = env.get("ZAPGATE_OPENAI_BASE_URL", "").strip()
    models = LocalModels(openai_base_url=real or served.openai_base_url, bedrock_endpoint_url=served.url,
                         served=served, real_provider=bool(real))  # fmt: skip
    os.environ["AUTOMATIONS_OPENAI_BASE_URL"] = models.openai_base_url
    os.environ["AUTOMATIONS_OPENAI_API_KEY"] = env.get("ZAPGATE_OPENAI_API_KEY", "").strip() or "local-model-key"
    os.environ["AUTOMATIONS_BEDROCK_ENDPOINT_URL"] = served.url
    return models
