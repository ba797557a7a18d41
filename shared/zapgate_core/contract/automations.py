"""An automation's configuration as the public API accepts and returns it (issue 11, seed 003).

`kind` tells the two apart: a "rule" (a trigger and a canned reply, no AI) or an "agent" (a model with a
system prompt, memory and tools). Both share who they answer (owner_numbers, include_groups), their
place in the evaluation order (position) and whether they run (enabled). `parse_automation` validates a
body; `to_domain` turns a valid configuration into the plain dataclasses the domain decides with
(zapgate_core.domain.automations), and `reply_content` turns a rule's reply into the one outbound
content model every send uses.

Endpoints (an agent's base_url, a tool's url) must be https and must not name a loopback, private or
link-local address, unless the validation runs for a local stack: pass allow_http=True to
`parse_automation` (it travels in pydantic's validation context under ALLOW_HTTP), or call
`check_endpoint_url` directly. The flag is a parameter, never read from the environment here, so what
a deployed API accepts is decided by the one place that knows it is deployed.

Error messages are short, say what to change, and never repeat the value given: the public API turns
the first one into a 422 `validation_error` (errors.py keeps 200 characters of them).
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zapgate_core.contract.common import MAX_BODY, MAX_ID
from zapgate_core.domain.automations import business_hours as hours_rules
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.cooldown import MAX_COOLDOWN_S
from zapgate_core.domain.automations.escalation import (
    DEFAULT_ESCALATION_TTL_S,
    MAX_ESCALATION_TTL_S,
    MIN_ESCALATION_TTL_S,
)
from zapgate_core.domain.automations.routing import owner_number_set
from zapgate_core.domain.automations.rules import MAX_PATTERN, InvalidPattern, keyword_words, probe_pattern
from zapgate_core.domain.message_kinds import FileKind

if TYPE_CHECKING:  # built by the first reply, not at import: the public API imports this module on its cold start
    from zapgate_core.contract.outbound_content import OutboundContent

ALLOW_HTTP = "allow_http"  # validation-context key: True on a local stack (http and local hosts allowed)

NAME_MAX = 100
MAX_URL = 2_048
MAX_OWNER_NUMBERS = 50
MAX_KEYWORDS = 50
MAX_KEYWORD = 100
MAX_SYSTEM_PROMPT = 20_000
MAX_FALLBACK = 4_096
MAX_TOOLS = 20
MAX_TOOL_DESCRIPTION = 1_024
MAX_TOOL_SCHEMA_BYTES = 16_384
MAX_MEMORY_MESSAGES = 50
DEFAULT_MEMORY_MESSAGES = 20  # seed 003: "últimas 20 mensagens"
MAX_TOOL_ROUNDS = 10
MAX_TIMEOUT_S = 120
MAX_TIME_BUDGET_S = 300  # the runner's Lambda must outlive it; seed 003 took 2-4 s per message
MAX_TOKENS = 32_768
MAX_POSITION = 10_000
# Seed 003's fallback, word for word: what its customers have always read when the AI failed.
DEFAULT_FALLBACK = "Desculpe, ocorreu um erro. Por favor, tente novamente."
# An away notice repeated on every message of a night is spam; the other triggers answer what was asked.
DEFAULT_COOLDOWN_S: dict[str, int] = {"keyword": 0, "pattern": 0, "first_message": 0, "away": 3_600}
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"  # what both OpenAI's and Bedrock's function names accept
UPLOAD_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MODEL_ID = r"^[A-Za-z0-9._:/@+-]{1,256}$"  # gpt-4o-mini, llama3.1:8b, vendor/model, Bedrock ids and ARNs
AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d$"

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _error(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


class AutomationModel(BaseModel):
    # Strict: a misspelt field (coldown_s) is refused, not silently dropped from a configuration.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ------------------------------------------------------------------ endpoints
def check_endpoint_url(url: str, *, allow_http: bool) -> str:
    """The URL of an endpoint zapgate calls (a provider, a tool); ValueError says what is wrong.

    Deployed (allow_http False): https only, and no host that is a loopback, private, link-local or
    otherwise internal address literal (nor "localhost"): zapgate would otherwise call into its own
    network on a tenant's behalf. Names that resolve to such addresses are the caller's to refuse when it
    connects. Never credentials in the URL: configurations are returned by the API and appear in logs.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_http else ("https",)
    if scheme not in allowed or not parts.hostname:
        raise ValueError("must be an http(s) URL" if allow_http else "must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (user:password@)")
    if not allow_http and _is_local_host(parts.hostname):
        raise ValueError("must not point at a loopback, private or link-local address")
    return url


