"""The public configuration of an automation (contract/automations/): what is accepted, how it converts to
the domain, and that every invalid configuration is refused with a message that says what to change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from zapgate_core.contract.automations import (
    DEFAULT_FALLBACK,
    MAX_TOOL_SCHEMA_BYTES,
    AgentAutomation,
    RuleAutomation,
    check_endpoint_url,
    parse_automation,
    reply_content,
    to_domain,
)
from zapgate_core.domain.automations import definitions as domain
from zapgate_core.domain.automations.business_hours import TimeRange

BOOKING_SCHEMA = {
    "type": "object",
    "properties": {
        "pet_name": {"type": "string"}, "service_type": {"type": "string"},
        "preferred_date": {"type": "string", "format": "date"}, "preferred_time": {"type": "string"},
    },
    "required": ["pet_name", "service_type", "preferred_date"],
}
UPLOAD_ID = "3f2b8c1e-9d4a-4e6b-8f0c-1a2b3c4d5e6f"


def a_rule(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "rule", "name": "Preço", "trigger": {"type": "keyword", "keywords": ["preço", "valor"]},
        "reply": {"type": "text", "text": "Banho a partir de R$ 50"}, **changes,
    }


def an_agent(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "agent", "name": "Client AI", "audience": "customer", "provider": "openai", "model": "gpt-4o-mini",
        "system_prompt": "Você é a recepcionista do pet shop.",
        "tools": [{"name": "book_appointment", "description": "Agenda um serviço", "url": "https://tenant.example/book",
                   "parameters": BOOKING_SCHEMA}],
        **changes,
    }


def refusal(data: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as caught:
        parse_automation(data, **kwargs)
    first = caught.value.errors()[0]
    return first["type"], tuple(first["loc"]), first["msg"]


# ------------------------------------------------------------------ accepted shapes and conversion
def test_a_keyword_rule_converts_to_the_domain() -> None:
    config = parse_automation(a_rule(owner_numbers=["+55 (11) 99999-0000", "5511999990000@s.whatsapp.net"]))
    assert isinstance(config, RuleAutomation)
    assert config.owner_numbers == ["5511999990000"]  # normalised and deduplicated
    assert config.enabled and config.position == 0 and not config.include_groups and config.cooldown_s == 0
    automation = to_domain(config, "auto-1")
    assert automation == domain.Automation(
        "auto-1", "Preço",
        domain.Rule(domain.KeywordTrigger(("preço", "valor")), domain.TextReply("Banho a partir de R$ 50")),
        owner_numbers=frozenset({"5511999990000"}),
    )
    assert automation.kind == "rule"


def test_an_away_rule_gets_its_hours_per_weekday_and_a_default_cooldown() -> None:
    config = parse_automation(a_rule(trigger={
        "type": "away", "timezone": "America/Sao_Paulo",
        "hours": {"fri": [{"start": "14:00", "end": "18:00"}, {"start": "09:00", "end": "12:00"}],
                  "mon": [{"start": "09:00", "end": "24:00"}]},
    }))
    rule = to_domain(config, "away").behaviour
    assert isinstance(rule, domain.Rule) and isinstance(rule.trigger, domain.AwayTrigger)
    assert rule.cooldown_s == 3600  # an away notice is not repeated on every message of the night
    days = rule.trigger.hours.days
    assert days[0] == (TimeRange(540, 1440),)  # Monday first
    assert days[4] == (TimeRange(540, 720), TimeRange(840, 1080))  # Friday, sorted
    assert days[1] == days[2] == days[3] == days[5] == days[6] == ()
    assert rule.trigger.hours.timezone == "America/Sao_Paulo"


def test_a_media_reply_by_url_or_by_upload_becomes_a_send() -> None:
    by_url = parse_automation(a_rule(reply={
        "type": "media", "media_type": "document", "media_url": "https://cdn.example/menu.pdf",
        "caption": "Nosso cardápio", "file_name": "menu.pdf", "mime_type": "application/pdf",
    }))
    reply = to_domain(by_url, "menu").behaviour.reply  # type: ignore[union-attr]
    content = reply_content(reply, "5511988887777")
    assert content.model_dump(mode="json") == {
        "to": "5511988887777", "body": "Nosso cardápio", "media_url": "https://cdn.example/menu.pdf",
        "media_type": "document", "mime_type": "application/pdf", "file_name": "menu.pdf",
    }  # the JSON a send of the same document stores: no `type` for media, as the public API's send
    by_upload = parse_automation(a_rule(reply={"type": "media", "media_type": "image", "upload_id": UPLOAD_ID}))
    uploaded = to_domain(by_upload, "photo").behaviour.reply  # type: ignore[union-attr]
    assert isinstance(uploaded, domain.MediaReply) and uploaded.upload_id == UPLOAD_ID and uploaded.media_url is None
    with pytest.raises(ValueError, match="upload"):
        reply_content(uploaded, "5511988887777")
    resolved = reply_content(uploaded, "5511988887777", media_url="https://bucket.example/u?sig=1")
    assert resolved.media_url == "https://bucket.example/u?sig=1" and resolved.media_type == "image"


def test_a_text_reply_becomes_a_plain_text_send() -> None:
    content = reply_content(domain.TextReply("Olá!"), "5511988887777")
    assert content.model_dump(mode="json") == {
        "to": "5511988887777", "body": "Olá!", "media_url": None, "media_type": None, "mime_type": None,
        "file_name": None,
    }


def test_an_agent_has_seed_003_defaults_and_converts_to_the_domain() -> None:
    config = parse_automation(an_agent())
    assert isinstance(config, AgentAutomation)
    assert config.memory_messages == 20  # seed 003: the last 20 messages
    assert config.fallback_text == DEFAULT_FALLBACK == "Desculpe, ocorreu um erro. Por favor, tente novamente."
    agent = to_domain(config, "client-ai").behaviour
    assert isinstance(agent, domain.Agent)
    assert agent.tools == (domain.AgentTool("book_appointment", "Agenda um serviço", "https://tenant.example/book",
                                            BOOKING_SCHEMA),)
    assert (agent.provider, agent.model, agent.audience, agent.escalate_to_human) == (
        "openai", "gpt-4o-mini", "customer", True)
    assert agent.escalation_ttl_s == 24 * 3600
    # The agent loop's AgentSettings defaults: one call 30 s, the run 60 s, 5 tool rounds, 1024 tokens.
    assert (agent.timeout_s, agent.time_budget_s, agent.max_tool_rounds, agent.max_tokens) == (30, 60, 5, 1024)


def test_json_text_is_accepted_as_a_body() -> None:
    assert isinstance(parse_automation(json.dumps(an_agent())), AgentAutomation)


def test_the_provider_key_is_write_only() -> None:
    config = parse_automation(an_agent(api_key="sk-live-secret-123"))
    assert isinstance(config, AgentAutomation)
    assert config.api_key is not None and config.api_key.get_secret_value() == "sk-live-secret-123"
    assert "api_key" not in config.model_dump()
    assert "sk-live-secret-123" not in config.model_dump_json() + repr(config)
    assert not hasattr(to_domain(config, "a").behaviour, "api_key")  # the domain never carries it


def test_bedrock_takes_a_region_and_no_key() -> None:
    config = parse_automation(an_agent(provider="bedrock", model="anthropic.claude-3-5-haiku-20241022-v1:0",
                                       region="us-east-1"))
    assert to_domain(config, "b").behaviour.region == "us-east-1"  # type: ignore[union-attr]


# ------------------------------------------------------------------ endpoints and the local-stack flag
def test_a_local_stack_may_use_http_and_loopback_endpoints() -> None:
    local = an_agent(base_url="http://127.0.0.1:11434/v1")
    local["tools"][0]["url"] = "http://127.0.0.1:9000/book"
    config = parse_automation(local, allow_http=True)
    assert isinstance(config, AgentAutomation) and config.base_url == "http://127.0.0.1:11434/v1"
    assert refusal(local)[0] == "endpoint_url"  # the same body in a deployed stack


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://tenant.example/book", "must be an https:// URL"),
        ("ftp://tenant.example/book", "must be an https:// URL"),
        ("book_appointment", "must be an https:// URL"),
        ("https://127.0.0.1/book", "loopback, private or link-local"),
        ("https://169.254.169.254/latest/meta-data", "loopback, private or link-local"),  # instance metadata
        ("https://10.0.0.7/book", "loopback, private or link-local"),
        ("https://[::1]/book", "loopback, private or link-local"),
        ("https://localhost/book", "loopback, private or link-local"),
        ("https://admin:hunter2@tenant.example/book", "credentials"),
    ],
)
def test_a_tool_url_must_be_a_public_https_endpoint(url: str, message: str) -> None:
    body = an_agent()
    body["tools"][0]["url"] = url
    code, loc, msg = refusal(body)
    assert code == "endpoint_url"
    assert loc == ("agent", "tools", 0, "url")
    assert message in msg
    assert "hunter2" not in msg  # errors never repeat the input


def test_the_endpoint_check_is_a_plain_function_of_the_flag() -> None:
    assert check_endpoint_url("https://api.openai.com/v1", allow_http=False) == "https://api.openai.com/v1"
    assert check_endpoint_url("http://localhost:8080/v1", allow_http=True) == "http://localhost:8080/v1"
    with pytest.raises(ValueError, match="https"):
        check_endpoint_url("http://api.example/v1", allow_http=False)
    with pytest.raises(ValueError, match="http"):
        check_endpoint_url("file:///etc/passwd", allow_http=True)


def test_a_non_https_base_url_is_refused() -> None:
    code, loc, msg = refusal(an_agent(base_url="http://api.example/v1"))
    assert (code, loc) == ("endpoint_url", ("agent", "base_url"))
    assert "https://" in msg


# ------------------------------------------------------------------ invalid agents
def test_an_unknown_provider_is_refused() -> None:
    _, loc, msg = refusal(an_agent(provider="anthropic"))
    assert loc == ("agent", "provider")
    assert "'openai' or 'bedrock'" in msg


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "objectt"}, "$.type"),
        ({"type": "object", "properties": {"date": {"type": "string", "minLength": -1}}},
         "$.properties.date.minLength"),
        ({"type": "object", "required": "date"}, "$.required"),
        ({"type": "object", "properties": []}, "$.properties"),
    ],
)
def test_an_invalid_json_schema_for_a_tool_is_refused(schema: dict[str, Any], where: str) -> None:
    body = an_agent()
    body["tools"][0]["parameters"] = schema
    code, loc, msg = refusal(body)
    assert (code, loc) == ("tool_schema", ("agent", "tools", 0, "parameters"))
    assert "not a valid JSON Schema (Draft 2020-12)" in msg
    assert where in msg


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "string"}, 'must be an object schema ("type": "object")'),
        ({"properties": {}}, 'must be an object schema ("type": "object")'),
        ({"type": "object", "description": "x" * MAX_TOOL_SCHEMA_BYTES}, f"at most {MAX_TOOL_SCHEMA_BYTES} bytes"),
        ({"type": "object", "maximum": float("nan")}, "plain JSON"),
    ],
)
def test_a_tool_schema_must_be_a_bounded_object_schema(schema: dict[str, Any], message: str) -> None:
    body = an_agent()
    body["tools"][0]["parameters"] = schema
    code, _, msg = refusal(body)
    assert code == "tool_schema"
    assert message in msg


@pytest.mark.parametrize(
    ("tool_changes", "code", "message"),
    [
        ({"name": "escalate_to_human"}, "tool_name", "built in"),
        ({"name": "Escalate_To_Human"}, "tool_name", "built in"),
        ({"name": "book appointment"}, "string_pattern_mismatch", "^[a-zA-Z0-9_-]{1,64}$"),
        ({"name": "x" * 65}, "string_pattern_mismatch", "^[a-zA-Z0-9_-]{1,64}$"),
        ({"description": ""}, "string_too_short", "at least 1"),
        ({"secret": "x"}, "extra_forbidden", "not permitted"),
    ],
)
def test_a_tool_must_be_well_named_and_described(tool_changes: dict[str, Any], code: str, message: str) -> None:
    body = an_agent()
    body["tools"][0].update(tool_changes)
    got_code, _, msg = refusal(body)
    assert got_code == code
    assert message in msg


def test_tool_names_must_be_distinct() -> None:
    body = an_agent()
    body["tools"].append(dict(body["tools"][0]))
    assert refusal(body)[0:3:2] == ("tool_name", "tool names must be distinct")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"temperature": 2.5}, "temperature", "less than or equal to 2"),
        ({"temperature": -0.1}, "temperature", "greater than or equal to 0"),
        ({"memory_messages": 51}, "memory_messages", "less than or equal to 50"),
        ({"memory_messages": -1}, "memory_messages", "greater than or equal to 0"),
        ({"max_tool_rounds": 11}, "max_tool_rounds", "less than or equal to 10"),
        ({"timeout_s": 0}, "timeout_s", "greater than or equal to 1"),
        ({"timeout_s": 121}, "timeout_s", "less than or equal to 120"),
        ({"time_budget_s": 301}, "time_budget_s", "less than or equal to 300"),
        ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"escalation_ttl_s": 30}, "escalation_ttl_s", "greater than or equal to 60"),
        ({"system_prompt": "x" * 20_001}, "system_prompt", "at most 20000"),
        ({"fallback_text": ""}, "fallback_text", "at least 1"),
        ({"model": "gpt 4"}, "model", "should match pattern"),
        ({"audience": "staff"}, "audience", "'owner' or 'customer'"),
        ({"memory_messages": "20"}, "memory_messages", "valid integer"),
    ],
)
def test_agent_settings_out_of_range_are_refused(changes: dict[str, Any], field: str, message: str) -> None:
    _, loc, msg = refusal(an_agent(**changes))
    assert loc == ("agent", field)
    assert message in msg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider": "bedrock", "base_url": "https://api.example/v1"}, "bedrock takes no base_url"),
        ({"provider": "bedrock", "api_key": "sk-1"}, "bedrock takes no base_url or api_key"),
        ({"region": "us-east-1"}, "region is for bedrock"),
        ({"audience": "owner"}, "an owner agent needs owner_numbers"),
        ({"audience": "owner", "owner_numbers": ["5511999990000"], "include_groups": True}, "only direct chats"),
    ],
)
def test_provider_and_audience_combinations_that_cannot_work_are_refused(changes: dict[str, Any], message: str) -> None:
    code, _, msg = refusal(an_agent(**changes))
    assert code in ("provider", "audience")
    assert message in msg


# ------------------------------------------------------------------ invalid rules
@pytest.mark.parametrize(("cooldown", "message"), [(-1, "greater than or equal to 0"),
                                                   (7 * 24 * 3600 + 1, "less than or equal to 604800"),
                                                   (1.5, "valid integer")])
def test_a_cooldown_out_of_range_is_refused(cooldown: Any, message: str) -> None:
    _, loc, msg = refusal(a_rule(cooldown_s=cooldown))
    assert loc == ("rule", "cooldown_s")
    assert message in msg


@pytest.mark.parametrize(
    ("hours", "loc_tail", "message"),
    [
        ({"mon": [{"start": "9:00", "end": "18:00"}]}, ("mon", 0), "HH:MM"),
        ({"mon": [{"start": "09:00", "end": "25:00"}]}, ("mon", 0), "HH:MM, 00:00 to 24:00"),
        ({"mon": [{"start": "24:00", "end": "24:00"}]}, ("mon", 0), "HH:MM, 00:00 to 23:59"),
        ({"mon": [{"start": "22:00", "end": "02:00"}]}, ("mon", 0), "never crosses midnight"),
        ({"tue": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}]}, (), "tue: ranges"),
        ({"monday": [{"start": "09:00", "end": "18:00"}]}, ("monday", "[key]"), "'mon', 'tue'"),
        ({"mon": [{"start": "09:00"}]}, ("mon", 0, "end"), "Field required"),
    ],
)
def test_business_hours_out_of_range_are_refused(
    hours: dict[str, Any], loc_tail: tuple[Any, ...], message: str
) -> None:
    _, loc, msg = refusal(a_rule(trigger={"type": "away", "timezone": "America/Sao_Paulo", "hours": hours}))
    assert loc[:4] == ("rule", "trigger", "away", "hours")
    assert loc[4:] == loc_tail
    assert message in msg


@pytest.mark.parametrize("timezone", ["Brasil/Sao Paulo", "Mars/Olympus", "GMT-3 ", "../../etc/passwd"])
def test_an_unknown_timezone_is_refused(timezone: str) -> None:
    code, loc, msg = refusal(a_rule(trigger={"type": "away", "timezone": timezone, "hours": {}}))
    assert (code, loc) == ("timezone", ("rule", "trigger", "away", "timezone"))
    assert "America/Sao_Paulo" in msg  # says what a valid one looks like


@pytest.mark.parametrize(
    ("trigger", "code", "message"),
    [
        ({"type": "pattern", "pattern": "(abc"}, "pattern", "not a valid regular expression"),
        ({"type": "pattern", "pattern": "(a+)+$"}, "pattern", "too slow"),
        ({"type": "keyword", "keywords": []}, "too_short", "at least 1 item"),
        ({"type": "keyword", "keywords": ["!!"]}, "keyword", "letter or digit"),
        ({"type": "sometimes"}, "union_tag_invalid", "'keyword', 'pattern', 'first_message', 'away'"),
    ],
)
def test_unusable_triggers_are_refused(trigger: dict[str, Any], code: str, message: str) -> None:
    got_code, _, msg = refusal(a_rule(trigger=trigger))
    assert got_code == code
    assert message in msg


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"type": "media", "media_type": "image"}, "exactly one of media_url or upload_id"),
        ({"type": "media", "media_type": "image", "media_url": "https://x.example/a.png", "upload_id": UPLOAD_ID},
         "exactly one of media_url or upload_id"),
        ({"type": "media", "media_type": "image", "media_url": "ftp://x.example/a.png"}, "http(s) URL"),
        ({"type": "media", "media_type": "sticker", "media_url": "https://x.example/a.webp"}, "'image', 'video'"),
        ({"type": "media", "media_type": "image", "upload_id": "uploads/t/123"}, "should match pattern"),
        ({"type": "text", "text": ""}, "at least 1 character"),
    ],
)
def test_unusable_replies_are_refused(reply: dict[str, Any], message: str) -> None:
    assert message in refusal(a_rule(reply=reply))[2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "bot"}, "'rule', 'agent'"),
        ({"coldown_s": 60}, "Extra inputs are not permitted"),  # a typo is refused, not dropped
        ({"name": "   "}, "at least 1 character"),
        ({"position": -1}, "greater than or equal to 0"),
        ({"enabled": "yes"}, "valid boolean"),
        ({"owner_numbers": ["not a phone"]}, "owner numbers must be phone numbers"),
        ({"owner_numbers": ["5511999990000"] * 51}, "at most 50"),
    ],
)
def test_common_fields_are_checked(changes: dict[str, Any], message: str) -> None:
    assert message in refusal(a_rule(**changes))[2]


def test_every_refusal_fits_the_public_apis_error_message() -> None:
    # errors.py answers "<loc>: <msg>" cut at 200 characters: the reason must come first and be short.
    bodies = [an_agent(provider="x"), a_rule(cooldown_s=-1), an_agent(base_url="http://x.example"),
              a_rule(trigger={"type": "away", "timezone": "America/Sao_Paulo",
                              "hours": {"mon": [{"start": "22:00", "end": "02:00"}]}})]
    for body in bodies:
        _, loc, msg = refusal(body)
        assert len(f"{'.'.join(map(str, loc))}: {msg}") <= 200
