"""What Lambda SnapStart (template parameter SnapStart=on) would bill while nothing happens, per function.

A fixed cost of the stack, not of an instance, so it is not in idle_cost.py's per-instance accounting (which
counts what an idle fleet's requests cost): each function's MemorySize from template.yaml (else Globals) times
the snapshot cache price for every second of a month (hours_per_month), for the one active version of each
(older versions stop accruing once not invoked for 14 days), plus the price of one restore for comparison.
Prices: bench/aws_prices.json, lambda_snapstart_python.

Usage: .venv/bin/python bench/idle_cost_snapstart.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zapgate_devstack.template import load_template, resources_of_type

PRICES_PATH = Path(__file__).with_name("aws_prices.json")


def month_per_function(memory_mb: int, usd_per_gb_second: float, hours_per_month: float) -> float:
    """USD a month for one active SnapStart version of a function of `memory_mb`."""
    return memory_mb / 1024 * usd_per_gb_second * hours_per_month * 3600


def functions_memory(template: dict[str, Any] | None = None) -> dict[str, int]:
    template = template or load_template()
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {name: int(resource["Properties"].get("MemorySize", default))
            for name, resource in resources_of_type(template, "AWS::Serverless::Function").items()}  # fmt: skip


def main() -> None:
    prices = json.loads(PRICES_PATH.read_text())
    snap, hours = prices["lambda_snapstart_python"], float(prices["hours_per_month"])
    total = 0.0
    print(f"SnapStart=on, idle: snapshot cache per active version ({prices['region']}, {hours:.0f} h a month)\n")
    print(f"{'function':<26} {'MB':>5} {'USD/month':>10} {'USD/restore':>12}")
    for name, memory in functions_memory().items():
        month = month_per_function(memory, snap["usd_per_gb_second_cache"], hours)
        total += month
        print(f"{name:<26} {memory:>5} {month:>10.2f} {memory / 1024 * snap['usd_per_gb_restore']:>12.6f}")
    print(f"{'total':<26} {'':>5} {total:>10.2f}")


if __name__ == "__main__":
    main()
