"""Cold start of every Lambda in template.yaml, against a bare-libraries baseline, in fresh processes.

For each AWS::Serverless::Function (Handler "module.attr") a fresh interpreter measures, with
time.perf_counter:
  import       importing the handler module (what Lambda's init phase does);
  import+1st   that, plus serving a first real request through the Lambda handler itself
               (an API Gateway HTTP API v2 event and a fake LambdaContext), against moto;
  warm 2nd     a second, identical request in the same process (steady state, for contrast);
and time.process_time over the same spans (CPU time: what other processes' load barely moves).
The baseline is a fresh interpreter running `import fastapi, mangum, boto3, pydantic,
aws_lambda_powertools`. Runs are interleaved (baseline, fn1, fn2, baseline, ...) so that machine
noise hits every column alike; the table gives median and min, and the ratios are medians over
the baseline's median from the same run. No timing is asserted: the target (<= 1.25x) is reported.

The first request is real: a moto server in this process holds the tables and the secret created
from template.yaml, and each child gets its function's template environment plus AWS_ENDPOINT_URL,
so the worker-proxy reads its bearer secret from Secrets Manager and both APIs query DynamoDB.
Powertools metrics stay enabled as in Lambda; the children's stdout (logs, EMF) is captured and dropped.

--explain adds, per function, one child under -X importtime: what the handler imports beyond the
baseline, what the first request imports lazily, boto3 client creation and AWS call times, garbage
collection during the first request, and what compiling our own sources would cost.

--compare REV also measures every function of git revision REV (its own template.yaml and source,
exported to a temporary directory) in the same interleaved run, and gives per function the
work/REV ratios of the medians with a verdict (cold_start_compare.py says how, and why that way).
Each function child imports only its own tree's code (PYTHONPATH; checked in every child).

--snapstart also measures every function through its SnapStart hooks (cold_start_snapstart.py says what).

Usage: .venv/bin/python bench/cold_start.py [--runs 7] [--warmup 1] [--explain] [--compare REV [--tolerance 1.05]]
       [--json PATH] [--snapstart]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cold_start_compare as compare
import cold_start_explain as explain
import cold_start_snapstart as snapstart
from cold_start_events import ACCOUNT, API_KEY, TENANT, WORKER_SECRET, first_event
from cold_start_explain import BASELINE_MODULES, RESULT_MARK

from zapgate_devstack.emulator import LOCAL_CREDENTIALS, REGION, MotoServer, create_template_resources
from zapgate_devstack.template import LocalNames, function_environment, load_template, resources_of_type

TARGET_RATIO = 1.25


@dataclass(frozen=True)
class HandlerSpec:
    """What a child needs to call one function's Lambda handler."""

    module: str
    attr: str
    context_class: str
    first_event: dict[str, Any]
    warm_event: dict[str, Any]


@dataclass
class Target:
    """One column of work: the baseline (spec None) or one function of the template."""

    label: str
    code: str
    env: dict[str, str]
    spec: HandlerSpec | None = None
    logical_id: str = ""
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- child code
# The context object Lambda passes (the attributes Powertools' inject_lambda_context reads).
_CONTEXT_CLASS = """
class _Context:
    def __init__(self, request_id):
        self.function_name = {function_name!r}
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = {memory}
        self.invoked_function_arn = {arn!r}
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "2026/01/01/[$LATEST]bench"

    def get_remaining_time_in_millis(self):
        return 15_000
"""

# Everything but the timed statements is set up before the first clock read: the event literals
# and the context class cost the same in every child and are not part of a cold start.
_HANDLER_CHILD = """
import sys
import time
{prelude}
{context_class}
_first_event = {first_event!r}
_warm_event = {warm_event!r}
_first_context = _Context("bench-first")
_warm_context = _Context("bench-warm")
_c0 = time.process_time()
_t0 = time.perf_counter()
import {module} as _module
_handler = _module.{attr}
_t1 = time.perf_counter()
_c1 = time.process_time()
_response = _handler(_first_event, _first_context)
_t2 = time.perf_counter()
_c2 = time.process_time()
_handler(_warm_event, _warm_context)
_t3 = time.perf_counter()
{postlude}
sys.stderr.write("\\n{mark} import=%.3f first=%.3f warm=%.3f cpu_import=%.3f cpu_first=%.3f status=%s stray=%s\\n" % (
    (_t1 - _t0) * 1000, (_t2 - _t0) * 1000, (_t3 - _t2) * 1000,
    (_c1 - _c0) * 1000, (_c2 - _c0) * 1000,
    _response.get("statusCode", 500 if _response.get("batchItemFailures") else 200), ",".join(_stray) or "-"))
"""

