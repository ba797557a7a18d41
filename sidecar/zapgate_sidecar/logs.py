"""The sidecar's JSON logger (Powertools), so its lines read like the functions' in CloudWatch."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

log = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "zapgate-sidecar"))
