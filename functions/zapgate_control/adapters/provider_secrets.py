"""Provider API keys of automations in AWS Secrets Manager: one secret per automation.

Name: `<PROVIDER_SECRETS_PREFIX><automation id>` (the stack's prefix is `<stack name>/automations/`, the
only names the functions' IAM policies reach: the public API may create, replace and delete them, never
read them; the runner may only read them). tenant_id and instance_id are not put on the secret: a tag
value allows only some characters, and a key must never fail to save for a tenant's name.

The key is handed to boto3 and nothing else: no log line, no exception message and no record carries it
(botocore's own errors name the operation and the secret, never the value). botocore logs whole request
and response bodies at DEBUG (botocore.endpoint, botocore.parsers), which a function whose log level is
turned to DEBUG would then print: a filter on those loggers drops every record that carries a secret
value's field.
"""

from __future__ import annotations

import logging

from zapgate_control.aws import client

_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.retryhandler")


class _NoSecretBodies(logging.Filter):
    """Drops botocore's DEBUG records of a request or response that holds a SecretString."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: let logging report it as usual
            return True
        return "SecretString" not in text


_FILTER = _NoSecretBodies()


def _quiet_secret_bodies() -> None:
    for name in _BODY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class SecretsManagerProviderKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        _quiet_secret_bodies()

    def name(self, automation_id: str) -> str:
        return f"{self.prefix}{automation_id}"

    def put(self, tenant_id: str, instance_id: str, automation_id: str, api_key: str) -> str:
        secrets = client("secretsmanager")
        name = self.name(automation_id)
        try:
            created = secrets.create_secret(
                Name=name,
                SecretString=api_key,
                Description="zapgate automation provider key (written by the public API, read by the runner)",
            )
            return str(created["VersionId"])
        except Exception as exc:
            if _code(exc) != "ResourceExistsException":
                raise
        return str(secrets.put_secret_value(SecretId=name, SecretString=api_key)["VersionId"])

    def get(self, automation_id: str, version: str | None = None) -> str | None:
        request = {"SecretId": self.name(automation_id)}
        if version:
            request["VersionId"] = version
        try:
            value = client("secretsmanager").get_secret_value(**request)
        except Exception as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise
        secret = value.get("SecretString")
        return str(secret) if secret is not None else None

    def delete(self, automation_id: str) -> None:
        try:
            client("secretsmanager").delete_secret(SecretId=self.name(automation_id), ForceDeleteWithoutRecovery=True)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
