"""An agent's tools: tenant endpoints the model may call, each with a JSON Schema of its arguments."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from zapgate_core.contract.automations.common import MAX_URL, AutomationModel, invalid
from zapgate_core.contract.automations.endpoints import endpoint_in_context
from zapgate_core.domain.automations import definitions as domain

MAX_TOOLS = 20
MAX_TOOL_DESCRIPTION = 1_024
MAX_TOOL_SCHEMA_BYTES = 16_384
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"  # what both OpenAI's and Bedrock's function names accept


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
            raise invalid("tool_name", f"{domain.ESCALATE_TO_HUMAN} is built in; give the tool another name")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        checked = endpoint_in_context(value, info)
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
        raise invalid("tool_schema", "tool parameters must be plain JSON (no NaN or Infinity)") from None
    if size > MAX_TOOL_SCHEMA_BYTES:
        raise invalid("tool_schema", f"tool parameters schema must be at most {MAX_TOOL_SCHEMA_BYTES} bytes of JSON")
    # Imported here: only a write of an agent with tools pays for jsonschema, not every cold start.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.json_path != "$" else "the root"
        message = f"tool parameters are not a valid JSON Schema (Draft 2020-12): {where} breaks its '{exc.validator}'"
        raise invalid("tool_schema", message) from None
    if schema.get("type") != "object":
        raise invalid("tool_schema", 'tool parameters must be an object schema ("type": "object")')