def _is_local_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".internal", ".local")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def _endpoint(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    allow_http = bool((info.context or {}).get(ALLOW_HTTP, False))
    try:
        return check_endpoint_url(value, allow_http=allow_http)
    except ValueError as exc:
        raise _error("endpoint_url", f"URL {exc}") from None


# ------------------------------------------------------------------ business hours
class TimeRangeModel(AutomationModel):
    start: str = Field(description="Opening time, HH:MM (local)", examples=["09:00"])
    end: str = Field(description="Closing time, HH:MM, after start; 24:00 = midnight", examples=["18:00"])

    def to_domain(self) -> hours_rules.TimeRange:
        return hours_rules.TimeRange(
            hours_rules.parse_clock(self.start), hours_rules.parse_clock(self.end, closing=True)
        )

    @model_validator(mode="after")
    def _clock(self) -> TimeRangeModel:
        try:
            hours_rules.checked_ranges([self.to_domain()])
        except hours_rules.InvalidHours as exc:
            raise _error("business_hours", str(exc)) from None
        return self


class AwayTriggerModel(AutomationModel):
    """Answers messages that arrive outside the business hours."""

    type: Literal["away"]
    timezone: str = Field(max_length=64, description="IANA time zone", examples=["America/Sao_Paulo"])
    hours: dict[Weekday, list[TimeRangeModel]] = Field(
        description="Open ranges per weekday (mon..sun); a day left out or empty is closed all day. A range "
        "never crosses midnight: split 22:00-02:00 into 22:00-24:00 and 00:00-02:00 of the next day.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            hours_rules.load_timezone(value)
        except hours_rules.InvalidHours as exc:
            raise _error("timezone", str(exc)) from None
        return value

    @field_validator("hours")
    @classmethod
    def _days(cls, value: dict[str, list[TimeRangeModel]]) -> dict[str, list[TimeRangeModel]]:
        for day, ranges in value.items():
            try:
                hours_rules.checked_ranges([item.to_domain() for item in ranges])
            except hours_rules.InvalidHours as exc:
                raise _error("business_hours", f"{day}: {exc}") from None
        return value

    def to_domain(self) -> domain.AwayTrigger:
        by_day: dict[str, list[TimeRangeModel]] = {str(day): ranges for day, ranges in self.hours.items()}
        days = tuple(
            hours_rules.checked_ranges([item.to_domain() for item in by_day.get(day, [])])
            for day in hours_rules.WEEKDAYS
        )
        return domain.AwayTrigger(hours_rules.WeeklyHours(self.timezone, days))


# ------------------------------------------------------------------ other triggers
class KeywordTriggerModel(AutomationModel):
    """Answers when any keyword (a word or a phrase) occurs as whole words, ignoring case and accents."""

    type: Literal["keyword"]
    keywords: list[Annotated[str, Field(min_length=1, max_length=MAX_KEYWORD)]] = Field(
        min_length=1, max_length=MAX_KEYWORDS, examples=[["preço", "valor", "quanto custa"]]
    )

    @field_validator("keywords")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for keyword in value:
            try:
                keyword_words(keyword)
            except InvalidPattern as exc:
                raise _error("keyword", str(exc)) from None
        return value

    def to_domain(self) -> domain.KeywordTrigger:
        return domain.KeywordTrigger(tuple(self.keywords))


class PatternTriggerModel(AutomationModel):
    """Answers when the regular expression (Python syntax) finds a match anywhere in the text."""

    type: Literal["pattern"]
    pattern: str = Field(min_length=1, max_length=MAX_PATTERN, examples=[r"\bpedido\s*#?\d{4,}"])
    case_sensitive: StrictBool = False

    @model_validator(mode="after")
    def _usable(self) -> PatternTriggerModel:
        try:
            probe_pattern(self.pattern, case_sensitive=self.case_sensitive)
        except InvalidPattern as exc:
            raise _error("pattern", str(exc)) from None
        return self

    def to_domain(self) -> domain.PatternTrigger:
        return domain.PatternTrigger(self.pattern, self.case_sensitive)


class FirstMessageTriggerModel(AutomationModel):
    """Answers a contact's first message to the instance (a welcome)."""

    type: Literal["first_message"]

    def to_domain(self) -> domain.FirstMessageTrigger:
        return domain.FirstMessageTrigger()


TriggerModel = Annotated[
    KeywordTriggerModel | PatternTriggerModel | FirstMessageTriggerModel | AwayTriggerModel,
    Field(discriminator="type"),
]


# ------------------------------------------------------------------ replies
class TextReplyModel(AutomationModel):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=MAX_BODY)

    def to_domain(self) -> domain.TextReply:
        return domain.TextReply(self.text)


class MediaReplyModel(AutomationModel):
    """Media as a send describes it (OutboundContent's media_type, media_url, mime_type, file_name; the
    caption is the send's body), by URL or by the id of a POST /v1/media-uploads object."""

    type: Literal["media"]
    media_type: FileKind  # not a sticker: a reply's media has a caption
    media_url: str | None = Field(default=None, max_length=MAX_URL, description="http(s) URL; or upload_id")
    upload_id: str | None = Field(default=None, pattern=UPLOAD_ID, description="An uploaded object's id")
    caption: str | None = Field(default=None, max_length=MAX_BODY)
    mime_type: str | None = Field(default=None, max_length=MAX_ID, pattern=r"^[\w.+-]+/[\w.+-]+$")
    file_name: str | None = Field(default=None, max_length=500)

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, value: str | None) -> str | None:
        # The same rule as a send's media_url: the sidecar fetches it, http or https.
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise _error("media_url", "media_url must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> MediaReplyModel:
        if (self.media_url is None) == (self.upload_id is None):
            raise _error("media_source", "a media reply needs exactly one of media_url or upload_id")
        return self

    def to_domain(self) -> domain.MediaReply:
        return domain.MediaReply(
            self.media_type, self.media_url, self.upload_id, self.caption, self.mime_type, self.file_name
        )


ReplyModel = Annotated[TextReplyModel | MediaReplyModel, Field(discriminator="type")]


# ------------------------------------------------------------------ what both kinds share
class CommonFields(AutomationModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    enabled: StrictBool = True
    position: StrictInt = Field(
        default=0, ge=0, le=MAX_POSITION, description="Order within its kind: rules first, then agents"
    )
    include_groups: StrictBool = Field(default=False, description="Also answer in groups (as customers)")
    owner_numbers: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=MAX_OWNER_NUMBERS,
        description="The business's own phones: they get the owner agent; rules never answer them",
    )

    @field_validator("owner_numbers")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        try:
            return sorted(owner_number_set(value))
        except ValueError as exc:
            raise _error("owner_numbers", str(exc)) from None

    def _domain(self, automation_id: str, behaviour: domain.Rule | domain.Agent) -> domain.Automation:
        return domain.Automation(
            id=automation_id, name=self.name, behaviour=behaviour, enabled=self.enabled, position=self.position,
            include_groups=self.include_groups, owner_numbers=frozenset(self.owner_numbers),
        )


class RuleAutomation(CommonFields):
    kind: Literal["rule"]
    trigger: TriggerModel
    reply: ReplyModel
    cooldown_s: StrictInt | None = Field(
        default=None, ge=0, le=MAX_COOLDOWN_S,
        description="Seconds the rule stays quiet in a chat after answering it; default 3600 for away, else 0",
    )

    @model_validator(mode="after")
    def _default_cooldown(self) -> RuleAutomation:
        if self.cooldown_s is None:
            self.cooldown_s = DEFAULT_COOLDOWN_S[self.trigger.type]
        return self

    def to_domain(self, automation_id: str) -> domain.Automation:
        rule = domain.Rule(self.trigger.to_domain(), self.reply.to_domain(), self.cooldown_s or 0)
        return self._domain(automation_id, rule)


# ------------------------------------------------------------------ agents
class AgentToolModel(AutomationModel):
    """A tenant endpoint the model may call; zapgate POSTs the arguments, signed like a webhook."""

    name: str = Field(pattern=TOOL_NAME, examples=["book_appointment"])
    description: str = Field(min_length=1, max_length=MAX_TOOL_DESCRIPTION)
    url: str = Field(max_length=MAX_URL, description="https:// endpoint of the tenant")
    parameters: dict[str, Any] = Field(
        description="JSON Schema (Draft 2020-12) of the arguments: an object schema",
        examples=[{"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]}],
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.casefold() == domain.ESCALATE_TO_HUMAN:
            raise _error("tool_name", f"{domain.ESCALATE_TO_HUMAN} is built in; give the tool another name")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        checked = _endpoint(value, info)
        assert checked is not None
        return checked

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_tool_schema(value)
        return value

    def to_domain(self) -> domain.AgentTool:
        return domain.AgentTool(self.name, self.description, self.url, self.parameters)


def check_tool_schema(schema: dict[str, Any]) -> None:
    """A tool's arguments schema: JSON, within MAX_TOOL_SCHEMA_BYTES, valid against the Draft 2020-12
    meta-schema, and an object schema (both OpenAI and Bedrock pass arguments as one JSON object)."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False, allow_nan=False).encode())
    except ValueError:
        raise _error("tool_schema", "tool parameters must be plain JSON (no NaN or Infinity)") from None
    if size > MAX_TOOL_SCHEMA_BYTES:
        raise _error("tool_schema", f"tool parameters schema must be at most {MAX_TOOL_SCHEMA_BYTES} bytes of JSON")
    # Imported here: only a write of an agent with tools pays for jsonschema, not every cold start.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else "the root"
        message = f"tool parameters are not a valid JSON Schema (Draft 2020-12): {where} breaks its '{exc.validator}'"
        raise _error("tool_schema", message) from None
    if schema.get("type") != "object":
        raise _error("tool_schema", 'tool parameters must be an object schema ("type": "object")')


class AgentAutomation(CommonFields):
    kind: Literal["agent"]
    audience: domain.Audience = Field(description="owner: the owner numbers' direct chats; customer: everyone else")
    provider: domain.Provider = Field(description="openai (any OpenAI-compatible API) or bedrock (Converse)")
    model: str = Field(pattern=MODEL_ID, examples=["gpt-4o-mini", "anthropic.claude-3-5-haiku-20241022-v1:0"])
    base_url: str | None = Field(
        default=None, max_length=MAX_URL,
        description="openai only: an OpenAI-compatible endpoint (Azure OpenAI, OpenRouter, Ollama, vLLM)",
    )
    region: str | None = Field(default=None, pattern=AWS_REGION, description="bedrock only; default: the stack's")
    api_key: SecretStr | None = Field(
        default=None, max_length=500, exclude=True,
        description="openai only; write-only (kept in Secrets Manager, never returned)",
    )
    temperature: float = Field(default=0.7, ge=0, le=2, allow_inf_nan=False)
    system_prompt: str = Field(default="", max_length=MAX_SYSTEM_PROMPT, description="Instructions, personality")
    memory_messages: StrictInt = Field(
        default=DEFAULT_MEMORY_MESSAGES, ge=0, le=MAX_MEMORY_MESSAGES,
        description="How many of the chat's last messages the model reads (seed 003: 20)",
    )
    tools: list[AgentToolModel] = Field(default_factory=list, max_length=MAX_TOOLS)
    max_tool_rounds: StrictInt = Field(default=5, ge=0, le=MAX_TOOL_ROUNDS)
    max_tokens: StrictInt = Field(default=1_024, ge=1, le=MAX_TOKENS, description="Bound on one answer's length")
    timeout_s: StrictInt = Field(default=30, ge=1, le=MAX_TIMEOUT_S, description="Bound on one model call, seconds")
    time_budget_s: StrictInt = Field(
        default=60, ge=1, le=MAX_TIME_BUDGET_S, description="Bound on the whole run: model calls, retries and tools"
    )
    fallback_text: str = Field(default=DEFAULT_FALLBACK, min_length=1, max_length=MAX_FALLBACK)
    escalate_to_human: StrictBool = Field(
        default=True, description="Offer the built-in escalate_to_human tool: it pauses the chat's automations"
    )
    escalation_ttl_s: StrictInt = Field(
        default=DEFAULT_ESCALATION_TTL_S, ge=MIN_ESCALATION_TTL_S, le=MAX_ESCALATION_TTL_S,
        description="How long an escalation pauses the chat unless a person replies first",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _endpoint(value, info)

    @field_validator("tools")
    @classmethod
    def _distinct_tools(cls, value: list[AgentToolModel]) -> list[AgentToolModel]:
        names = [tool.name for tool in value]
        if len(set(names)) != len(names):
            raise _error("tool_name", "tool names must be distinct")
        return value

    @model_validator(mode="after")
    def _provider_fields(self) -> AgentAutomation:
        if self.provider == "bedrock" and (self.base_url is not None or self.api_key is not None):
            raise _error("provider", "bedrock takes no base_url or api_key: it runs with the stack's IAM role")
        if self.provider == "openai" and self.region is not None:
            raise _error("provider", "region is for bedrock; openai takes a base_url")
        if self.audience == "owner" and not self.owner_numbers:
            raise _error("audience", "an owner agent needs owner_numbers: nobody else reaches it")
        if self.audience == "owner" and self.include_groups:
            raise _error("audience", "an owner agent answers only direct chats: its replies carry business data")
        return self

    def to_domain(self, automation_id: str) -> domain.Automation:
        agent = domain.Agent(
            audience=self.audience, provider=self.provider, model=self.model, system_prompt=self.system_prompt,
            fallback_text=self.fallback_text, temperature=self.temperature, memory_messages=self.memory_messages,
            tools=tuple(tool.to_domain() for tool in self.tools), max_tool_rounds=self.max_tool_rounds,
            timeout_s=self.timeout_s, time_budget_s=self.time_budget_s, max_tokens=self.max_tokens,
            escalate_to_human=self.escalate_to_human,
            escalation_ttl_s=self.escalation_ttl_s, base_url=self.base_url, region=self.region,
        )
        return self._domain(automation_id, agent)


AutomationConfig = Annotated[RuleAutomation | AgentAutomation, Field(discriminator="kind")]


@lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[RuleAutomation | AgentAutomation]:
    # Built on first use: a function that never reads a configuration does not build its schema.
    return TypeAdapter(AutomationConfig)


def parse_automation(data: object, *, allow_http: bool = False) -> RuleAutomation | AgentAutomation:
    """A configuration from a request body (a dict or JSON text); pydantic.ValidationError when invalid."""
    context = {ALLOW_HTTP: allow_http}
    if isinstance(data, str | bytes):
        return _adapter().validate_json(data, context=context)
    return _adapter().validate_python(data, context=context)


def to_domain(config: RuleAutomation | AgentAutomation, automation_id: str) -> domain.Automation:
    return config.to_domain(automation_id)


def reply_content(reply: domain.Reply, to: str, *, media_url: str | None = None) -> OutboundContent:
    """A rule's reply as a send to `to`, as the public API's send builds it (no `type` for text and media:
    the JSON the Node worker has always read). media_url: the link the sender resolved an upload_id to."""
    from zapgate_core.contract.outbound_content import OutboundContent

    if isinstance(reply, domain.TextReply):
        return OutboundContent(to=to, body=reply.text)
    url = reply.media_url or media_url
    if url is None:
        raise ValueError("a media reply by upload_id needs the upload's media_url")
    return OutboundContent(
        to=to, body=reply.caption, media_url=url, media_type=reply.media_type, mime_type=reply.mime_type,
        file_name=reply.file_name,
    )
