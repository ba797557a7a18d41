"""The console's first load (issue 12, docs/benchmarks.md#console-first-load): bytes on the wire (gzip) and
the time until the instance list is shown, with 100 instances, on the local stack in headless chromium.

The stack is `make run`'s processes (tests/e2e/stack.py's LocalStack) with no sidecar (SIDECARS=0: a
list of 100 instances needs none, and the machine stays quiet), 100 instances created through /v1 first.
Each run is a fresh browser context (empty cache, empty sessionStorage), in three scenarios:

  sign-in page   open /console/ until the sign-in form is shown: what a first visit downloads;
  sign in        then type the key and submit, until the 100 rows are shown (the page opens its live socket,
                 a ticket and a WebSocket, then lists with `GET /v1/instances?limit=100`, whose answer
                 also tells whether the key is good);
  reload         reload that tab (key in sessionStorage, files in the HTTP cache: revalidated, 304) until
                 the 100 rows are shown: what a person who comes back sees.

Each at loopback speed and again throttled to Lighthouse's mobile "Slow 4G" (150 ms RTT, 1.6 Mbit/s down,
750 kbit/s up, Chrome DevTools Protocol Network.emulateNetworkConditions): loopback times are the page's
own work, the throttled ones show what the bytes and round trips cost on a phone.

Bytes come from the DevTools Protocol's network events (Network.loadingFinished encodedDataLength: headers
+ body as transferred, so gzip as sent; Network.dataReceived dataLength: the decoded bodies), the live
WebSocket's frames excluded. Times come from the page's clock: a MutationObserver (added as an init script,
outside the page's CSP) notes performance.now() when the 100th `instance-row` appears; for "sign in" the
time counts from the submit event. Requests are counted from the same events, and the bench checks, for
every run, that the list came from one list request (`limit=100`) and no request was made per instance.

Usage: .venv/bin/python bench/console_load.py [--runs 5] [--instances 100]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from playwright.sync_api import Browser, CDPSession, Page, sync_playwright  # noqa: E402

from tests.e2e.browser import INSTANCE_PATH, LIST_PATH, launch  # noqa: E402
from tests.e2e.stack import LocalStack  # noqa: E402

SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
           "uploadThroughput": 750_000 / 8}
MARK_ROWS = r"""
(() => {
  window.__bench = { rowsAt: null, submitAt: null, signinAt: null, listsBeforeRows: null };
  const want = %d;
  const check = () => {
    const b = window.__bench;
    if (b.signinAt === null) {
      const key = document.querySelector('[data-testid="signin-key"]');
      if (key && key.offsetParent !== null) b.signinAt = performance.now();
    }
    if (b.rowsAt === null && document.querySelectorAll('[data-testid="instance-row"]').length >= want) {
      b.rowsAt = performance.now();
      // List responses the page had when the rows were there (resource timing: same clock, fetches included).
      b.listsBeforeRows = performance.getEntriesByType("resource")
        .filter((e) => /\/v1\/instances\?limit=100(&|$)/.test(e.name) && e.responseEnd <= b.rowsAt).length;
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true,
                                                  attributeFilter: ["hidden"] });
  document.addEventListener("submit", () => { window.__bench.submitAt = performance.now(); }, true);
})();
"""


@dataclass
class Wire:
    """What one page load moved, from the DevTools Protocol's Network events."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def attach(self, cdp: CDPSession) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        request = event["request"]
        self.requests[event["requestId"]] = {"url": request["url"], "method": request["method"], "decoded": 0,
                                             "encoded": 0, "status": None, "encoding": ""}

    def _response(self, event: dict[str, Any]) -> None:
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
            entry["status"] = event["response"]["status"]
            entry["encoding"] = headers.get("content-encoding", "")

    def _data(self, event: dict[str, Any]) -> None:
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            entry["decoded"] += event["dataLength"]

    def _finished(self, event: dict[str, Any]) -> None:
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            entry["encoded"] = event["encodedDataLength"]

    def http(self) -> list[dict[str, Any]]:
        return [r for r in self.requests.values() if r["url"].startswith("http")]

    def paths(self) -> list[tuple[str, str]]:
        return [(r["method"], re.sub(r"^https?://[^/]+", "", r["url"])) for r in self.http()]


