"""The layers' import rules, checked on the source (issue 9): dependencies point one way only.

- Services and routes see ports, domain and contract, never adapters: only the composition roots
  (zapgate_control/wiring.py and each function's handler module) build adapters.
- Ports know no adapter.
- The domain is plain Python: no pydantic, boto3, neonize, FastAPI or HTTP client, not even through the
  contract's models (only the contract's plain limits, contract/common.py).
- zapgate_core (shared) depends on nothing of ours; functions and sidecar never import each other.

Every import counts, module level or inside a function, since a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SHARED = ROOT / "shared"
SIDECAR = ROOT / "sidecar"

COMPOSITION_ROOTS = {"handler.py", "wiring.py"}
DOMAIN_FORBIDDEN = ("pydantic", "boto3", "botocore", "neonize", "fastapi", "starlette", "httpx", "mangum")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def sources(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def label(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        label(path): sorted(
            name for name in imports_of(path) if any(name == f or name.startswith(f"{f}.") for f in forbidden)
        )
        for path in paths
    }
    return {path: names for path, names in found.items() if names}


def services_and_routes() -> list[Path]:
    services = sources(FUNCTIONS / "zapgate_control" / "services")
    routes = [
        path
        for package in sorted(FUNCTIONS.iterdir())
        if package.is_dir() and package.name.startswith("zapgate_") and package.name != "zapgate_control"
        for path in sources(package)
        if path.name not in COMPOSITION_ROOTS
    ]
    return services + routes


def test_the_rules_see_the_code_they_govern() -> None:
    # A rule over an empty or misnamed folder would pass forever.
    names = {path.relative_to(FUNCTIONS).as_posix() for path in services_and_routes()}
    assert "zapgate_control/services/instances.py" in names
    assert "zapgate_public_api/app.py" in names
    assert "zapgate_worker_proxy/app.py" in names
    assert not any(name.endswith(tuple(COMPOSITION_ROOTS)) for name in names)
    assert "zapgate_control.adapters.dynamodb.instances" in imports_of(FUNCTIONS / "zapgate_control" / "wiring.py")


def test_services_and_routes_never_import_adapters() -> None:
    assert offending(services_and_routes(), ("zapgate_control.adapters",)) == {}


def test_ports_import_no_adapter() -> None:
    assert offending(sources(FUNCTIONS / "zapgate_control" / "ports"), ("zapgate_control.adapters",)) == {}


def test_domain_is_plain_python() -> None:
    domain = sources(SHARED / "zapgate_core" / "domain")
    assert len(domain) > 5
    assert offending(domain, DOMAIN_FORBIDDEN) == {}
    # The contract's limits are plain constants (contract/common.py, pydantic-free); its models are not.
    # Module names from the path (a package's __init__ names the package), so the packages' modules count too.
    contract = SHARED / "zapgate_core" / "contract"
    allowed = {contract / "__init__.py", contract / "common.py"}
    contract_models = tuple(
        ".".join(path.relative_to(SHARED).with_suffix("").parts[: -1 if path.stem == "__init__" else None])
        for path in sources(contract) if path not in allowed
    )
    assert "zapgate_core.contract.automations" in contract_models  # a package
    assert "zapgate_core.contract.request_ops.messages" in contract_models  # a package's module
    assert offending(domain, (*contract_models, "zapgate_core.storage")) == {}
    assert offending([SHARED / "zapgate_core" / "contract" / "common.py"], DOMAIN_FORBIDDEN) == {}


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        (SHARED, ("zapgate_control", "zapgate_sidecar", "zapgate_public_api", "zapgate_worker_proxy",
                  "zapgate_devstack")),
        (FUNCTIONS, ("zapgate_sidecar", "zapgate_devstack")),
        (SIDECAR / "zapgate_sidecar", ("zapgate_control", "zapgate_public_api", "zapgate_worker_proxy",
                                       "zapgate_devstack")),
    ],
)  # fmt: skip
def test_packages_import_one_way(folder: Path, forbidden: tuple[str, ...]) -> None:
    assert offending(sources(folder), forbidden) == {}


def test_a_violation_is_caught(tmp_path: Path) -> None:
    # The checker itself: a lazy import inside a function is found too.
    service = tmp_path / "service.py"
    service.write_text("def f():\n    from zapgate_control.adapters.dynamodb.instances import X\n    return X\n")
    assert offending([service], ("zapgate_control.adapters",)) == {
        label(service): [
            "zapgate_control.adapters.dynamodb.instances",
            "zapgate_control.adapters.dynamodb.instances.X",
        ]
    }
