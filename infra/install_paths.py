"""Put the project's source folders on the venv's import path with a .pth file.

Each folder (shared/, functions/, sidecar/, infra/) holds distinctively named
packages (zapgate_core, zapgate_control, ...); a .pth file is the smallest way
to make them importable everywhere without a build step.
"""

import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("shared", "functions", "sidecar", "infra")

pth = Path(sysconfig.get_paths()["purelib"]) / "zapgate-src.pth"
pth.write_text("".join(f"{ROOT / folder}\n" for folder in FOLDERS))
print(f"source folders on the path via {pth}")
