"""`make run` end to end: the real entry point as a process, real HTTP, real signals."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from zapgate_devstack.run import READY_LINE

pytestmark = pytest.mark.slow

WORKER_SECRET = "e2e-worker-secret-not-for-production"
API_KEY = "zg_e2e-api-key-not-for-production"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    process: subprocess.Popen[str]
    port: int
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pump(self) -> None:
        # Read on a thread until EOF: keeps the pipe drained so the stack never blocks on a full buffer.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the stack exited ({self.process.wait()}) before {text!r}:\n{self.log()}")
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"no {text!r} within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.output.append(line)
        return "\n".join(self.output[-80:])


@pytest.fixture
def stack() -> Iterator[Stack]:
    port = _free_port()
    env = {
        **os.environ,
        "SIDECARS": "0",
        "ZAPGATE_PORT": str(port),
        "ZAPGATE_AWS_PORT": "0",
        "WORKER_SECRET": WORKER_SECRET,
        "ZAPGATE_API_KEY": API_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "zapgate_devstack.run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Stack(process, port)
    threading.Thread(target=running.pump, daemon=True).start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_make_run_serves_both_apps_and_stops_cleanly(stack: Stack) -> None:
    stack.wait_for(READY_LINE, READY_TIMEOUT)
    banner = stack.log()
    for expected in (f"{stack.base_url}/v1/docs", f"{stack.base_url}/worker-proxy", WORKER_SECRET, API_KEY):
        assert expected in banner, f"banner lacks {expected!r}:\n{banner}"

    with httpx.Client(base_url=stack.base_url, timeout=15) as client:
        worker = {"Authorization": f"Bearer {WORKER_SECRET}"}
        settings = client.get("/worker-proxy/worker-settings", headers=worker)
        assert settings.status_code == 200, settings.text
        assert isinstance(settings.json()["max_active_instances"], int)

        anonymous = client.get("/worker-proxy/worker-settings")
        assert anonymous.status_code == 401, anonymous.text
        assert "error" in anonymous.json()

        tenant = {"X-API-Key": API_KEY}
        created = client.post("/v1/instances", headers=tenant, json={"name": "e2e-instance"})
        assert created.status_code == 201, created.text
        instance_id = created.json()["id"]

        listed = client.get("/v1/instances", headers=tenant)
        assert listed.status_code == 200, listed.text
        assert instance_id in listed.text

        assert client.get("/v1/instances").status_code == 401
        missing = client.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"

    stack.process.send_signal(signal.SIGTERM)
    try:
        code = stack.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_TIMEOUT}s after SIGTERM:\n{stack.log()}")
    assert code == 0, stack.log()
    assert not _port_open(stack.port)
