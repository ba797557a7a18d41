"""Instance proxy URLs in AWS Secrets Manager: one secret per instance (issue 13).

Name: `<PROXY_SECRETS_PREFIX><instance id>` (the stack's prefix is `<stack name>/proxies/`, the only names the
functions' IAM policies reach: the public API may create, replace and delete them, never read them; the
worker-proxy may only read them, and answers one to the instance's live lock holder only). The URL is handed
to boto3 and nothing else; botocore's DEBUG bodies are filtered (named_secrets.py).
"""

from __future__ import annotations

from zapgate_control.adapters.named_secrets import NamedSecrets


class SecretsManagerProxies(NamedSecrets):
    def __init__(self, prefix: str) -> None:
        super().__init__(prefix, "zapgate instance proxy URL (written by the public API, read for the lock holder)")

    def put(self, instance_id: str, url: str) -> str:
        return self.put_value(instance_id, url)
