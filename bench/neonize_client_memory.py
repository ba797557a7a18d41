"""RSS cost of neonize clients with their whatsmeow store loaded, in fresh processes.

Each measurement is a fresh interpreter (a child of this script) that reads VmRSS from
/proc/self/status at three points:
  bare       the interpreter alone;
  baseline   after importing neonize (its Go library: the floor of any neonize sidecar);
  clients    after creating N clients, each on its own SQLite file, each through a real
             ``connect()`` that creates/opens the whatsmeow store, loads the device and
             registers the Go client, then fails to dial WhatsApp (a SOCKS proxy on a closed
             local port, so the result does not depend on the machine's network).
The clients stay referenced (and registered in Go) while RSS is read. What cannot be
measured without WhatsApp: a live socket, the post-login caches (app state, sessions,
sender keys) and message traffic; these figures are a lower bound per connected client.

Runs are repeated and the table gives medians; ratios are over the baseline's median.
"marginal" is the slope from the smallest N: the cost of one more client once Go is warm.

Usage: .venv/bin/python bench/neonize_client_memory.py [--counts 1 5 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def status(field: str) -> int:
    """A /proc/self/status value (kB for memory fields)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child(count: int, directory: Path) -> dict[str, float]:
    bare = status("VmRSS")
    started = time.perf_counter()
    from neonize._binder import ProxySettings
    from neonize.client import NewClient
    from neonize.exc import NeonizeError

    import_seconds = time.perf_counter() - started
    baseline = status("VmRSS")
    proxy = ProxySettings(proxy_address=f"socks5://127.0.0.1:{closed_port()}")
    clients = []
    started = time.perf_counter()
    for index in range(count):
        client = NewClient(str(directory / f"client-{index}.sqlite3"), uuid=f"bench-{os.getpid()}-{index}")
        try:
            client.connect(proxy)
        except NeonizeError as exc:
            if "dial" not in str(exc):
                raise
        else:
            raise RuntimeError("connect() succeeded: WhatsApp must not be reachable for this benchmark")
        clients.append(client)
    create_seconds = time.perf_counter() - started
    time.sleep(0.5)  # let Go's background work (sqlite pool, GC) settle before reading
    after = status("VmRSS")
    store_kb = sum(path.stat().st_size for path in directory.glob("*.sqlite3")) / 1024
    return {
        "bare_kb": bare,
        "baseline_kb": baseline,
        "after_kb": after,
        "threads": status("Threads"),
        "import_s": import_seconds,
        "create_s": create_seconds,
        "store_kb": store_kb,
        "clients_alive": len(clients),
    }


def run_child(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="neonize-bench-") as directory:
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(count), "--dir", directory],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"child N={count} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        print(json.dumps(child(args.child, args.dir)))
        sys.stdout.flush()
        os._exit(0)  # neonize's connect leaves Go state behind; nothing to clean up in a throwaway child

    samples: dict[int, list[dict[str, float]]] = {count: [] for count in args.counts}
    for _ in range(args.runs):  # interleaved, so machine noise hits every N alike
        for count in args.counts:
            samples[count].append(run_child(count))

    every = [sample for runs in samples.values() for sample in runs]
    bare = statistics.median(s["bare_kb"] for s in every) / 1024
    baseline = statistics.median(s["baseline_kb"] for s in every) / 1024
    import_s = statistics.median(s["import_s"] for s in every)
    print(f"python {sys.version.split()[0]}, neonize {_neonize_version()}, {args.runs} runs per N (medians)")
    print(f"bare interpreter RSS           {bare:7.1f} MB")
    print(f"baseline (neonize imported)    {baseline:7.1f} MB   (import {import_s:.2f} s)")
    print()
    columns = ("N", 4), ("RSS MB", 8), ("+MB vs base", 12), ("MB/client", 10), ("marginal", 9), ("x base", 7)
    header = " ".join(f"{name:>{width}}" for name, width in (*columns, ("threads", 8), ("store KB", 9)))
    print(header)
    print("-" * len(header))
    first = min(args.counts)
    first_delta = statistics.median(s["after_kb"] - s["baseline_kb"] for s in samples[first]) / 1024
    for count in args.counts:
        runs = samples[count]
        after = statistics.median(s["after_kb"] for s in runs) / 1024
        delta = statistics.median(s["after_kb"] - s["baseline_kb"] for s in runs) / 1024
        threads = statistics.median(s["threads"] for s in runs)
        store = statistics.median(s["store_kb"] for s in runs) / count
        # the first client also pays Go's one-off warm-up (sqlite, runtime arenas); the slope does not
        marginal = f"{(delta - first_delta) / (count - first):>9.2f}" if count > first else f"{'-':>9}"
        print(
            f"{count:>4} {after:>8.1f} {delta:>12.1f} {delta / count:>10.2f} {marginal} {after / baseline:>7.2f} "
            f"{threads:>8.0f} {store:>9.0f}"
        )


def _neonize_version() -> str:
    from importlib.metadata import version

    return version("neonize")


if __name__ == "__main__":
    main()
