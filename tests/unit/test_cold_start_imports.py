"""What each Lambda handler imports at its cold start: modules that cost tens of milliseconds and
that a function never uses stay out (bench/cold_start.py --explain shows the costs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _imported_by(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_METRICS_DISABLED": "true"})
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("handler", ["zapgate_public_api.handler", "zapgate_live.handler", "zapgate_events.handler"])
def test_functions_other_than_the_worker_proxy_never_import_its_contract(handler: str) -> None:
    # The sidecar contract's pydantic models took ~35 ms to build in the public API's cold start.
    assert "zapgate_core.contract.worker_proxy" not in _imported_by(handler)


def test_the_public_api_builds_the_automations_contract_only_when_asked() -> None:
    # The automations' configuration loads the regex module and builds validators (~60 ms on a busy machine);
    # services/automations.py and the routes import it on first use, and its OpenAPI schema on first request.
    imported = _imported_by("zapgate_public_api.handler")
    assert "zapgate_public_api.automations" in imported  # the routes themselves are there
    assert {"zapgate_core.contract.automations", "regex", "jsonschema"} & imported == set()


@pytest.mark.parametrize("handler", [f"zapgate_{name}.handler" for name in (
    "public_api", "worker_proxy", "live", "outbox", "push", "events")])  # fmt: skip
def test_snapstart_hooks_leave_boto3_to_priming_or_the_first_use(handler: str) -> None:
    # Issue 14: every handler installs its SnapStart hooks at import; creating clients there would cost every
    # cold start without SnapStart ~50-200 ms (botocore's models). Only before_snapshot() or a first use creates them.
    assert {"boto3", "botocore.session"} & _imported_by(handler) == set()


@pytest.mark.parametrize("handler", ["zapgate_live.handler", "zapgate_outbox.handler", "zapgate_push.handler",
                                     "zapgate_events.handler", "zapgate_automations.handler"])
def test_functions_without_an_app_never_import_the_lazy_routes(handler: str) -> None:
    assert "zapgate_control.lazy_routes" not in _imported_by(handler)


def test_the_automations_runner_imports_the_x_ray_sdk_only_when_asked() -> None:
    # Powertools' Tracer imports aws_xray_sdk.core, whose recorder builds an X-Ray botocore client at import:
    # 190-280 ms of every cold start, traced or not. XRAY_SDK_TRACING=on brings it back.
    assert "aws_xray_sdk.core" not in _imported_by("zapgate_automations.handler")
    code = "import json, sys; import zapgate_automations.handler; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_METRICS_DISABLED": "true",
                               "XRAY_SDK_TRACING": "on"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "aws_xray_sdk.core" in json.loads(done.stdout.splitlines()[-1])
