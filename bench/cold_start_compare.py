"""cold_start.py --compare REV: the work tree's functions against a git revision's, in the same run.

A revision's source is exported with `git archive` into a temporary directory (nothing in the
repository changes: no worktree to register or prune). Its children must import that source, not
the work tree's, which the venv's .pth file puts on sys.path after site-packages: every function
child gets PYTHONPATH = its own tree's source folders (ahead of site-packages, as Lambda puts the
task root first) and, before its clocks start, drops the other tree's folders from sys.path; after
its clocks stop it reports any module loaded from outside its own tree, and the parent refuses
such a sample. Work and revision children get the same sys.path shape, so neither pays more misses.

The verdict compares medians of the same interleaved run (pairs alternate order every round, so
neither side always runs right after the baseline), for import+1st, in wall time and in CPU time:
work/REV <= tolerance (default 1.05: "no worse" with room for the residual noise of medians on an
idle machine) is no worse. Above it, the run's own noise decides between WORSE and inconclusive: a
90% interval of the ratio, from the rounds resampled, must exclude 1.00 for WORSE. A self-comparison
(the same code on both sides, 7 runs) on this 2-CPU VM under a load of 4-5 gave wall-time ratios
from 0.70 to 1.20x, so a bare threshold would have called identical code worse; CPU-time ratios
stayed within 0.92-1.10x. Wall time is what a cold start costs; on a loaded machine trust CPU time.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
# The folders infra/install_paths.py writes into the venv's .pth file (that script writes on import).
SOURCE_FOLDERS = ("shared", "functions", "sidecar", "infra")
DEFAULT_TOLERANCE = 1.05
# (sample name, column title) of the ratios, and the spans judged: a cold start's wall time, and its
# CPU time, which load from other processes moves much less on a shared machine.
RATIO_COLUMNS = (("first", "import+1st"), ("cpu_first", "cpu +1st"), ("import", "import"), ("cpu_import", "cpu import"))
JUDGED = ("first", "cpu_first")
MIN_RUNS = 5  # fewer measured rounds than this and every verdict is noisy or inconclusive

T = TypeVar("T")


def source_folders(root: Path) -> list[str]:
    return [str(root / folder) for folder in SOURCE_FOLDERS]


def path_setup(own_root: Path, other_roots: Sequence[Path]) -> tuple[dict[str, str], list[str]]:
    """The environment (PYTHONPATH) and the sys.path entries to drop for a child that must import own_root's code."""
    return {"PYTHONPATH": ":".join(source_folders(own_root))}, [
        folder for root in other_roots for folder in source_folders(root)
    ]


# Untimed prelude and postlude of a function child (cold_start._HANDLER_CHILD splices them in).
PATH_PRELUDE = """
_drop = {drop!r}
sys.path[:] = [_entry for _entry in sys.path if _entry not in _drop]
"""
# Every module loaded from one of the trees' source folders must come from the child's own folders
# (a module file, or a package's directories: namespace packages have no __file__), and so must the
# handler. Only source folders count: the venv itself lies inside the work tree.
PATH_POSTLUDE = """
_own = tuple({own!r})
_all = tuple({all!r})
_stray = sorted({{
    _name for _name, _mod in list(sys.modules.items())
    for _file in [getattr(_mod, "__file__", None), *list(getattr(_mod, "__path__", []) or [])]
    if _file and _file.startswith(_all) and not _file.startswith(_own)
}})
if not str(getattr(_module, "__file__", "")).startswith(_own) and {module!r} not in _stray:
    _stray.append({module!r})
"""


def postlude(own_root: Path, other_roots: Sequence[Path], module: str) -> str:
    """PATH_POSTLUDE for a child of own_root's code that imported `module` (as `_module`)."""
    own = [folder + os.sep for folder in source_folders(own_root)]
    others = [folder + os.sep for root in other_roots for folder in source_folders(root)]
    return PATH_POSTLUDE.format(own=own, all=own + others, module=module)


def stray_modules(value: str) -> list[str]:
    """The child's `stray=` field: "-" or comma-separated module names."""
    return [] if value == "-" else value.split(",")


