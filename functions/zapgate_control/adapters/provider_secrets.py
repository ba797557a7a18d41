"""Provider API keys of automations in AWS Secrets Manager: one secret per automation.

Name: `<PROVIDER_SECRETS_PREFIX><automation id>` (the stack's prefix is `<stack name>/automations/`, the
only names the functions' IAM policies reach: the public API may create, replace and delete them, never
read them; the runner may only read them). tenant_id and instance_id are not put on the secret: a tag
value allows only some characters, and a key must never fail to save for a tenant's name.

The key is handed to boto3 and nothing else (named_secrets.py, which also keeps botocore's DEBUG bodies out
of the logs).
"""

from __future__ import annotations

from zapgate_control.adapters.named_secrets import NamedSecrets


class SecretsManagerProviderKeys(NamedSecrets):
    def __init__(self, prefix: str) -> None:
        super().__init__(prefix, "zapgate automation provider key (written by the public API, read by the runner)")

    def put(self, tenant_id: str, instance_id: str, automation_id: str, api_key: str) -> str:
        return self.put_value(automation_id, api_key)
