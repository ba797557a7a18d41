"""Secrets in AWS Secrets Manager, one per object, named `<prefix><object id>`: the one place that writes, reads
and deletes them (provider keys of automations, instance proxy URLs).

The value is handed to boto3 and nothing else: no log line, no exception message and no record carries it
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


class NamedSecrets:
    """put / get / delete of the secret `<prefix><object id>`; `description` says what it holds."""

    def __init__(self, prefix: str, description: str) -> None:
        self.prefix = prefix
        self.description = description
        _quiet_secret_bodies()

    def name(self, object_id: str) -> str:
        return f"{self.prefix}{object_id}"

    def put_value(self, object_id: str, value: str) -> str:
        """Create or replace; the new version's id."""
        secrets = client("secretsmanager")
        name = self.name(object_id)
        try:
            return str(secrets.create_secret(Name=name, SecretString=value, Description=self.description)["VersionId"])
        except Exception as exc:
            if _code(exc) != "ResourceExistsException":
                raise
        return str(secrets.put_secret_value(SecretId=name, SecretString=value)["VersionId"])

    def get(self, object_id: str, version: str | None = None) -> str | None:
        request = {"SecretId": self.name(object_id)}
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

    def delete(self, object_id: str) -> None:
        try:
            client("secretsmanager").delete_secret(SecretId=self.name(object_id), ForceDeleteWithoutRecovery=True)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