@contextmanager
def exported_revision(rev: str, repo: Path = ROOT) -> Iterator[tuple[Path, str]]:
    """REV's tree in a temporary directory, and its full commit id; removed on exit."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix=f"zapgate-bench-{rev}-") as directory:
        archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=repo, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", directory], input=archive.stdout, check=True)
        yield Path(directory), sha


# --------------------------------------------------------------------------- pairing and order
@dataclass(frozen=True)
class Pairing:
    """Which logical ids the two templates share (compared), and which only one side has (listed)."""

    both: list[str]
    only_work: list[str]
    only_rev: list[str]


def pair_functions(work_ids: Sequence[str], rev_ids: Sequence[str]) -> Pairing:
    return Pairing(
        both=[i for i in work_ids if i in rev_ids],
        only_work=[i for i in work_ids if i not in rev_ids],
        only_rev=[i for i in rev_ids if i not in work_ids],
    )


def round_order(baseline: T, work: Sequence[tuple[str, T]], rev: Mapping[str, T], round_no: int) -> list[T]:
    """baseline, fn1@work, fn1@REV, fn2@work, ...; each pair swapped on odd rounds."""
    order = [baseline]
    for logical_id, target in work:
        pair = [target, rev[logical_id]] if logical_id in rev else [target]
        order += pair if round_no % 2 == 0 else pair[::-1]
    return order


# --------------------------------------------------------------------------- ratios and verdicts
@dataclass(frozen=True)
class Comparison:
    label: str
    ratios: dict[str, float]  # sample name -> median(work) / median(rev)
    intervals: dict[str, tuple[float, float]]  # for the JUDGED spans (see `noise_interval`)
    judgements: dict[str, str]  # for the JUDGED spans (see `judge`)

    @property
    def verdict(self) -> str:
        wall, cpu = (self.judgements.get(name, "no samples") for name in JUDGED)
        return f"{wall} (wall and cpu)" if wall == cpu else f"{wall} by wall time, {cpu} by cpu time"


def compare(
    label: str, work: Mapping[str, list[float]], rev: Mapping[str, list[float]], tolerance: float
) -> Comparison:
    names = [name for name, _ in RATIO_COLUMNS if work.get(name) and rev.get(name)]
    ratios = {name: statistics.median(work[name]) / statistics.median(rev[name]) for name in names}
    intervals = {name: noise_interval(work[name], rev[name]) for name in JUDGED if name in ratios}
    judgements = {name: judge(ratios[name], span, tolerance) for name, span in intervals.items()}
    return Comparison(label, ratios, intervals, judgements)


def noise_interval(work: Sequence[float], rev: Sequence[float], resamples: int = 2000) -> tuple[float, float]:
    """5th-95th percentile of median(work)/median(rev) over the rounds resampled with replacement.

    Rounds are drawn as pairs (sample i of both sides ran in round i, one right after the other), so
    load that drifts between rounds moves both sides of a draw alike. Seeded: the same samples give
    the same interval. Below MIN_RUNS rounds a resampled median says nothing (one round gives a
    zero-width interval): the interval is then unbounded, so no verdict claims confidence.
    """
    draw = random.Random(0)
    n = min(len(work), len(rev))
    if n < MIN_RUNS:
        return 0.0, math.inf
    ratios = []
    for _ in range(resamples):
        rounds = [draw.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(work[i] for i in rounds) / statistics.median(rev[i] for i in rounds))
    ratios.sort()
    return ratios[resamples // 20], ratios[resamples - 1 - resamples // 20]


def judge(ratio: float, span: tuple[float, float], tolerance: float) -> str:
    """<= tolerance is no worse (noisy when the interval reaches above it); above it, WORSE only when
    the run's own noise cannot explain it (the interval excludes 1.00), else inconclusive."""
    low, high = span
    if ratio <= tolerance:
        return "no worse" if high <= tolerance else "no worse (noisy)"
    return "WORSE" if low > 1.0 else "inconclusive"


def comparison_table(rows: Sequence[Comparison], rev: str) -> list[str]:
    header: tuple[str, ...] = ("function",)
    for name, title in RATIO_COLUMNS:
        header += (title, "90% interval") if name in JUDGED else (title,)
    header += (f"verdict (work/{rev})",)
    cells = []
    for row in rows:
        line: tuple[str, ...] = (row.label,)
        for name, _ in RATIO_COLUMNS:
            line += (f"{row.ratios[name]:.2f}x" if name in row.ratios else "-",)
            if name in JUDGED:
                span = row.intervals.get(name)
                line += (f"{span[0]:.2f}-{span[1]:.2f}" if span and math.isfinite(span[1]) else "-",)
        cells.append((*line, row.verdict))
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header) - 1)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths)) + "  {}"
    return [fmt.format(*line) for line in [header, (*("-" * w for w in widths), "-" * 7), *cells]]


def summary(rows: Sequence[Comparison]) -> list[str]:
    """One line per judged span: which functions got which judgement ("no worse (noisy)" counts as no worse)."""
    lines = []
    for span, name in zip(JUDGED, ("wall time", "cpu time"), strict=True):
        by: dict[str, list[str]] = {}
        for row in rows:
            by.setdefault(row.judgements.get(span, "no samples").split(" (")[0], []).append(row.label)
        if len(by) == 1:
            lines.append(f"by {name}: {next(iter(by))} for every compared function")
        else:
            lines.append(f"by {name}: " + "; ".join(f"{j} for {', '.join(labels)}" for j, labels in sorted(by.items())))
    return lines


def load_note(before: float, after: float, cpus: int) -> list[str]:
    """The 1-minute load average around the measuring, and a warning when other work outnumbered the CPUs."""
    note = [f"load average {before:.1f} at start, {after:.1f} at end, on {cpus} CPUs"]
    if max(before, after) > cpus:
        note.append(
            "warning: more runnable work than CPUs; children queued behind other processes, so wall-time"
            " verdicts (and, less, cpu ones) are unreliable: re-run on an idle machine"
        )
    return note