@dataclass
class Run:
    scenario: str
    network: str
    ms: float
    lists_before_rows: int | None
    requests: int
    encoded: int
    decoded: int
    list_calls: list[str]
    per_instance: list[str]
    gzipped: list[str]
    not_gzipped: list[str]
    statuses: dict[int, int]
    list_responses: list[dict[str, Any]]


@contextlib.contextmanager
def stack_with(instances: int) -> Iterator[LocalStack]:
    tmp = Path(tempfile.mkdtemp(prefix="console-load-"))
    # LocalStack reserves one sidecar port; SIDECARS=0 in its environment starts none.
    stack = LocalStack(tmp, sidecars=1, SIDECARS="0",
                       ZAPGATE_PARAMETER_OVERRIDES="RateLimitPerMinute=0").start(timeout=90)
    try:
        api = stack.api()
        for n in range(instances):
            api.post("/instances", json={"name": f"instance {n:03d}", "priority": n % 7}).raise_for_status()
        answer = api.get("/instances", params={"limit": 100})
        assert len(answer.json()["instances"]) == min(instances, 100), answer.text[:200]
        print(f"the list of {min(instances, 100)} as JSON: {kb(len(answer.content))}, "
              f"{kb(len(gzip.compress(answer.content, 6)))} gzipped (level 6), "
              f"content-encoding {answer.headers.get('content-encoding', 'none')}", flush=True)
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def file_name(url: str) -> str:
    return url.split("?")[0].rsplit("/", 1)[-1] or "index.html"


def summarize(scenario: str, network: str, ms: float, wire: Wire, lists_before_rows: int | None = None) -> Run:
    http = wire.http()
    paths = wire.paths()
    console_files = [r for r in http if "/console/" in r["url"] and r["status"] == 200 and r["decoded"] >= 256]
    statuses: dict[int, int] = {}
    for r in http:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return Run(
        scenario=scenario, network=network, ms=ms, lists_before_rows=lists_before_rows, requests=len(http),
        encoded=sum(r["encoded"] for r in http), decoded=sum(r["decoded"] for r in http),
        list_calls=[p for m, p in paths if m == "GET" and LIST_PATH.match(p) and "limit=1&" not in p + "&"],
        per_instance=[f"{m} {p}" for m, p in paths if INSTANCE_PATH.match(p)],
        gzipped=[file_name(r["url"]) for r in console_files if r["encoding"] == "gzip"],
        not_gzipped=[file_name(r["url"]) for r in console_files if r["encoding"] != "gzip"],
        statuses=statuses,
        list_responses=[{"path": re.sub(r"^https?://[^/]+", "", r["url"]), "encoded": r["encoded"],
                         "decoded": r["decoded"], "encoding": r["encoding"]}
                        for r in http if LIST_PATH.search(r["url"]) and "limit=100" in r["url"]],
    )


