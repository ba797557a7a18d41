"""bench/cold_start.py --snapstart: what is left of a cold start after a SnapStart restore, per function.

Off AWS there is no snapshot, so the child plays the two halves in one process: it imports the handler
(Lambda's init), runs `zapgate_control.snapstart.before_snapshot()` (the priming that lands in the snapshot),
then restarts its clocks where a restored environment would start and runs `after_restore()` and the first
request. What is measured is therefore what a restored environment still has to do; the restore itself
(Lambda loading the snapshot into a microVM, "Restore Duration" in the REPORT line) cannot be measured here.

Columns: import and prime (both happen once per published version, before the snapshot: not user-visible),
restore hooks (after_restore), 1st after restore (the first request), and their sum, the restored path, in
wall and CPU time; ratios of the restored path to the baseline import and to the same function's own import +
first request without SnapStart, medians of the same interleaved run.
"""

from __future__ import annotations

import statistics
from typing import Any

import cold_start_compare as compare

SNAP_SUFFIX = " snap"

# Same set-up as cold_start._HANDLER_CHILD; the clocks restart after before_snapshot().
_SNAP_CHILD = """
import sys
import time
{prelude}
{context_class}
_first_event = {first_event!r}
_first_context = _Context("bench-first")
_t0 = time.perf_counter()
import {module} as _module
_handler = _module.{attr}
_t1 = time.perf_counter()
from zapgate_control import snapstart as _snapstart
_snapstart.before_snapshot()
_t2 = time.perf_counter()
# ---- the snapshot is taken here; a restored environment resumes below ----
_c3 = time.process_time()
_t3 = time.perf_counter()
_snapstart.after_restore()
_t4 = time.perf_counter()
_response = _handler(_first_event, _first_context)
_t5 = time.perf_counter()
_c5 = time.process_time()
{postlude}
sys.stderr.write("\\n{mark} import=%.3f prime=%.3f hooks=%.3f restored=%.3f cpu_restored=%.3f status=%s stray=%s\\n" % (
    (_t1 - _t0) * 1000, (_t2 - _t1) * 1000, (_t4 - _t3) * 1000, (_t5 - _t3) * 1000, (_c5 - _c3) * 1000,
    _response.get("statusCode", 500 if _response.get("batchItemFailures") else 200), ",".join(_stray) or "-"))
"""


def snap_targets(functions: list[Any], mark: str) -> list[Any]:
    """One more target per function: the same handler, environment and first event, through the SnapStart hooks."""
    from cold_start import Target

    _, drop = compare.path_setup(compare.ROOT, [])
    targets = []
    for target in functions:
        spec = target.spec
        code = _SNAP_CHILD.format(
            prelude=compare.PATH_PRELUDE.format(drop=drop), postlude=compare.postlude(compare.ROOT, [], spec.module),
            context_class=spec.context_class, first_event=spec.first_event, module=spec.module, attr=spec.attr,
            mark=mark,
        )  # fmt: skip
        targets.append(Target(label=f"{target.logical_id}{SNAP_SUFFIX}", code=code, env=target.env, spec=spec,
                              logical_id=target.logical_id))  # fmt: skip
    return targets


def _med(target: Any, name: str) -> float:
    return statistics.median(target.samples[name])


def report(baseline: Any, functions: list[Any], snaps: list[Any]) -> None:
    base, base_cpu = _med(baseline, "import"), _med(baseline, "cpu_import")
    by_id = {t.logical_id: t for t in functions}
    header = ("function", "import", "prime", "hooks", "1st", "restored", "cpu restored", "/baseline", "cpu /baseline",
              "/no snap", "status")  # fmt: skip
    rows = []
    for snap in snaps:
        plain = by_id[snap.logical_id]
        restored, cpu = _med(snap, "restored"), _med(snap, "cpu_restored")
        statuses = ",".join(map(str, sorted(snap.statuses))) or "-"
        rows.append((snap.logical_id, f"{_med(snap, 'import'):.1f}", f"{_med(snap, 'prime'):.1f}",
                     f"{_med(snap, 'hooks'):.1f}", f"{restored - _med(snap, 'hooks'):.1f}", f"{restored:.1f}",
                     f"{cpu:.1f}", f"{restored / base:.2f}x", f"{cpu / base_cpu:.2f}x",
                     f"{restored / _med(plain, 'first'):.2f}x", statuses))  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print("\nSnapStart path (--snapstart), ms medians: import and prime happen before the snapshot (not user-visible);")
    print("a restored environment runs the after-restore hooks, then the first request (restored = hooks + 1st)\n")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(line.format(*row))
    print(
        f"\n  /baseline: restored over the baseline's import ({base:.1f} ms, cpu {base_cpu:.1f} ms);"
        " /no snap: over the same function's import+1st without SnapStart.\n"
        "  Not measured here: the restore itself (Lambda resuming the microVM, REPORT's Restore Duration)."
    )