_BASELINE_CHILD = """
import sys
import time
_c0 = time.process_time()
_t0 = time.perf_counter()
import {modules}
_t1 = time.perf_counter()
_c1 = time.process_time()
sys.stderr.write("\\n{mark} import=%.3f cpu_import=%.3f\\n" % ((_t1 - _t0) * 1000, (_c1 - _c0) * 1000))
"""


def child_env(extra: dict[str, str], pycache: Path) -> dict[str, str]:
    """The parent's environment minus anything AWS/Powertools, plus `extra`.

    Bytecode is cached under a private prefix (PYTHONPYCACHEPREFIX) even when the shell sets
    PYTHONDONTWRITEBYTECODE: otherwise our own modules, which have no __pycache__ in the tree,
    would be compiled on every run while the libraries load .pyc files, skewing the comparison.
    The compile cost a package without .pyc would pay is reported by --explain instead.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    # No shared config or credentials files: Lambda has none, and reading them is not free.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(extra)
    return env


def run_child(code: str, env: dict[str, str], args: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Run `python [args] -c code`; return the fields of its result line and its stderr."""
    done = subprocess.run(
        [sys.executable, *args, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return lines[-1].split()[1:], done.stderr


# --------------------------------------------------------------------------- set-up
def function_targets(
    server: MotoServer,
    names: LocalNames,
    pycache: Path,
    *,
    root: Path = compare.ROOT,
    other_roots: Sequence[Path] = (),
    suffix: str = "",
    unresolved: dict[str, str] | None = None,
) -> list[Target]:
    """One target per function of root's template.yaml, its children importing root's code only.

    With `unresolved`, a function whose environment names a resource the local stack lacks (the
    resources come from the work tree's template) is left out and recorded there, not fatal.
    """
    template = load_template(root / "template.yaml")
    path_env, drop = compare.path_setup(root, other_roots)
    memory = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    aws = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "bench",  # Lambda hands out temporary credentials
    }
    targets = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, attr = props["Handler"].rsplit(".", 1)
        events = [first_event(template, logical_id) for _ in range(2)]
        function_name = f"zapgate-{logical_id}"
        spec = HandlerSpec(
            module=module,
            attr=attr,
            context_class=_CONTEXT_CLASS.format(
                function_name=function_name,
                memory=int(memory),
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}",
            ),
            first_event=events[0],
            warm_event=events[1],
        )
        code = _HANDLER_CHILD.format(
            prelude=compare.PATH_PRELUDE.format(drop=drop),
            postlude=compare.postlude(root, other_roots, module),
            context_class=spec.context_class,
            first_event=spec.first_event,
            warm_event=spec.warm_event,
            module=module,
            attr=attr,
            mark=RESULT_MARK,
        )
        try:
            environment = function_environment(template, logical_id, names)
        except KeyError as missing:
            if unresolved is None:
                raise
            unresolved[logical_id] = str(missing)
            continue
        lambda_env = {
            **environment,
            **aws,
            **path_env,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "_HANDLER": props["Handler"],
        }
        targets.append(
            Target(
                label=f"{logical_id}{suffix}",
                code=code,
                env=child_env(lambda_env, pycache),
                spec=spec,
                logical_id=logical_id,
            )
        )
    return targets


