"""How leaky the layers are, counted at two git revisions side by side (issue 9).

    .venv/bin/python bench/boundaries.py [BASE_REV] [REV]     # defaults: f872664 (before issue 9), the work tree

Counts, per revision:
- adapter imports in services and routes: import lines in zapgate_control/services or a function's
  routes (every functions/ package except zapgate_control and the Lambda handler modules) that name
  `zapgate_control.adapters`;
- `dict[str, Any]` in the ports (zapgate_control/ports.py, or every module of the ports package), and the
  free-form JSON values named `JsonObject` there instead;
- copies of the message-kind list: source files that spell the media kinds ("image", "video", "audio",
  "document") as a literal sequence;
- two JID parsers: modules that define a function splitting a JID on "@";
- sidecar modules over 500 lines (and the longest);
- files of the simulator inside the sidecar's package (what the production image ships).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "f872664"
WORK_TREE = "work tree"
MEDIA_LIST = re.compile(r"""["']image["'],\s*["']video["'],\s*["']audio["'],\s*["']document["']""")
ADAPTER_IMPORT = re.compile(r"^\s*(from|import) zapgate_control\.adapters", re.M)
JID_SPLIT = re.compile(r"""\.(partition|split|rsplit)\(\s*["']@["']""")


def files(rev: str) -> dict[str, str]:
    """path -> text of every .py file under the source folders at `rev` (or in the work tree)."""
    folders = ("shared", "functions", "sidecar", "infra")
    if rev == WORK_TREE:
        return {
            str(path.relative_to(ROOT)): path.read_text()
            for folder in folders
            for path in (ROOT / folder).rglob("*.py")
            if "__pycache__" not in path.parts
        }
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, *folders], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        name: subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, capture_output=True, text=True).stdout
        for name in names
        if name.endswith(".py")
    }


def is_route_or_service(path: str) -> bool:
    parts = path.split("/")
    if parts[0] != "functions" or len(parts) < 3:
        return False
    if parts[1] == "zapgate_control":
        return parts[2] == "services"
    return not parts[-1].startswith(("handler", "wiring"))  # composition roots may build adapters


def counts(tree: dict[str, str]) -> dict[str, str]:
    adapter_imports = sum(
        len(ADAPTER_IMPORT.findall(text)) for path, text in tree.items() if is_route_or_service(path)
    )
    ports = [text for path, text in tree.items() if re.match(r"functions/zapgate_control/ports(\.py|/)", path)]
    kind_lists = [path for path, text in tree.items() if MEDIA_LIST.search(text)]
    jid_parsers = [path for path, text in tree.items() if JID_SPLIT.search(text) and "jid" in text.lower()]
    sidecar = {path: text.count("\n") for path, text in tree.items() if path.startswith("sidecar/zapgate_sidecar/")}
    over = sorted((lines, path) for path, lines in sidecar.items() if lines > 500)
    longest = max(sidecar.items(), key=lambda item: item[1])
    sim = [path for path in sidecar if "/sim" in path]
    return {
        "adapter imports in services and routes": str(adapter_imports),
        "dict[str, Any] in ports": str(sum(text.count("dict[str, Any]") for text in ports)),
        # Free-form JSON kept by name (event envelopes, audit details, send_debug): not a storage dict.
        "JsonObject in ports": str(sum(text.count("JsonObject") - text.count("import JsonObject") for text in ports)),
        "files spelling the media-kind list": str(len(kind_lists)),
        "modules splitting JIDs on '@'": str(len(jid_parsers)),
        "sidecar modules over 500 lines": str(len(over)),
        "longest sidecar module (lines)": f"{longest[1]} {Path(longest[0]).name}",
        "simulator files in the sidecar package": str(len(sim)),
    }


def main(argv: list[str]) -> None:
    base = argv[1] if len(argv) > 1 else BEFORE
    head = argv[2] if len(argv) > 2 else WORK_TREE
    measure: Callable[[str], dict[str, str]] = lambda rev: counts(files(rev))  # noqa: E731
    before, after = measure(base), measure(head)
    width = max(map(len, before))
    print(f"{'':{width}}  {base:>14}  {head:>22}")
    for name, value in before.items():
        print(f"{name:{width}}  {value:>14}  {after[name]:>22}")


if __name__ == "__main__":
    main(sys.argv)
