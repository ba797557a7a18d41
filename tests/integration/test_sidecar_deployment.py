"""The sidecar's deployment matches the code it runs: template.yaml's ECS task, sidecar/Dockerfile,
sidecar/requirements.txt and .dockerignore.

Offline only (no Docker engine, no AWS account): the template is read as data, the task's
permissions are checked against the AWS calls the sidecar really makes (recorded against moto),
and the image's contents are checked against the modules the sidecar really imports.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from typing import Any

import boto3
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.integration.background import BackgroundApp
from zapgate_core.contract.worker_proxy import HeartbeatRequest, LockAcquireRequest
from zapgate_core.storage.media import ContentAddressedMedia
from zapgate_devstack.emulator import MotoServer, create_template_resources
from zapgate_devstack.template import TEMPLATE_PATH, load_template, resources_of_type
from zapgate_sidecar.auth_state.dynamo_store import DynamoAuthStateStore, StaleAuthWriter
from zapgate_sidecar.health import health_app
from zapgate_sidecar.settings import _ENV, SidecarSettings, load_settings

ROOT = TEMPLATE_PATH.parent
DOCKERFILE = ROOT / "sidecar" / "Dockerfile"
REQUIREMENTS = ROOT / "sidecar" / "requirements.txt"
LOCK = ROOT / "requirements.lock"
DOCKERIGNORE = ROOT / ".dockerignore"
# The packages the image copies, and where they live in the repository.
FIRST_PARTY = {
    "zapgate_core": ROOT / "shared" / "zapgate_core",
    "zapgate_sidecar": ROOT / "sidecar" / "zapgate_sidecar",
}

SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|private_?key|access_?key", re.IGNORECASE)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|^[A-Za-z0-9+/=_-]{24,}$")

# What the target platform's markers evaluate to (the image: CPython 3.12 on Linux).
IMAGE_MARKERS = {
    "python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux", "platform_system": "Linux",
    "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython",
    "platform_machine": "x86_64", "extra": "",
}

ACCOUNT, REGION = "123456789012", "us-east-1"


# ------------------------------------------------------------------ template helpers


def _resources() -> dict[str, Any]:
    return load_template()["Resources"]


def _task() -> dict[str, Any]:
    (task,) = resources_of_type(load_template(), "AWS::ECS::TaskDefinition").values()
    return task


def _container() -> dict[str, Any]:
    (container,) = _task()["Properties"]["ContainerDefinitions"]
    return container


def _environment() -> dict[str, Any]:
    pairs = [(item["Name"], item["Value"]) for item in _container().get("Environment", [])]
    assert len({name for name, _ in pairs}) == len(pairs), "a variable is set twice"
    return dict(pairs)


def _secrets() -> dict[str, Any]:
    return {item["Name"]: item["ValueFrom"] for item in _container().get("Secrets", [])}


def _role_statements(logical_id: str) -> list[dict[str, Any]]:
    props = _resources()[logical_id]["Properties"]
    return [statement for policy in props.get("Policies", []) for statement in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolve(value: Any, physical: dict[str, str], parameters: dict[str, str]) -> str:
    """The intrinsics this part of the template uses, resolved to what CloudFormation would produce."""
    if isinstance(value, str):
        return value
    (name, arg), = value.items()
    attrs = {
        "AuthStateTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical.get('AuthStateTable')}",
        "InstancesTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical.get('InstancesTable')}",
        "MediaBucket.Arn": f"arn:aws:s3:::{physical.get('MediaBucket')}",
        "HttpApi": "abc123",
        "AWS::Region": REGION,
    }
    if name == "Ref":
        return physical.get(arg) or parameters.get(arg) or attrs[arg]
    if name == "Fn::GetAtt":
        return attrs[".".join(arg)]
    if name == "Fn::Sub":
        return re.sub(r"\$\{([^}]+)\}", lambda m: physical.get(m[1]) or parameters.get(m[1]) or attrs[m[1]], arg)
    raise AssertionError(f"unexpected intrinsic {name}")


# ------------------------------------------------------------------ the container's settings


def test_every_required_setting_is_provided_and_the_secret_only_through_secrets_manager() -> None:
    required = {name for name, field in _ENV.items() if SidecarSettings.model_fields[field].is_required()}
    assert {"EDGE_BASE_URL", "WORKER_SECRET"} <= required
    env, secrets = _environment(), _secrets()
    assert required <= set(env) | set(secrets), f"missing: {sorted(required - set(env) - set(secrets))}"
    # WORKER_SECRET is injected by ECS from the stack's secret (ValueFrom = its ARN), never in clear.
    assert secrets == {"WORKER_SECRET": {"Ref": "WorkerSecret"}}
    assert "WORKER_SECRET" not in env
    assert resources_of_type(load_template(), "AWS::SecretsManager::Secret")["WorkerSecret"]


def test_edge_base_url_is_the_stacks_worker_proxy_url() -> None:
    edge = _environment()["EDGE_BASE_URL"]
    assert edge == load_template()["Outputs"]["WorkerProxyUrl"]["Value"]
    assert "${HttpApi}" in edge["Fn::Sub"] and edge["Fn::Sub"].endswith("/worker-proxy")
    paths = [event["Properties"]["Path"]
             for function in resources_of_type(load_template(), "AWS::Serverless::Function").values()
             for event in function["Properties"].get("Events", {}).values()
             if event.get("Type") == "HttpApi"]  # the events processor's SQS source has no path
    assert "/worker-proxy/{proxy+}" in paths, "no function serves /worker-proxy"


def test_every_container_variable_is_one_the_sidecar_reads() -> None:
    unknown = (set(_environment()) | set(_secrets())) - set(_ENV)
    assert unknown == set(), f"the sidecar never reads {sorted(unknown)} (sidecar settings: settings._ENV)"


def test_the_container_is_wired_to_the_stacks_tables_bucket_and_scratch_volume() -> None:
    env = _environment()
    assert env["AUTH_STATE_TABLE"] == {"Ref": "AuthStateTable"}
    assert env["INSTANCES_TABLE"] == {"Ref": "InstancesTable"}
    assert env["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
    assert env["ZAPGATE_TRANSPORT"] == "neonize"
    assert env.get("PRINT_QR", "false") == "false", "the QR is read through the public API, not from the logs"
    (mount,) = _container()["MountPoints"]
    assert mount["SourceVolume"] in {volume["Name"] for volume in _task()["Properties"]["Volumes"]}
    for name in ("AUTH_BASE", "MEDIA_BASE"):
        assert env[name].startswith(mount["ContainerPath"].rstrip("/") + "/"), f"{name} is not on the task volume"
    # Tunables come from stack parameters.
    parameters = load_template()["Parameters"]
    for name in ("MAX_ACTIVE_INSTANCES", "INSTANCE_LOCK_TTL_MS", "DISCOVERY_POLL_MS"):
        assert env[name]["Ref"] in parameters


@pytest.mark.parametrize("bound", ["Default", "MinValue", "MaxValue"])
def test_any_parameter_value_cloudformation_accepts_passes_the_sidecars_validation(bound: str) -> None:
    parameters = {
        name: str(spec.get(bound, spec.get("Default", ""))) for name, spec in load_template()["Parameters"].items()
    }
    physical = {"AuthStateTable": "auth", "InstancesTable": "instances", "MediaBucket": "media"}
    env = {name: _resolve(value, physical, parameters) for name, value in _environment().items()}
    settings = load_settings({**env, "WORKER_SECRET": "x" * 48})  # raises SettingsError naming the variable
    assert settings.base_url == f"https://abc123.execute-api.{REGION}.amazonaws.com/worker-proxy"
    assert settings.transport == "neonize" and settings.auth_state_table == "auth"
    # The lock TTL goes to the worker-proxy as is: its contract must accept it too.
    LockAcquireRequest(instance_id="i-1", instance_owner="task", ttl_ms=settings.instance_lock_ttl_ms)
    HeartbeatRequest(instance_owner="task", ttl_ms=settings.instance_lock_ttl_ms)


def test_no_environment_value_looks_like_a_secret() -> None:
    for name, value in _environment().items():
        assert not SECRET_NAME.search(name), f"{name} looks like a secret: use the container's Secrets"
        if isinstance(value, str):
            assert not SECRET_VALUE.search(value), f"{name} has a credential-shaped value"


# ------------------------------------------------------------------ health and stop


def _health_check_code() -> str:
    command = _container()["HealthCheck"]["Command"]
    assert command[:3] == ["CMD", "python", "-c"], "slim images have no curl: the check runs python"
    return command[3]


def test_the_health_check_asks_get_health_on_the_sidecars_port() -> None:
    port = int(_environment().get("PORT", SidecarSettings.model_fields["port"].default))
    assert re.search(rf"""['"]http://127\.0\.0\.1:{port}/health['"]""", _health_check_code())


