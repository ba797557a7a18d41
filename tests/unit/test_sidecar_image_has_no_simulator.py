"""The simulated WhatsApp network stays out of the sidecar's production image.

sidecar/Dockerfile copies folders of the repository; none of them may hold the simulator (zapgate_sim),
and zapgate_sidecar names zapgate_sim in no import statement, so the image neither ships it nor needs it.
ZAPGATE_TRANSPORT=sim still works wherever the repository is on the path (make run, tests, benches), and
where the simulator is missing it stops the sidecar at start with a message that says why.
"""

from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path

import pytest

from zapgate_sidecar.app import build_transport
from zapgate_sidecar.settings import SettingsError, SidecarSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "sidecar" / "Dockerfile"
SIDECAR = ROOT / "sidecar" / "zapgate_sidecar"
SIMULATOR = ROOT / "sidecar" / "zapgate_sim"


def _copy_sources() -> list[Path]:
    """The repository paths every COPY instruction takes (continuations joined, --flags dropped)."""
    sources: list[Path] = []
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not logical and line.lstrip().startswith("#"):
            continue
        logical += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        words, logical = shlex.split(logical), ""
        if words and words[0].upper() == "COPY":
            assert not any(w.startswith("--from") for w in words), "a COPY from another stage: check it by hand"
            sources += [ROOT / w for w in words[1:-1] if not w.startswith("--")]
    return sources


def _copied_python_files() -> list[Path]:
    files: list[Path] = []
    for source in _copy_sources():
        files += [source] if source.is_file() else sorted(source.rglob("*.py"))
    return [f for f in files if f.suffix == ".py"]


def _simulator_classes() -> set[str]:
    names = set()
    for path in SIMULATOR.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and "Sim" in node.name:
                names.add(node.name)
    return names


def test_the_dockerfile_copies_the_sidecar_and_no_simulator_folder() -> None:
    sources = _copy_sources()
    assert SIDECAR in sources  # the parser found the COPY lines
    simulator = SIMULATOR.resolve()
    for source in sources:
        resolved = source.resolve()
        assert not resolved.is_relative_to(simulator), f"the image copies the simulator: {source}"
        assert not simulator.is_relative_to(resolved), f"the image copies {source}, which holds the simulator"


def test_no_copied_module_is_a_simulator_module() -> None:
    simulator_classes = _simulator_classes()
    assert {"SimNetwork", "SimTransport", "SimSession"} <= simulator_classes
    offending = {}
    for path in _copied_python_files():
        parts = set(path.relative_to(ROOT).parts)
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)}
        if "zapgate_sim" in parts or "sim" in parts or defined & simulator_classes:
            offending[str(path.relative_to(ROOT))] = sorted(defined & simulator_classes)
    assert offending == {}


def test_zapgate_sidecar_never_imports_the_simulator() -> None:
    """No import statement at all: at module level the image would fail to start, and inside a function the
    image's dependency check (test_sidecar_deployment.py) would find a module nothing installs."""
    importing = []
    for path in SIDECAR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            if any(m == "zapgate_sim" or m.startswith("zapgate_sim.") for m in modules):
                importing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importing == []


def _settings(tmp_path: Path) -> SidecarSettings:
    return SidecarSettings(edge_base_url="http://127.0.0.1:9", worker_secret="sidecar-secret-value-123",
                           auth_base=tmp_path / "auth", media_base=tmp_path / "media", transport="sim",
                           sim_url="http://127.0.0.1:9")


def test_transport_sim_uses_the_simulator_when_it_is_there(tmp_path: Path) -> None:
    transport = build_transport(_settings(tmp_path))
    assert transport.name == "sim" and type(transport).__module__ == "zapgate_sim.transport"


def test_transport_sim_without_the_simulator_stops_at_start_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "zapgate_sim" or m.startswith("zapgate_sim.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "zapgate_sim", None)  # as in the image: no such package
    with pytest.raises(SettingsError) as stopped:
        build_transport(_settings(tmp_path))
    message = str(stopped.value)
    assert "ZAPGATE_TRANSPORT" in message and "zapgate_sim" in message and "neonize" in message
