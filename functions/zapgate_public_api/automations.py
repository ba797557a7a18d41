"""/v1/instances/{id}/automations, /interactions and /chats/{chat}/escalation (issue 11, docs/automations.md).

An automation is a rule or an AI agent answering the instance's chats; the body is its configuration
(zapgate_core.contract.automations: `kind` "rule" or "agent"), validated with http:// endpoints allowed
only on a local stack. An answer is the configuration with every default filled in, plus `id`,
`instance_id`, `version`, `api_key_set`, `created_at`, `updated_at`; a PUT may send those back (they are
ignored). The provider's `api_key` is write-only: stored in Secrets Manager, never answered, never logged.

The body is taken as a JSON object and validated by the contract (not by FastAPI) because the http
allowance travels in the validation's context; its schema is added to the OpenAPI document on first
request (install_openapi), so /v1/docs shows it and the contract is not built at a cold start.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from zapgate_control.clock import iso
from zapgate_control.ports.automations import AutomationRecord, ChatPauseRecord, InteractionRecord
from zapgate_control.services import automations
from zapgate_control.services.automations import AutomationDeps
from zapgate_control.wiring import Stores, get_stores
from zapgate_core.contract.common import MAX_ID
from zapgate_public_api.auth import require_tenant
from zapgate_public_api.models import ErrorResponse, RequestModel

PREFIX = "/v1"
PAGE_MAX = 100
CURSOR_MAX = 2_048
CONFIG_SCHEMA = "AutomationConfig"
_errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 422)}
router = APIRouter(prefix=PREFIX, responses=_errors, tags=["automations"])

InstanceIdPath = Path(min_length=1, max_length=MAX_ID)
AutomationIdPath = Path(min_length=1, max_length=MAX_ID)
ChatPath = Path(min_length=1, max_length=MAX_ID, description="Chat JID, or a phone number / group id")
_CONFLICT = {"model": ErrorResponse, "description": "version_conflict: If-Match differs or it changed meanwhile"}


def _deps(stores: Stores = Depends(get_stores)) -> AutomationDeps:
    return stores.automation_deps


def _if_match(
    _tenant: str = Depends(require_tenant),  # authentication first: a caller without a key learns nothing
    if_match: str | None = Header(
        default=None, alias="If-Match", pattern=r'^\s*(W/)?"?[0-9]{1,12}"?\s*$',
        description='The automation\'s `version` (`3` or `"3"`): the change applies only to that version (else 409)',
    ),
) -> int | None:
    if if_match is None:
        return None
    return int(if_match.strip().removeprefix("W/").strip('"'))


# ------------------------------------------------------------------ answers
class Automation(BaseModel):
    """The configuration as stored (every field, defaults filled in; never `api_key`) and these fields."""

    model_config = ConfigDict(extra="allow")

    id: str
    instance_id: str
    kind: Literal["rule", "agent"]
    name: str
    enabled: bool
    position: int
    version: int = Field(description="Grows with each change; send it as If-Match to change only this version")
    api_key_set: bool = Field(description="Whether a provider API key is stored (it is never answered)")
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, record: AutomationRecord) -> Automation:
        return cls(
            **{**record.config, "id": record.id, "instance_id": record.instance_id, "kind": record.kind,
               "name": record.name, "enabled": record.enabled, "position": record.position,
               "version": record.version, "api_key_set": record.api_key_set,
               "created_at": iso(record.created_at_ms), "updated_at": iso(record.updated_at_ms)},
        )


class AutomationList(BaseModel):
    automations: list[Automation] = Field(description="In evaluation order: rules, then agents, each by position")


class AutomationPatch(RequestModel):
    enabled: StrictBool = Field(description="false pauses the automation, true enables it")


class ToolCall(BaseModel):
    name: str
    status: str = Field(description="ok, error, invalid_arguments, unknown_tool or escalated")
    duration_ms: int


class Interaction(BaseModel):
    id: str
    chat: str
    message_id: str = Field(description="The inbound message that triggered the run")
    outcome: Literal["replied", "escalated", "failed", "skipped"]
    automation_id: str | None
    automation_kind: Literal["rule", "agent"] | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    latency_ms: int = Field(description="The whole run")
    provider_latency_ms: int = Field(description="The model's own time, over every call")
    model_calls: int
    tool_calls: list[ToolCall]
    reply_message_id: str | None = Field(description="The reply (or fallback text) queued, in the message history")
    reason: str | None = Field(description="skipped: why nothing answered; failed: why the run failed")
    error: str | None
    passed: dict[str, str] | None = Field(description="Automations passed over, by id, with why")
    created_at: str

    @classmethod
    def of(cls, record: InteractionRecord) -> Interaction:
        passed = {str(k): str(v) for k, v in record.passed.items()} if record.passed else None
        return cls(
            id=record.id, chat=record.chat, message_id=record.message_id, outcome=record.outcome,
            automation_id=record.automation_id, automation_kind=record.automation_kind, provider=record.provider,
            model=record.model, tokens_in=record.tokens_in, tokens_out=record.tokens_out,
            latency_ms=record.latency_ms, provider_latency_ms=record.provider_latency_ms,
            model_calls=record.model_calls,
            tool_calls=[ToolCall(name=c.name, status=c.status, duration_ms=c.duration_ms) for c in record.tool_calls],
            reply_message_id=record.reply_message_id, reason=record.reason, error=record.error, passed=passed,
            created_at=iso(record.created_at_ms),
        )


class InteractionPage(BaseModel):
    interactions: list[Interaction] = Field(description="Newest first")
    next_cursor: str | None


class Escalation(BaseModel):
    chat: str
    paused: bool = Field(description="true: a person has the chat; its automations stay silent until `until`")
    automation_id: str | None = Field(default=None, description="The agent that escalated")
    reason: str | None = None
    paused_at: str | None = None
    until: str | None = None

    @classmethod
    def of(cls, chat: str, pause: ChatPauseRecord | None) -> Escalation:
        if pause is None:
            return cls(chat=chat, paused=False)
        return cls(chat=pause.chat, paused=True, automation_id=pause.automation_id, reason=pause.reason or None,
                   paused_at=iso(pause.paused_at_ms), until=iso(pause.until_ms))


# ------------------------------------------------------------------ automations
@router.post(
    "/instances/{instance_id}/automations",
    status_code=status.HTTP_201_CREATED,
    response_model=Automation,
    responses={409: {"model": ErrorResponse, "description": "automation_limit: the instance has the most it may"}},
)
def create_automation(
    body: dict[str, Any] = Body(description="A rule or an agent (`kind`); see the AutomationConfig schema"),
    instance_id: str = InstanceIdPath,
    idempotency_key: str | None = Header(
        default=None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID,
        description="Same key + same body → the same automation, never two; same key + other body → 422",
    ),
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Automation:
    return Automation.of(automations.create(deps, tenant_id, instance_id, body, idempotency_key))


@router.get("/instances/{instance_id}/automations", response_model=AutomationList)
def list_automations(
    instance_id: str = InstanceIdPath,
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> AutomationList:
    return AutomationList(automations=[Automation.of(r) for r in automations.list_all(deps, tenant_id, instance_id)])


@router.get("/instances/{instance_id}/automations/{automation_id}", response_model=Automation)
def get_automation(
    instance_id: str = InstanceIdPath,
    automation_id: str = AutomationIdPath,
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Automation:
    return Automation.of(automations.get(deps, tenant_id, instance_id, automation_id))


@router.put("/instances/{instance_id}/automations/{automation_id}", response_model=Automation,
            responses={409: _CONFLICT})
def replace_automation(
    body: dict[str, Any] = Body(description="The whole configuration; `api_key` absent keeps the stored key, null "
                                            "removes it"),
    instance_id: str = InstanceIdPath,
    automation_id: str = AutomationIdPath,
    if_match: int | None = Depends(_if_match),
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Automation:
    return Automation.of(automations.replace_config(deps, tenant_id, instance_id, automation_id, body, if_match))


@router.patch("/instances/{instance_id}/automations/{automation_id}", response_model=Automation,
              responses={409: _CONFLICT})
def enable_or_pause_automation(
    request: AutomationPatch,
    instance_id: str = InstanceIdPath,
    automation_id: str = AutomationIdPath,
    if_match: int | None = Depends(_if_match),
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Automation:
    record = automations.set_enabled(deps, tenant_id, instance_id, automation_id, request.enabled, if_match)
    return Automation.of(record)


@router.delete(
    "/instances/{instance_id}/automations/{automation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={409: _CONFLICT},
)
def delete_automation(
    instance_id: str = InstanceIdPath,
    automation_id: str = AutomationIdPath,
    if_match: int | None = Depends(_if_match),
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Response:
    """Removes the automation and its provider key."""
    automations.delete(deps, tenant_id, instance_id, automation_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ interactions and escalations
@router.get("/instances/{instance_id}/interactions", response_model=InteractionPage)
def list_interactions(
    instance_id: str = InstanceIdPath,
    chat: str | None = Query(default=None, min_length=1, max_length=MAX_ID, description="Only this chat's"),
    limit: int = Query(default=50, ge=1, le=PAGE_MAX),
    cursor: str | None = Query(default=None, max_length=CURSOR_MAX, description="next_cursor of the previous page"),
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> InteractionPage:
    """Every run of the automations on an inbound message (seed 003's ai_interactions), newest first."""
    records, next_cursor = automations.interactions(deps, tenant_id, instance_id, chat, limit, cursor)
    return InteractionPage(interactions=[Interaction.of(r) for r in records], next_cursor=next_cursor)


@router.get("/instances/{instance_id}/chats/{chat_id}/escalation", response_model=Escalation)
def get_escalation(
    instance_id: str = InstanceIdPath,
    chat_id: str = ChatPath,
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Escalation:
    """Whether the chat is paused for a person (an agent's escalate_to_human), and until when."""
    pause = automations.escalation(deps, tenant_id, instance_id, chat_id)
    return Escalation.of(automations.normalise_chat(chat_id), pause)


@router.delete(
    "/instances/{instance_id}/chats/{chat_id}/escalation",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def resume_chat(
    instance_id: str = InstanceIdPath,
    chat_id: str = ChatPath,
    tenant_id: str = Depends(require_tenant),
    deps: AutomationDeps = Depends(_deps),
) -> Response:
    """Ends the chat's pause: its automations answer again (204 also when it was not paused)."""
    automations.resume(deps, tenant_id, instance_id, chat_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ OpenAPI: the configuration's schema
_BODY_OPERATIONS = (
    ("/v1/instances/{instance_id}/automations", "post"),
    ("/v1/instances/{instance_id}/automations/{automation_id}", "put"),
)


def add_config_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Put the contract's configuration schema in `schema`'s components and point the bodies at it."""
    from pydantic import TypeAdapter

    from zapgate_core.contract.automations import AutomationConfig

    config = _without_examples(TypeAdapter(AutomationConfig).json_schema(ref_template="#/components/schemas/{model}"))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in config.pop("$defs", {}).items():
        if name in components and components[name] != definition:
            raise RuntimeError(f"OpenAPI component {name} is defined twice")
        components[name] = definition
    components[CONFIG_SCHEMA] = config
    for path, method in _BODY_OPERATIONS:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            content = operation.setdefault("requestBody", {}).setdefault("content", {})
            content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{CONFIG_SCHEMA}"}}
            operation["requestBody"]["required"] = True
    return schema


def _without_examples(node: Any, in_properties: bool = False) -> Any:
    """The schema without the contract's field `examples`: a document with examples makes schemathesis add
    an examples phase that the fuzz tests (given custom strategies) cannot run. Property names are kept."""
    if isinstance(node, list):
        return [_without_examples(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _without_examples(value, in_properties=key == "properties" and not in_properties)
        for key, value in node.items()
        if in_properties or key != "examples"
    }


def install_openapi(app: FastAPI) -> None:
    """Build the document as FastAPI does, then add the configuration's schema (once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_config_schema(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