def seed(server: MotoServer, names: LocalNames) -> None:
    """An API key and one instance, so both first requests authenticate and return a row."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": server.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        }
    )
    from zapgate_control.adapters.dynamodb.api_keys import put_api_key
    from zapgate_control.adapters.dynamodb.instances import DynamoInstanceStore

    put_api_key(names.physical["ApiKeysTable"], API_KEY, TENANT, "bench")
    DynamoInstanceStore(names.physical["InstancesTable"]).create(TENANT, "bench", 0, True)


# --------------------------------------------------------------------------- measuring
def measure(targets: list[Target], runs: int, warmup: int, order: Callable[[int], list[Target]] | None = None) -> None:
    """Every target once per round, in `order(round)` (default: as given)."""
    for round_no in range(warmup + runs):
        for target in order(round_no) if order else targets:
            fields, _ = run_child(target.code, target.env)
            values = dict(item.split("=", 1) for item in fields)
            stray = compare.stray_modules(values.pop("stray", "-"))
            if stray:  # checked in warm-up too: a wrong sys.path must fail before minutes of measuring
                raise RuntimeError(f"{target.label} loaded modules from another tree than its own: {stray}")
            if round_no < warmup:  # fills the bytecode cache and the OS page cache
                continue
            status = values.pop("status", None)
            if status is not None:
                target.statuses.add(int(status) if status.isdigit() else -1)
            for name, value in values.items():
                target.samples[name].append(float(value))
        print(
            f"  round {round_no + 1}/{warmup + runs}{' (warm-up, discarded)' if round_no < warmup else ''}",
            file=sys.stderr,
        )


def _median(target: Target, name: str) -> float:
    return statistics.median(target.samples[name])


def _cell(target: Target, name: str, how: str = "med") -> str:
    values = target.samples.get(name)
    if not values:
        return "-"
    return f"{(statistics.median(values) if how == 'med' else min(values)):.1f}"


def report(baseline: Target, functions: list[Target], runs: int, others: Sequence[Target] = ()) -> bool:
    """Print the table and the ratios; True when every function meets the target.

    `others` (a revision's functions under --compare) are rows of the table only."""
    header = ("target", "import med", "import min", "+1st med", "+1st min", "cpu import", "cpu +1st", "warm 2nd",
              "status")  # fmt: skip
    rows = []
    for target in [baseline, *functions, *others]:
        rows.append(
            (
                target.label,
                _cell(target, "import"),
                _cell(target, "import", "min"),
                _cell(target, "first"),
                _cell(target, "first", "min"),
                _cell(target, "cpu_import"),
                _cell(target, "cpu_first"),
                _cell(target, "warm"),
                ",".join(str(s) for s in sorted(target.statuses)) or "-",
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(f"\nCold start, {runs} fresh processes per target, ms measured inside each child process\n")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(line.format(*row))
    print(
        f"\n  baseline = import {', '.join(BASELINE_MODULES)}\n"
        + "".join(f"  {t.label} = {t.spec.module}.{t.spec.attr}\n" for t in [*functions, *others] if t.spec)
        + "  import: the handler module; +1st: import and the first request through the handler;\n"
        "  cpu: process CPU time (median) of the same spans, which load from other processes barely moves;\n"
        "  warm 2nd: a second request in the same process (median); status: first responses' HTTP status."
    )

    base = _median(baseline, "import")
    base_min = min(baseline.samples["import"])
    base_cpu = _median(baseline, "cpu_import")
    met = True
    print(f"\nratios to the baseline (median {base:.1f} ms); target for import+1st: <= {TARGET_RATIO:.2f}x")
    for target in functions:
        first = _median(target, "first")
        ok = first / base <= TARGET_RATIO
        met = met and ok
        print(
            f"  {target.label}: import+1st {first / base:.2f}x ({'met' if ok else 'NOT met'}), "
            f"import only {_median(target, 'import') / base:.2f}x"
        )
        # Load from other processes only ever adds wall time: min/min and CPU time are cross-checks.
        print(
            f"    min/min: import+1st {min(target.samples['first']) / base_min:.2f}x, "
            f"import only {min(target.samples['import']) / base_min:.2f}x; "
            f"cpu: import+1st {_median(target, 'cpu_first') / base_cpu:.2f}x, "
            f"import only {_median(target, 'cpu_import') / base_cpu:.2f}x"
        )
        if target.statuses - {200}:
            print(f"  warning: {target.label} answered {sorted(target.statuses)} to its first request")
    return met


# --------------------------------------------------------------------------- --compare REV
@dataclass
class Revision:
    """A revision's functions, measured beside the work tree's (see cold_start_compare.py)."""

    name: str
    sha: str
    targets: dict[str, Target]  # by logical id
    pairing: compare.Pairing
    unresolved: dict[str, str]  # logical id -> what its environment names that the local stack lacks
    resources_missing: list[str]  # resources REV's template declares and the work tree's does not


def revision(
    name: str, root: Path, sha: str, server: MotoServer, names: LocalNames, pycache: Path, work: list[Target]
) -> Revision:
    unresolved: dict[str, str] = {}
    targets = function_targets(
        server, names, pycache, root=root, other_roots=[compare.ROOT], suffix=f"@{name}", unresolved=unresolved
    )
    rev_ids = [*(t.logical_id for t in targets), *unresolved]
    pairing = compare.pair_functions([t.logical_id for t in work], rev_ids)
    work_resources = load_template()["Resources"]
    missing = [
        logical_id
        for logical_id, resource in load_template(root / "template.yaml")["Resources"].items()
        if logical_id not in work_resources and resource.get("Type") != "AWS::Serverless::Function"
    ]
    kept = {t.logical_id: t for t in targets if t.logical_id in pairing.both}
    return Revision(name, sha, kept, pairing, unresolved, missing)


def report_comparison(functions: list[Target], rev: Revision, tolerance: float, loads: tuple[float, float]) -> str:
    """Per shared function, work/REV ratios of the medians and a verdict; returns the overall verdict."""
    pairs = [(t, rev.targets[t.logical_id]) for t in functions if t.logical_id in rev.targets]
    rows = [compare.compare(work.logical_id, work.samples, old.samples, tolerance) for work, old in pairs]
    print(
        f"\nwork tree vs {rev.name} ({rev.sha[:12]}), same interleaved run: ratio = median(work) / median({rev.name});"
        f"\nverdicts on import+1st: no worse <= {tolerance:.2f}x; above it, WORSE if the 90% interval excludes 1.00,"
        " else inconclusive\n"
    )
    print("\n".join(compare.comparison_table(rows, rev.name)))
    for work, old in pairs:
        if work.statuses != old.statuses:
            here, there = sorted(work.statuses), sorted(old.statuses)
            print(f"  note: {work.logical_id} answered {here} here, {there} at {rev.name}")
    if rev.pairing.only_work:
        print(f"  only in the work tree (not compared): {', '.join(rev.pairing.only_work)}")
    if rev.pairing.only_rev:
        print(f"  only in {rev.name} (not compared): {', '.join(rev.pairing.only_rev)}")
    for logical_id, missing in rev.unresolved.items():
        print(f"  {logical_id}@{rev.name} needs a resource the work tree's template lacks: {missing}")
    if rev.resources_missing:
        missing_resources = ", ".join(rev.resources_missing)
        print(f"  resources {rev.name}'s template declares and the work tree's lacks: {missing_resources}")
    return "\n  ".join([*compare.summary(rows), *compare.load_note(*loads, os.cpu_count() or 1)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured fresh processes per target (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds before measuring (default 1)")
    parser.add_argument("--explain", action="store_true", help="also break down what each handler adds")
    parser.add_argument("--compare", metavar="REV", help="also measure REV's functions in the same run, and compare")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write every sample, by target, to PATH")
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="also measure each function through its SnapStart hooks (cold_start_snapstart.py)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=compare.DEFAULT_TOLERANCE,
        help=f"--compare: work/REV ratio still 'no worse' (default {compare.DEFAULT_TOLERANCE})",
    )
    args = parser.parse_args()

    server = MotoServer().start()
    try:
        names = create_template_resources(server, secrets={"WorkerSecret": WORKER_SECRET}, prefix="bench")
        seed(server, names)
        with ExitStack() as cleanup:
            pycache = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="zapgate-bench-pycache-")))
            baseline = Target(
                label="baseline",
                code=_BASELINE_CHILD.format(modules=", ".join(BASELINE_MODULES), mark=RESULT_MARK),
                env=child_env({}, pycache),
            )
            rev: Revision | None = None
            if args.compare:
                rev_root, sha = cleanup.enter_context(compare.exported_revision(args.compare))
                functions = function_targets(server, names, pycache, other_roots=[rev_root])
                rev = revision(args.compare, rev_root, sha, server, names, pycache, functions)
            else:
                functions = function_targets(server, names, pycache)
            machine = f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
            print(f"{machine}; moto at {server.endpoint}", file=sys.stderr)
            load_before = os.getloadavg()[0]
            snaps = snapstart.snap_targets(functions, RESULT_MARK) if args.snapstart else []
            if rev is None:
                measure([baseline, *functions, *snaps], args.runs, args.warmup)
            else:
                work, paired = [(t.logical_id, t) for t in functions], rev.targets
                measure([], args.runs, args.warmup,
                        lambda n: [*compare.round_order(baseline, work, paired, n), *snaps])  # fmt: skip
            met = report(baseline, functions, args.runs, list(rev.targets.values()) if rev else ())
            if snaps:
                snapstart.report(baseline, functions, snaps)
            if args.json:
                measured = [baseline, *functions, *(rev.targets.values() if rev else ()), *snaps]
                args.json.write_text(json.dumps({t.label: t.samples for t in measured}, indent=1))
            if rev is not None:
                loads = (load_before, os.getloadavg()[0])
                print(f"\ncold start vs {rev.name}:\n  {report_comparison(functions, rev, args.tolerance, loads)}")
            if args.explain:
                explain.explain(functions, run_child)
    finally:
        server.stop()
    print(f"\ntarget {'met' if met else 'NOT met'} (informational: this script asserts nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
