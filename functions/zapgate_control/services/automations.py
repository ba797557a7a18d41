"""Automations as a tenant manages them (issue 11): configurations, their interactions, paused chats.

Every call first checks the instance belongs to the caller's tenant (404 otherwise, exactly like an
unknown instance); automations live under their instance, so one of another tenant's instance is never
reached. A body is validated by zapgate_core.contract.automations.parse_automation with `allow_http`
(true only on a local stack: settings.automations_allow_http) and stored as the contract dumps it, the
provider's `api_key` excluded: that goes to ProviderSecretStore and is answered only as `api_key_set`.

The contract is imported on first use, not at import: it loads the `regex` module and builds validators,
which a public API cold start that never touches automations must not pay.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from zapgate_control.errors import ApiError, NotFound
from zapgate_control.observability import logger, metrics
from zapgate_control.ports.automations import (
    AutomationExists,
    AutomationNotFound,
    AutomationRecord,
    AutomationStore,
    AutomationVersionConflict,
    ChatPauseRecord,
    EscalationStore,
    InteractionRecord,
    InteractionStore,
    ProviderSecretStore,
    TooManyAutomations,
)
from zapgate_control.ports.instances import InstanceStore
from zapgate_control.ports.media import MediaStore
from zapgate_control.services import automation_flag
from zapgate_control.services.instances import invalid_cursor, require
from zapgate_core.domain.idempotency import idempotent_message_id, request_fingerprint
from zapgate_core.domain.jids import chat_jid

if TYPE_CHECKING:
    from zapgate_core.contract.automations import AgentAutomation, RuleAutomation
    from zapgate_core.domain.automations.definitions import Automation

MAX_AUTOMATIONS_PER_INSTANCE = 50
# What an answer carries beside the configuration: a PUT may send them back (a GET, edited), they are dropped.
READ_ONLY_FIELDS = ("id", "instance_id", "version", "api_key_set", "created_at", "updated_at")
API_KEY = "api_key"


@dataclass(frozen=True)
class AutomationDeps:
    instances: InstanceStore
    automations: AutomationStore
    secrets: ProviderSecretStore
    interactions: InteractionStore
    escalations: EscalationStore
    allow_http: bool = False  # a local stack: http:// and local hosts for tools and base URLs
    media: MediaStore | None = None  # checks a media reply's upload_id names one of the tenant's uploads


def _now_ms() -> int:
    return int(time.time() * 1000)


# ------------------------------------------------------------------ validation
def _message(error: Any) -> str:
    """`<field path>: <what to change>`, never the value given (errors.py's shape, 200 characters)."""
    kind = error.get("type")
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in ("rule", "agent"):
        loc = loc[1:]  # the union's tag: the body has no such level
    if kind == "union_tag_invalid":
        return "kind: must be 'rule' or 'agent'"
    if kind == "union_tag_not_found":
        return "kind: required, 'rule' or 'agent'"
    text = str(error.get("msg", "invalid"))
    return (f"{'.'.join(loc)}: {text}" if loc else text)[:200]  # no place: a rule across fields


def parse(body: dict[str, Any], allow_http: bool) -> RuleAutomation | AgentAutomation:
    """The configuration, or 422 validation_error with the contract's message for the first problem."""
    from pydantic import ValidationError

    from zapgate_core.contract.automations import parse_automation

    try:
        return parse_automation(body, allow_http=allow_http)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        raise ApiError(422, "validation_error", _message(errors[0] if errors else {})) from None


def _require_upload(deps: AutomationDeps, tenant_id: str, config: RuleAutomation | AgentAutomation) -> None:
    """A media reply by upload_id must name an upload of this tenant that is there, or the rule could only ever
    fail (one HeadObject; the runner checks again per reply, since an upload can be deleted later)."""
    upload_id = getattr(getattr(config, "reply", None), "upload_id", None)
    if upload_id is None or deps.media is None:
        return
    if deps.media.upload_url(tenant_id, upload_id) is None:
        raise ApiError(422, "upload_not_found", "reply.upload_id: no upload of yours has this id (upload the file "
                                                "first: POST /v1/media-uploads, then the presigned POST)")


def _api_key(config: RuleAutomation | AgentAutomation) -> str | None:
    secret = getattr(config, API_KEY, None)
    return secret.get_secret_value() if secret is not None else None


def _record(
    config: RuleAutomation | AgentAutomation, automation_id: str, tenant_id: str, instance_id: str, now_ms: int,
    *, version: int = 1, created_at_ms: int | None = None, api_key_version: str | None = None,
    request_hash: str | None = None,
) -> AutomationRecord:
    return AutomationRecord(
        id=automation_id, tenant_id=tenant_id, instance_id=instance_id, kind=config.kind, name=config.name,
        enabled=config.enabled, position=config.position, config=config.model_dump(mode="json"), version=version,
        created_at_ms=created_at_ms if created_at_ms is not None else now_ms, updated_at_ms=now_ms,
        api_key_version=api_key_version, request_hash=request_hash,
    )


@lru_cache(maxsize=512)
def _definition(automation_id: str, version: int, config_json: str) -> Automation:
    import json

    from zapgate_core.contract.automations import parse_automation, to_domain

    # Validated when it was saved: a stored configuration is read with http allowed, so a stack setting
    # never turns saved automations invalid (the API refused http when it was deployed).
    return to_domain(parse_automation(json.loads(config_json), allow_http=True), automation_id)


def definition(record: AutomationRecord) -> Automation:
    """The domain's Automation for a stored record (for the runner); cached per (id, version)."""
    import json

    return _definition(record.id, record.version, json.dumps(record.config, sort_keys=True))


# ------------------------------------------------------------------ automations
def _require_automation(deps: AutomationDeps, tenant_id: str, instance_id: str, automation_id: str) -> AutomationRecord:
    require(deps.instances, tenant_id, instance_id)
    record = deps.automations.get(instance_id, automation_id)
    if record is None or record.tenant_id != tenant_id:
        raise NotFound("automation")
    return record


def create(
    deps: AutomationDeps, tenant_id: str, instance_id: str, body: dict[str, Any], idempotency_key: str | None
) -> AutomationRecord:
    require(deps.instances, tenant_id, instance_id)
    config = parse(body, deps.allow_http)
    _require_upload(deps, tenant_id, config)
    request_hash = None
    if idempotency_key is not None:
        # The key names the automation: a retry finds the first one. The api_key is no part of the
        # fingerprint (a hash of a secret is not stored anywhere).
        automation_id = idempotent_message_id(tenant_id, instance_id, f"automation\x1f{idempotency_key}")
        request_hash = request_fingerprint({k: v for k, v in body.items() if k != API_KEY})
        existing = deps.automations.get(instance_id, automation_id)
        if existing is not None:
            return _replayed(existing, request_hash)
    else:
        automation_id = str(uuid.uuid4())
    api_key = _api_key(config)
    key_version = deps.secrets.put(tenant_id, instance_id, automation_id, api_key) if api_key else None
    record = _record(config, automation_id, tenant_id, instance_id, _now_ms(), api_key_version=key_version,
                     request_hash=request_hash)
    try:
        deps.automations.create(record, MAX_AUTOMATIONS_PER_INSTANCE)
    except TooManyAutomations as exc:
        if key_version is not None:
            deps.secrets.delete(automation_id)
        raise ApiError(409, "automation_limit", f"an instance has at most {exc.limit} automations") from None
    except AutomationExists as exc:  # the same Idempotency-Key, concurrently
        return _replayed(exc.existing, request_hash)
    automation_flag.sync(deps.instances, deps.automations, instance_id)  # the worker-proxy's `automate` flag
    metrics.add_metric(name="AutomationsCreated", unit="Count", value=1)
    return record


def _replayed(existing: AutomationRecord, request_hash: str | None) -> AutomationRecord:
    if existing.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
    return existing


def get(deps: AutomationDeps, tenant_id: str, instance_id: str, automation_id: str) -> AutomationRecord:
    return _require_automation(deps, tenant_id, instance_id, automation_id)


def list_all(deps: AutomationDeps, tenant_id: str, instance_id: str) -> list[AutomationRecord]:
    """In evaluation order: rules, then agents, each by position, then id."""
    require(deps.instances, tenant_id, instance_id)
    return [r for r in deps.automations.list_for_instance(instance_id) if r.tenant_id == tenant_id]


def replace_config(
    deps: AutomationDeps, tenant_id: str, instance_id: str, automation_id: str, body: dict[str, Any],
    if_match: int | None,
) -> AutomationRecord:
    """PUT: the whole configuration. The answer's read-only fields may be sent back (they are dropped).
    `api_key` absent keeps the stored key (it is never answered, so a client cannot send it back), null
    removes it; a provider that takes no key (bedrock) removes it too."""
    current = _require_automation(deps, tenant_id, instance_id, automation_id)
    if if_match is not None and if_match != current.version:
        raise _conflict(current)
    fields = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
    config = parse(fields, deps.allow_http)
    _require_upload(deps, tenant_id, config)
    new_key = _api_key(config)
    remove_key = (API_KEY in fields and fields[API_KEY] is None) or config.kind != "agent" or (
        getattr(config, "provider", None) != "openai"
    )
    key_version = current.api_key_version
    if new_key is not None:
        key_version = deps.secrets.put(tenant_id, instance_id, automation_id, new_key)
    elif remove_key:
        key_version = None
    record = _record(config, automation_id, tenant_id, instance_id, _now_ms(), api_key_version=key_version)
    stored = _replace(deps, record, current)
    if current.api_key_version is not None and key_version is None:
        deps.secrets.delete(automation_id)
    metrics.add_metric(name="AutomationsChanged", unit="Count", value=1)
    return stored


def set_enabled(
    deps: AutomationDeps, tenant_id: str, instance_id: str, automation_id: str, enabled: bool, if_match: int | None
) -> AutomationRecord:
    """PATCH: enable or pause. Changes nothing else (no re-validation: the configuration was valid when saved)."""
    current = _require_automation(deps, tenant_id, instance_id, automation_id)
    if if_match is not None and if_match != current.version:
        raise _conflict(current)
    if current.enabled == enabled:
        return current
    config = {**current.config, "enabled": enabled}
    record = replace(current, enabled=enabled, config=config, updated_at_ms=_now_ms())
    stored = _replace(deps, record, current)
    metrics.add_metric(name="AutomationsEnabled" if enabled else "AutomationsPaused", unit="Count", value=1)
    return stored


def _replace(deps: AutomationDeps, record: AutomationRecord, current: AutomationRecord) -> AutomationRecord:
    try:
        stored = deps.automations.replace(record, current)
    except AutomationVersionConflict as exc:
        if exc.current is None:
            raise NotFound("automation") from None
        raise _conflict(exc.current) from None
    if stored.enabled != current.enabled:
        automation_flag.sync(deps.instances, deps.automations, record.instance_id)
    return stored


def _conflict(current: AutomationRecord) -> ApiError:
    return ApiError(409, "version_conflict", "the automation changed meanwhile: read it again and retry",
                    version=current.version)


def delete(deps: AutomationDeps, tenant_id: str, instance_id: str, automation_id: str, if_match: int | None) -> None:
    current = _require_automation(deps, tenant_id, instance_id, automation_id)
    try:
        removed = deps.automations.delete(instance_id, automation_id, if_match)
    except AutomationNotFound:
        raise NotFound("automation") from None
    except AutomationVersionConflict as exc:
        raise _conflict(exc.current or current) from None
    if removed.api_key_version is not None:
        deps.secrets.delete(automation_id)
    automation_flag.sync(deps.instances, deps.automations, instance_id)
    metrics.add_metric(name="AutomationsDeleted", unit="Count", value=1)


def forget_instance(deps: AutomationDeps, instance_id: str) -> int:
    """After its instance was deleted: remove its automations and their provider keys (a secret is billed every
    month, read or not); how many were removed. Interactions, pauses and cooldowns expire by their TTL. Best
    effort, like the proxy secret's removal: the instance is gone whatever happens here, and what is left is
    unreachable (no route reaches a deleted instance's automations)."""
    removed = 0
    try:
        for record in deps.automations.list_for_instance(instance_id):
            try:
                gone = deps.automations.delete(instance_id, record.id)
            except AutomationNotFound:
                continue  # a concurrent delete got it (and its key)
            if gone.api_key_version is not None:
                deps.secrets.delete(record.id)
            removed += 1
    except Exception as exc:
        logger.warning("automations of a deleted instance not removed",
                       extra={"instance_id": instance_id, "removed": removed, "error_type": type(exc).__name__})
    if removed:
        metrics.add_metric(name="AutomationsDeleted", unit="Count", value=removed)
    return removed


# ------------------------------------------------------------------ interactions
def interactions(
    deps: AutomationDeps, tenant_id: str, instance_id: str, chat: str | None, limit: int, cursor: str | None
) -> tuple[list[InteractionRecord], str | None]:
    """Newest first: the instance's, or one chat's (any form of the chat: a phone, a JID)."""
    require(deps.instances, tenant_id, instance_id)
    try:
        if chat is None:
            return deps.interactions.list_for_instance(instance_id, limit, cursor)
        return deps.interactions.list_for_chat(instance_id, normalise_chat(chat), limit, cursor)
    except ValueError as exc:
        raise invalid_cursor() from exc


def normalise_chat(chat: str) -> str:
    """The one spelling a chat is stored under (jids.chat_jid); not a JID: kept, so it matches nothing."""
    return chat_jid(chat) or chat


# ------------------------------------------------------------------ escalation pauses
def escalation(deps: AutomationDeps, tenant_id: str, instance_id: str, chat: str) -> ChatPauseRecord | None:
    """The chat's pause while it holds (None: the automations answer the chat)."""
    require(deps.instances, tenant_id, instance_id)
    pause = deps.escalations.get(instance_id, normalise_chat(chat))
    return pause if pause is not None and pause.active_at(_now_ms()) else None


def resume(deps: AutomationDeps, tenant_id: str, instance_id: str, chat: str) -> ChatPauseRecord | None:
    """End the chat's pause now (a person is done, or wants the automations back); the pause removed."""
    require(deps.instances, tenant_id, instance_id)
    removed = deps.escalations.clear(instance_id, normalise_chat(chat))
    if removed is not None:
        metrics.add_metric(name="AutomationEscalationsCleared", unit="Count", value=1)
    return removed
