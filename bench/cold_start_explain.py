"""cold_start.py --explain: one child per function under -X importtime, to attribute its cold start.

It lists what the handler imports that a fresh interpreter holding only the baseline libraries does not,
what the first request imports lazily, botocore client creation and AWS call times, garbage collection
during the first request, and what compiling our own sources would cost. The figures are for attribution,
not for the ratio (-X importtime itself adds a little).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cold_start import Target

# Shared with cold_start.py, which passes its run_child (cold_start imports this module, not the reverse).
BASELINE_MODULES = ("fastapi", "mangum", "boto3", "pydantic", "aws_lambda_powertools")
RESULT_MARK = "BENCH-RESULT"
RunChild = Callable[..., tuple[list[str], str]]

_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
PHASE_MARK = "BENCH-PHASE"

# One child under -X importtime: the handler import, then the first request. The baseline libraries
# are not imported first: import order changes what gets imported (Powertools' batch module loads
# every parser model when pydantic is already in sys.modules, which it is not when a handler imports
# batch first), so what the handler adds is its imports minus the modules a baseline child holds. botocore client
# creation is wrapped and each AWS call timed (from provide-client-params, the first event of an
# API call, to after-call), so the first request splits into AWS work and the rest; the imports
# listed after the request marker are the ones deferred into the first request.
_EXPLAIN_CHILD = """
import gc
import sys
import time
import botocore.session
{context_class}
_first_event = {first_event!r}
_created = []
_calls = []
_original = botocore.session.Session.create_client

def _create_client(self, service_name, *args, **kwargs):
    started = time.perf_counter()
    client = _original(self, service_name, *args, **kwargs)
    _created.append((service_name, (time.perf_counter() - started) * 1000))
    starts = {{}}

    def _start(model, **_):
        starts[model.name] = time.perf_counter()

    def _end(model, **_):
        elapsed = (time.perf_counter() - starts.pop(model.name)) * 1000
        _calls.append((service_name + "." + model.name, elapsed))

    client.meta.events.register("provide-client-params", _start)
    client.meta.events.register("after-call", _end)
    return client

botocore.session.Session.create_client = _create_client
_gc = {{"ms": 0.0, "full": 0}}
_gc_started = [0.0]

def _on_gc(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _gc["ms"] += (time.perf_counter() - _gc_started[0]) * 1000
        _gc["full"] += info["generation"] == 2

sys.stderr.write("\\n{phase} import\\n")
sys.stderr.flush()
import {module} as _module
sys.stderr.write("\\n{phase} request\\n")
sys.stderr.flush()
gc.callbacks.append(_on_gc)
_t0 = time.perf_counter()
_response = _module.{attr}(_first_event, _Context("bench-explain"))
_total = (time.perf_counter() - _t0) * 1000
gc.callbacks.remove(_on_gc)
sys.stderr.write("\\n{phase} end\\n")
sys.stderr.flush()
_compile = 0.0
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("zapgate") and getattr(_mod, "__file__", None):
        _started = time.perf_counter()
        with open(_mod.__file__, encoding="utf-8") as _source:
            compile(_source.read(), _mod.__file__, "exec")
        _compile += (time.perf_counter() - _started) * 1000
_parts = ["total=%.1f" % _total, "compile=%.1f" % _compile, "gc=%.1f/%d" % (_gc["ms"], _gc["full"])]
_parts += ["client:%s=%.1f" % c for c in _created] + ["call:%s=%.1f" % c for c in _calls]
sys.stderr.write("\\n{mark} " + " ".join(_parts) + "\\n")
"""


@dataclass(frozen=True)
class Imported:
    module: str
    self_us: int
    cumulative_us: int


def imports_by_phase(stderr: str) -> dict[str, list[Imported]]:
    """-X importtime lines grouped by the phase marker that precedes them."""
    phases: dict[str, list[Imported]] = defaultdict(list)
    phase = "setup"
    for line in stderr.splitlines():
        if line.startswith(PHASE_MARK):
            phase = line.split()[1]
            continue
        match = _IMPORTTIME.match(line)
        if match:
            self_us, cumulative_us, _, module = match.groups()
            phases[phase].append(Imported(module, int(self_us), int(cumulative_us)))
    return phases


def _print_imports(title: str, rows: list[Imported], top: int) -> None:
    by_package: dict[str, int] = defaultdict(int)
    for row in rows:
        by_package[row.module.split(".")[0]] += row.self_us
    print(f"  {title}: {len(rows)} modules, {sum(r.self_us for r in rows) / 1000:.1f} ms self time")
    if not rows:
        return
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    print("    by top-level package: " + ", ".join(f"{name} {us / 1000:.1f}" for name, us in packages))
    print("    slowest modules (self ms, cumulative ms):")
    for row in sorted(rows, key=lambda r: -r.self_us)[:top]:
        print(f"      {row.module:<58} {row.self_us / 1000:6.1f} {row.cumulative_us / 1000:8.1f}")


_BASELINE_MODULES_CHILD = """
import sys
import {baseline}
import botocore.session
sys.stderr.write("\\n{mark} " + " ".join(sorted(sys.modules)) + "\\n")
"""


def baseline_module_names(env: dict[str, str], run_child: RunChild) -> set[str]:
    """Every module a fresh interpreter holds after importing the baseline libraries."""
    fields, _ = run_child(_BASELINE_MODULES_CHILD.format(baseline=", ".join(BASELINE_MODULES), mark=RESULT_MARK), env)
    return set(fields)


def explain(functions: list[Target], run_child: RunChild) -> None:
    """What each handler adds on top of the baseline: imports, then the work of its first request."""
    in_baseline = baseline_module_names(functions[0].env, run_child) if functions else set()
    for target in functions:
        spec = target.spec
        assert spec is not None
        code = _EXPLAIN_CHILD.format(
            context_class=spec.context_class,
            first_event=spec.first_event,
            module=spec.module,
            attr=spec.attr,
            phase=PHASE_MARK,
            mark=RESULT_MARK,
        )
        fields, stderr = run_child(code, target.env, ("-X", "importtime"))
        phases = imports_by_phase(stderr)
        values = dict(item.split("=", 1) for item in fields)
        total = float(values.pop("total"))
        compile_ms = float(values.pop("compile"))
        gc_ms, gc_full = values.pop("gc").split("/")
        aws_ms = sum(float(v) for v in values.values())

        print(f"\n{target.label} (one run under -X importtime, which itself adds a little)")
        added = [row for row in phases["import"] if row.module not in in_baseline]
        _print_imports("imported by the handler module beyond the baseline", added, 8)
        _print_imports("imported lazily during the first request", phases["request"], 5)
        print(f"  first request after import: {total:.1f} ms, of which (overlapping the lines below)")
        print(f"    {'garbage collection, ' + gc_full + ' full collection(s)':<56} {float(gc_ms):6.1f}")
        for name, value in values.items():
            print(f"    {name:<56} {float(value):6.1f}")
        rest = "the rest (routing, validation, serialisation, lazy imports)"
        print(f"    {rest:<56} {total - aws_ms:6.1f}")
        print(f"  compiling our modules from source (per cold start if no .pyc ships): {compile_ms:.1f} ms")
