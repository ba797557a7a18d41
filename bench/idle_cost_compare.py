"""Idle cost of a revision against the work tree, in the same run: does new code cost anything while idle?

Both trees run bench/idle_cost.py's push design (the one in use) with their own code and template, back to
back, each with --keep-tap; both taps are then costed by the work tree's costing (so a change in how the
bench counts cannot pass for a change in the product). REV is exported with `git archive` and run with its
folders first on PYTHONPATH, ahead of the venv's path file that names the work tree.

The table prints units per sidecar-hour and $ per idle instance-month at N = 1 and 10 (measured) and 100
(extrapolated), REV then the work tree, and work/REV as a ratio. Two runs of the same tree differ by a few
per cent (renewals falling either side of a window's edge): read ratios within 0.9-1.1 as "unchanged".

Usage: .venv/bin/python bench/idle_cost_compare.py REV [--window 30] [--quick]   (about 3 min with --quick)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import idle_cost
from idle_cost import DESIGN_TITLES, Prices, Row, Units, analyse, dollars, per_instance_month, reanalyse

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("shared", "functions", "sidecar", "infra")  # what the venv's zapgate-src.pth names
DESIGN = "push"


def export(rev: str, into: Path) -> Path:
    """REV's tree (tracked files only) under `into`/REV."""
    target = into / rev
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True,
                             capture_output=True).stdout
    tar_path = into / f"{rev}.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    return target


def run_tree(root: Path, tap: Path, window: float, quick: bool) -> None:
    """bench/idle_cost.py of `root`, push design only, its tap kept; its own report goes to our stdout."""
    env = dict(os.environ)
    own = [str(root / d) for d in PACKAGE_DIRS] + [str(root)]
    env["PYTHONPATH"] = os.pathsep.join([*own, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, str(root / "bench" / "idle_cost.py"), "--designs", DESIGN, "--keep-tap", str(tap),
               "--window", f"{window:g}"]
    if quick:
        command.append("--quick")
    print(f"\n### {root.name}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=root, env=env, check=True)


def rows_of(tap: Path, prices: Prices) -> dict[int, Row]:
    rows, _ = analyse(reanalyse(str(tap)), prices)
    return {row.instances: row for row in rows[DESIGN]}


def _ratio(new: float, old: float) -> str:
    if old == 0:
        return "=" if new == 0 else "new"
    return f"{new / old:.2f}x"


def table(rev: str, old: dict[int, Row], new: dict[int, Row], prices: Prices) -> str:
    header = ("N", "measure", rev, "work tree", "work/REV")
    lines: list[tuple[str, ...]] = []
    for n in sorted(set(old) & set(new)):
        a, b = old[n].units, new[n].units
        usd_a = per_instance_month(sum(dollars(a, prices).values()), n, prices)
        usd_b = per_instance_month(sum(dollars(b, prices).values()), n, prices)
        star = "" if old[n].measured and new[n].measured else "*"
        lines.append((f"{n}{star}", "$ per instance-month", f"${usd_a:.4f}", f"${usd_b:.4f}", _ratio(usd_b, usd_a)))
        for name in Units.BILLED:
            va, vb = getattr(a, name), getattr(b, name)
            if va or vb:
                lines.append(("", f"{idle_cost.UNIT_LABELS[name]} / sidecar-h", f"{va:,.1f}", f"{vb:,.1f}",
                              _ratio(vb, va)))
    return idle_cost._table(header, lines, "<<>>>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the revision to compare with (e.g. the commit before a change)")
    parser.add_argument("--window", type=float, default=30, help="seconds counted per phase (default 30)")
    parser.add_argument("--quick", action="store_true", help="15 s windows")
    args = parser.parse_args()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    prices = Prices.load()
    with tempfile.TemporaryDirectory(prefix="idle-compare-") as tmp:
        tmp_path = Path(tmp)
        rev_root = export(rev, tmp_path)
        run_tree(rev_root, tmp_path / "rev.tap", args.window, args.quick)
        run_tree(ROOT, tmp_path / "work.tap", args.window, args.quick)
        old, new = rows_of(tmp_path / "rev.tap", prices), rows_of(tmp_path / "work.tap", prices)
    print(f"\nIdle cost, {DESIGN_TITLES[DESIGN]}: {rev} against the work tree, same run "
          f"(both taps costed by the work tree's bench/idle_cost.py; * = extrapolated from N=1 and 10)\n")
    print(table(rev, old, new, prices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