def _run_check(argv: list[str], env: dict[str, str] | None = None) -> int:
    return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode


def test_the_health_check_passes_against_the_sidecars_health_app_and_fails_without_it() -> None:
    code = _health_check_code()
    with BackgroundApp(health_app(dict)) as app:
        assert _run_check([sys.executable, "-c", code.replace(":3000/", f":{app.port}/")]) == 0
    assert _run_check([sys.executable, "-c", code.replace(":3000/", f":{app.port}/")]) != 0


def test_ecs_waits_longer_than_the_sidecars_stop_budget_before_sigkill() -> None:
    budget = SidecarSettings.model_fields["stop_timeout_s"].default
    assert budget >= 25
    assert budget <= _container()["StopTimeout"] <= 120  # Fargate's maximum
    assert _container()["Essential"] is True


def test_the_service_runs_the_task_on_fargate_with_no_inbound_access() -> None:
    resources = _resources()
    (service_id, service), = resources_of_type(load_template(), "AWS::ECS::Service").items()
    props = service["Properties"]
    assert props["LaunchType"] == "FARGATE"
    (task_id,) = resources_of_type(load_template(), "AWS::ECS::TaskDefinition")
    assert props["TaskDefinition"] == {"Ref": task_id}
    assert props["DesiredCount"] == {"Ref": "SidecarDesiredCount"}
    # An empty SidecarImageUri skips the task and the service (a task definition needs an image).
    assert service["Condition"] == _task()["Condition"] == "HasSidecarImage"
    assert _task()["Properties"]["NetworkMode"] == "awsvpc"
    assert _task()["Properties"]["RequiresCompatibilities"] == ["FARGATE"]
    (group,) = props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    sg = resources[group["Ref"]]["Properties"]
    assert "SecurityGroupIngress" not in sg and sg["SecurityGroupEgress"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    cluster = resources[props["Cluster"]["Ref"]]["Properties"]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    logs = _container()["LogConfiguration"]
    assert logs["LogDriver"] == "awslogs"
    assert resources[logs["Options"]["awslogs-group"]["Ref"]]["Properties"]["RetentionInDays"] == 30
    outputs = load_template()["Outputs"]
    assert outputs["SidecarServiceName"]["Value"] == {"Fn::GetAtt": [service_id, "Name"]}
    assert {"SidecarClusterName", "SidecarLogGroup"} <= set(outputs)


# ------------------------------------------------------------------ IAM: what the sidecar really calls


def test_the_execution_role_reads_only_the_worker_secret_and_writes_only_the_sidecar_log_group() -> None:
    task = _task()["Properties"]
    execution = _role_statements(task["ExecutionRoleArn"]["Fn::GetAtt"][0])
    log_group = _container()["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    for statement in execution:
        actions = set(_as_list(statement["Action"]))
        if any(action.startswith("secretsmanager:") for action in actions):
            assert actions == {"secretsmanager:GetSecretValue"}
            assert statement["Resource"] == {"Ref": "WorkerSecret"}
        elif any(action.startswith("logs:") for action in actions):
            assert actions <= {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert statement["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
        else:
            assert all(action.startswith("ecr:") for action in actions), actions
    assert not _resources()[task["ExecutionRoleArn"]["Fn::GetAtt"][0]]["Properties"].get("ManagedPolicyArns")


class CallLog:
    """Every AWS operation a boto3 client sends, as (IAM action, resource ARN) pairs."""

    def __init__(self) -> None:
        self.grants: set[tuple[str, str]] = set()
        self.operations: set[str] = set()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.*.*", self._record)
        return client

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        operation = model.name
        self.operations.add(operation)
        if model.service_model.service_name == "s3":
            key = f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"
            self.grants.add(({"HeadObject": "s3:GetObject"}.get(operation, f"s3:{operation}"), key))
            return
        table = lambda name: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"  # noqa: E731
        if operation == "TransactWriteItems":
            kinds = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem",
                     "Delete": "DeleteItem"}
            for item in params["TransactItems"]:
                (kind, body), = item.items()
                self.grants.add((f"dynamodb:{kinds[kind]}", table(body["TableName"])))
        elif operation == "BatchWriteItem":
            self.grants.update((f"dynamodb:{operation}", table(name)) for name in params["RequestItems"])
        else:
            self.grants.add((f"dynamodb:{operation}", table(params["TableName"])))


@pytest.fixture(scope="module")
def sidecar_calls(moto_server: MotoServer) -> Iterator[tuple[CallLog, dict[str, str]]]:
    """Drive every DynamoDB/S3 path of the sidecar against moto and record what it calls."""
    names = create_template_resources(moto_server, prefix="deploy").physical
    calls = CallLog()
    dynamodb = calls.attach(boto3.client("dynamodb"))
    s3 = calls.attach(boto3.client("s3"))
    instance = f"i-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb").put_item(
        TableName=names["InstancesTable"], Item={"id": {"S": instance}, "lock_token": {"S": "token-1"}}
    )
    store = DynamoAuthStateStore(names["AuthStateTable"], names["InstancesTable"], chunk_size=1024, client=dynamodb)
    store.save(instance, "token-1", b"a" * 3000)  # first generation
    store.save(instance, "token-1", b"b" * 3000)  # second: the first one's chunks are batch-deleted
    assert store.load(instance) == b"b" * 3000
    with pytest.raises(StaleAuthWriter):  # a lost lock: the fence refuses, own chunks are deleted
        store.save(instance, "token-0", b"c" * 3000)
    store.sweep(instance)
    store.wipe(instance, "token-1")
    media = ContentAddressedMedia(names["MediaBucket"], 3600, lambda: s3)
    digest, created = media.put(b"large media" * 100, "application/octet-stream")  # HeadObject 404, then put
    assert created and media.put(b"large media" * 100, None) == (digest, False)  # HeadObject 200
    assert media.url(digest).startswith("http")
    # The presigned URL is signed with the task's credentials, so fetching it needs GetObject.
    calls.grants.add(("s3:GetObject", f"arn:aws:s3:::{names['MediaBucket']}/media/{digest}"))
    yield calls, names


def _allowed(action: str, arn: str, statements: list[dict[str, Any]], names: dict[str, str]) -> bool:
    for statement in statements:
        if statement["Effect"] != "Allow" or action not in _as_list(statement["Action"]):
            continue
        if any(fnmatch.fnmatchcase(arn, _resolve(r, names, {})) for r in _as_list(statement["Resource"])):
            return True
    return False


def test_the_task_role_allows_every_call_the_sidecar_makes(sidecar_calls: tuple[CallLog, dict[str, str]]) -> None:
    calls, names = sidecar_calls
    statements = _role_statements(_task()["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0])
    # HeadObject on a missing key answers 404 (what ContentAddressedMedia expects) only with ListBucket.
    needed = calls.grants | {("s3:ListBucket", f"arn:aws:s3:::{names['MediaBucket']}")}
    denied = sorted(grant for grant in needed if not _allowed(*grant, statements, names))
    assert denied == [], denied


def test_the_task_role_allows_nothing_the_sidecar_does_not_call(sidecar_calls: tuple[CallLog, dict[str, str]]) -> None:
    calls, _ = sidecar_calls
    task_role = _task()["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    assert not _resources()[task_role]["Properties"].get("ManagedPolicyArns")
    used_actions = {action for action, _ in calls.grants} | {"s3:ListBucket"}
    for statement in _role_statements(task_role):
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        actions = _as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], f"wildcard action in {statement.get('Sid')}"
        assert set(actions) <= used_actions, f"{statement.get('Sid')} grants unused {set(actions) - used_actions}"
        (resource,) = _as_list(statement["Resource"])
        # Only these three resources, each with only what is done there.
        if resource == {"Fn::GetAtt": ["AuthStateTable", "Arn"]}:
            assert set(actions) <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem",
                                    "dynamodb:BatchWriteItem"}
        elif resource == {"Fn::GetAtt": ["InstancesTable", "Arn"]}:
            assert actions in (["dynamodb:ConditionCheckItem"], "dynamodb:ConditionCheckItem")
        elif resource == {"Fn::Sub": "${MediaBucket.Arn}/media/*"}:
            assert set(actions) <= {"s3:GetObject", "s3:PutObject"}
        elif resource == {"Fn::GetAtt": ["MediaBucket", "Arn"]}:
            assert set(actions) == {"s3:ListBucket"}
        else:
            raise AssertionError(f"{statement.get('Sid')} touches {resource}")


def _calls_on(path: Path, receiver: str) -> set[str]:
    """Method names called on `receiver` (source text, e.g. "self.client") anywhere in a module."""
    return {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and ast.unparse(node.func.value) == receiver
    }


def test_the_recorded_run_covers_every_aws_call_in_the_code(sidecar_calls: tuple[CallLog, dict[str, str]]) -> None:
    calls, _ = sidecar_calls
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower() for op in calls.operations} | {"generate_presigned_url"}
    in_code = _calls_on(FIRST_PARTY["zapgate_sidecar"] / "auth_state" / "dynamo_store.py", "self.client")
    in_code |= _calls_on(FIRST_PARTY["zapgate_core"] / "storage" / "media.py", "s3")
    in_code |= _calls_on(FIRST_PARTY["zapgate_core"] / "storage" / "media.py", "self._s3()")
    assert {"get_item", "transact_write_items", "head_object", "put_object"} <= in_code
    assert in_code <= snake, f"not exercised above, so not checked against the task role: {in_code - snake}"


# ------------------------------------------------------------------ the Dockerfile


@cache
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def _args(instruction: str) -> list[str]:
    return [arguments for name, arguments in _instructions() if name == instruction]


def test_the_image_runs_the_sidecar_as_a_non_root_user() -> None:
    assert _args("FROM") == ["python:3.12-slim"]
    assert json.loads(_args("CMD")[-1]) == ["python", "-m", "zapgate_sidecar"]
    (user,) = _args("USER")
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    assert _args("VOLUME") and json.loads(_args("VOLUME")[-1]) == ["/data"]
    assert _args("EXPOSE") == [str(SidecarSettings.model_fields["port"].default)]
    names = [name for name, _ in _instructions()]
    assert names.index("USER") < names.index("CMD")


def test_the_image_copies_the_sources_onto_its_python_path() -> None:
    env = " ".join(_args("ENV"))
    match = re.search(r"PYTHONPATH=(\S+)", env)
    assert match, "no ENV PYTHONPATH"
    path = match[1].split(":")
    copies = {}
    for arguments in _args("COPY"):
        source, destination = shlex.split(arguments)[-2:]
        copies[source.rstrip("/")] = destination.rstrip("/")
    for package, folder in FIRST_PARTY.items():
        source = folder.relative_to(ROOT).as_posix()
        assert source in copies, f"the image does not copy {source}"
        destination = Path(copies[source])
        assert destination.name == package and str(destination.parent) in path


def test_the_image_installs_exactly_the_pinned_requirements() -> None:
    (requirements_copy,) = [a for a in _args("COPY") if "sidecar/requirements.txt" in a]
    target = shlex.split(requirements_copy)[-1]
    (install,) = [a for a in _args("RUN") if "pip install" in a]
    assert f"-r {target}" in install and "--no-deps" in install and "pip check" in install


def test_the_images_own_health_check_passes_against_the_health_app() -> None:
    (healthcheck,) = _args("HEALTHCHECK")
    argv = json.loads(healthcheck.split("CMD", 1)[1])
    assert argv[:2] == ["python", "-c"] and "/health" in argv[2]
    with BackgroundApp(health_app(dict)) as app:
        env = {"PORT": str(app.port), "PATH": "/usr/bin:/bin"}
        assert _run_check([sys.executable, *argv[1:]], env) == 0
    assert _run_check([sys.executable, *argv[1:]], env) != 0


def _ignored(relative: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for one path: the last matching pattern wins, and a pattern that
    matches a parent folder matches everything below it."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    sources = [REQUIREMENTS] + [
        path for folder in FIRST_PARTY.values() for path in folder.rglob("*.py") if "__pycache__" not in path.parts
    ]
    dropped = [p.relative_to(ROOT).as_posix() for p in sources if _ignored(p.relative_to(ROOT).as_posix(), patterns)]
    assert dropped == []
    for heavy in (".venv/lib/x.py", ".git/HEAD", "tests/conftest.py", "sidecar/zapgate_sidecar/__pycache__/a.pyc"):
        assert _ignored(heavy, patterns), f"{heavy} would be sent to the builder"


# ------------------------------------------------------------------ sidecar/requirements.txt


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line}: pin an exact version"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} listed twice in {path.name}"
        pins[name] = specifier.version
    return pins


def test_every_sidecar_pin_is_the_locked_version() -> None:
    lock, sidecar = _pins(LOCK), _pins(REQUIREMENTS)
    unlocked = sorted(set(sidecar) - set(lock))
    assert unlocked == [], f"not in requirements.lock: {unlocked}"
    drift = {name: (version, lock[name]) for name, version in sidecar.items() if version != lock[name]}
    assert drift == {}, f"sidecar/requirements.txt vs requirements.lock: {drift}"


def test_the_sidecar_requirements_are_a_closed_set() -> None:
    # The image installs them with --no-deps, so each one's own requirements must be listed too.
    pins = _pins(REQUIREMENTS)
    missing = []
    for name, version in pins.items():
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is not installed in this venv (make .venv/.installed)")
        assert dist.version == version, f"venv has {name} {dist.version}, the lock says {version}: rebuild the venv"
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(IMAGE_MARKERS):
                continue
            if canonicalize_name(requirement.name) not in pins:
                missing.append(f"{name} needs {requirement}")
    assert missing == [], missing


def _imports(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every absolute import in a package, at module level or inside functions."""
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, path
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module, path


def _providers(module: str) -> set[str]:
    """Distributions that install `module` (a namespace package like google.* narrowed by its subpackage)."""
    top, _, rest = module.partition(".")
    candidates = {canonicalize_name(name) for name in packages_distributions().get(top, [])}
    if len(candidates) > 1 and rest:
        sub = rest.split(".", 1)[0]
        candidates = {
            name for name in candidates
            if any(str(f).startswith((f"{top}/{sub}/", f"{top}/{sub}.")) for f in distribution(name).files or [])
        }
    return candidates


def test_every_module_the_image_imports_is_installed_by_its_requirements() -> None:
    pins = set(_pins(REQUIREMENTS))
    unprovided = []
    for folder in FIRST_PARTY.values():
        for module, path in _imports(folder):
            top = module.split(".", 1)[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY:
                continue
            providers = _providers(module)
            if not providers & pins:
                where = path.relative_to(ROOT)
                unprovided.append(f"{module} ({where}): {sorted(providers) or 'no installed distribution'}")
    assert unprovided == [], unprovided
