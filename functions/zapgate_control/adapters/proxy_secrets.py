"""Instance proxy URLs in AWS Secrets Manager: one secret per instance (issue 13).

Name: `<PROXY_SECRETS_PREFIX><instance id>` (the stack's prefix is `<stack name>/proxies/`, the only names the
functions' IAM policies reach: the public API may create, replace and delete them, never read them; the
worker-proxy may only read them, and answers one to the instance's live lock holder only). The URL is handed
to boto3 and nothing else; botocore's DEBUG bodies are filtered as for provider keys (provider_secrets.py).
"""

from __future__ import annotations

from zapgate_control.adapters.provider_secrets import _code, _quiet_secret_bodies
from zapgate_control.aws import client


class SecretsManagerProxies:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        _quiet_secret_bodies()

    def name(self, instance_id: str) -> str:
        return f"{self.prefix}{instance_id}"

    def put(self, instance_id: str, url: str) -> str:
        secrets = client("secretsmanager")
        name = self.name(instance_id)
        try:
            created = secrets.create_secret(
                Name=name, SecretString=url,
                Description="zapgate instance proxy URL (written by the public API, read for the lock holder)",
            )
            return str(created["VersionId"])
        except Exception as exc:
            if _code(exc) != "ResourceExistsException":
                raise
        return str(secrets.put_secret_value(SecretId=name, SecretString=url)["VersionId"])

    def get(self, instance_id: str, version: str | None = None) -> str | None:
        request = {"SecretId": self.name(instance_id)}
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

    def delete(self, instance_id: str) -> None:
        try:
            client("secretsmanager").delete_secret(SecretId=self.name(instance_id), ForceDeleteWithoutRecovery=True)
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