def one_run(browser: Browser, stack: LocalStack, instances: int, throttle: bool) -> list[Run]:
    network = "slow 4G" if throttle else "loopback"
    want = min(instances, 100)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(MARK_ROWS % want)
    page: Page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    if throttle:
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    runs = []

    wire = Wire()
    wire.attach(cdp)
    page.goto(f"{stack.url}/console/", wait_until="commit")
    page.wait_for_function("() => window.__bench && window.__bench.signinAt !== null", timeout=60_000)
    page.wait_for_load_state("load")
    runs.append(summarize("sign-in page", network, page.evaluate("() => window.__bench.signinAt"), wire))

    wire = Wire()
    wire.attach(cdp)
    page.get_by_test_id("signin-key").fill(stack.api_key)
    page.get_by_test_id("signin-submit").click()
    page.wait_for_function("() => window.__bench.rowsAt !== null", timeout=60_000)
    page.wait_for_timeout(1000 if not throttle else 2000)  # a request per row, had there been one, is out by now
    took = page.evaluate("() => window.__bench.rowsAt - window.__bench.submitAt")
    runs.append(summarize("sign in", network, took, wire, page.evaluate("() => window.__bench.listsBeforeRows")))

    wire = Wire()
    wire.attach(cdp)
    page.reload(wait_until="commit")
    page.wait_for_function("() => window.__bench && window.__bench.rowsAt !== null", timeout=60_000)
    page.wait_for_timeout(1000 if not throttle else 2000)
    runs.append(summarize("reload", network, page.evaluate("() => window.__bench.rowsAt"), wire,
                          page.evaluate("() => window.__bench.listsBeforeRows")))
    context.close()
    return runs


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def report(runs: list[Run], instances: int) -> bool:
    ok = True
    per_scenario = sum(1 for r in runs if (r.scenario, r.network) == (runs[0].scenario, runs[0].network))
    print(f"\nconsole first load, {instances} instances, {per_scenario} runs per scenario: time median [min-max] ms;"
          " bytes of the first run (transferred = headers + bodies as sent, gzip where sent so; decoded = bodies)")
    cols = ["scenario", "network", "shown after (ms)", "requests", "transferred", "decoded",
            "lists before shown", "list calls", "per-instance"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    keys: list[tuple[str, str]] = []
    for r in runs:
        if (r.scenario, r.network) not in keys:
            keys.append((r.scenario, r.network))
    for scenario, network in keys:
        group = [r for r in runs if r.scenario == scenario and r.network == network]
        times = [r.ms for r in group]
        first = group[0]

        def counts(values: list[Any]) -> str:
            return "/".join(str(v) for v in sorted(set(values), key=str))

        row = [scenario, network, f"{statistics.median(times):.0f} [{min(times):.0f}-{max(times):.0f}]",
               str(first.requests), kb(first.encoded), kb(first.decoded),
               counts([r.lists_before_rows for r in group]) if scenario != "sign-in page" else "-",
               counts([len(r.list_calls) for r in group]), counts([len(r.per_instance) for r in group])]
        print("| " + " | ".join(row) + " |")
        if scenario != "sign-in page":
            for r in group:
                if r.lists_before_rows != 1 or not all("limit=100" in c for c in r.list_calls) or r.per_instance:
                    ok = False
                    print(f"  !! {scenario}/{network}: {r.lists_before_rows} list responses before the rows, "
                          f"list calls {r.list_calls}, per-instance {r.per_instance}")
    first_page = next(r for r in runs if r.scenario == "sign-in page")
    print(f"\nconsole files gzipped: {', '.join(sorted(set(first_page.gzipped))) or 'none'}; "
          f"not gzipped (>= 256 B): {', '.join(sorted(set(first_page.not_gzipped))) or 'none'}")
    signed_in = next(r for r in runs if r.scenario == "sign in")
    for call in signed_in.list_responses:
        print(f"list response {call['path']}: {kb(call['encoded'])} transferred, {kb(call['decoded'])} decoded, "
              f"content-encoding {call['encoding'] or 'none'}")
    reload = next(r for r in runs if r.scenario == "reload")
    print(f"reload statuses: {reload.statuses} (304 = revalidated from the HTTP cache)")
    print("every run showed the 100 rows from ONE list response (limit=100), with no request per instance: "
          + ("yes" if ok else "NO"))
    extra = {len(r.list_calls) - 1 for r in runs if r.scenario != "sign-in page" and r.list_calls}
    if extra - {0}:
        print(f"(list calls beyond that one per load: {counts_text(extra)}; made after the rows were shown)")
    return ok


def counts_text(values: set[int]) -> str:
    return "/".join(str(v) for v in sorted(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--no-throttle", action="store_true", help="loopback only")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with stack_with(args.instances) as stack, sync_playwright() as playwright:
        browser = launch(playwright)
        print(f"chromium {browser.version}; stack {stack.url}; {args.instances} instances seeded", flush=True)
        runs: list[Run] = []
        for throttle in ([False] if args.no_throttle else [False, True]):
            one_run(browser, stack, args.instances, throttle)  # warm-up: the server's first requests
            for _ in range(args.runs):
                runs.extend(one_run(browser, stack, args.instances, throttle))
        browser.close()
    ok = report(runs, args.instances)
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
