"""What the local-stack demos share: calling the API and the sim, waiting for the stack, linking an instance
on the simulated network, and the command line (`ZAPGATE_API_KEY`, --api, --sim)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx


class DemoFailed(RuntimeError):
    pass


def wait(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")


def ok(answer: httpx.Response, *expect: int) -> Any:
    """The answer's JSON when its status is one of `expect` (200 by default); DemoFailed with the body otherwise."""
    if answer.status_code not in (expect or (200,)):
        raise DemoFailed(f"{answer.request.method} {answer.request.url.path} answered {answer.status_code}: "
                         f"{answer.text[:300]}")  # fmt: skip
    return answer.json()


def link_instance(api: httpx.Client, sim: httpx.Client, name: str, phone: str, push_name: str,
                  say: Callable[[str], None]) -> str:
    """A new instance, its QR "scanned" on the simulated network by `phone`, once it is CONNECTED."""
    instance = str(ok(api.post("/instances", json={"name": name}), 201)["id"])
    say(f"instance {instance}: waiting for a sidecar to show its QR ...")
    wait(lambda: ok(api.get(f"/instances/{instance}"))["qr_code"], "the QR")
    sim.post(f"/instances/{instance}/scan", json={"phone": phone, "push_name": push_name}).raise_for_status()
    wait(lambda: ok(api.get(f"/instances/{instance}"))["status"] == "CONNECTED", "CONNECTED")
    return instance


def main_with(run: Callable[[httpx.Client, httpx.Client], object], description: str | None) -> int:
    """A demo's command line: the API and sim URLs (make run's defaults), the key from ZAPGATE_API_KEY."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default=os.environ.get("ZAPGATE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--sim", default=os.environ.get("ZAPGATE_SIM_URL", "http://127.0.0.1:8001"))
    args = parser.parse_args()
    key = os.environ.get("ZAPGATE_API_KEY")
    if not key:
        print("set ZAPGATE_API_KEY to the key `make run` printed", file=sys.stderr)
        return 2
    with httpx.Client(base_url=f"{args.api}/v1", headers={"X-API-Key": key}, timeout=30) as api, \
            httpx.Client(base_url=f"{args.sim}/sim", timeout=30) as sim:
        try:
            run(api, sim)
        except (DemoFailed, httpx.HTTPError) as exc:
            print(f"demo stopped: {exc}", file=sys.stderr)
            return 1
    return 0
