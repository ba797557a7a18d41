"""`make run`'s processes for end-to-end tests: the devstack with sidecars on the sim network."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

READY = "zapgate local stack ready"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_ports(count: int) -> list[int]:
    """`count` consecutive free loopback ports (sidecars listen on base + i), below the ephemeral range.

    A port is chosen now and bound later by a child process. An ephemeral port (what binding port 0 gives)
    can meanwhile become the local end of any outbound connection on the machine (the stack's own clients
    to moto open dozens), and the child's bind then fails: a sidecar without its health server, seen as
    "Connection refused" in a clean-clone run. The kernel never hands out ports below the ephemeral range
    on its own, so only another explicit bind can take one of these; a random pick keeps test stacks apart.
    """
    high = _ephemeral_low() - count
    for _ in range(200):
        base = random.randrange(20_000, max(20_001, high))
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free ports")


class LocalStack:
    def __init__(self, tmp: Path, sidecars: int, **env: str) -> None:
        port, sim_port = free_ports(1)[0], free_ports(1)[0]
        self.sidecar_ports = free_ports(sidecars)
        self.url = f"http://127.0.0.1:{port}"
        self.sim = f"http://127.0.0.1:{sim_port}"
        self.worker_secret = "e2e-worker-secret-0123456789"
        self.api_key = "zg_e2e-api-key-0123456789"
        self.env = {
            **os.environ,
            "ZAPGATE_PORT": str(port),
            "ZAPGATE_SIM_PORT": str(sim_port),
            "ZAPGATE_SIDECAR_BASE_PORT": str(self.sidecar_ports[0]),
            "SIDECARS": str(sidecars),
            "WORKER_SECRET": self.worker_secret,
            "ZAPGATE_API_KEY": self.api_key,
            "ZAPGATE_LOCAL_STATE": str(tmp / "state"),
            "PRINT_QR": "false",
            **env,
        }
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> LocalStack:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zapgate_devstack.run"], env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.output.append(line)
                if READY in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise AssertionError("stack not ready:\n" + "".join(self.output[-40:]))
        return self

    def stop(self, timeout: float = 45) -> int:
        assert self.process
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise

    # ------------------------------------------------------------ clients
    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/v1", headers={"X-API-Key": self.api_key}, timeout=30)

    def worker(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/worker-proxy",
                            headers={"Authorization": f"Bearer {self.worker_secret}"}, timeout=30)

    def sim_client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.sim}/sim", timeout=30)

    def sidecar_health(self, index: int) -> dict[str, Any]:
        try:
            return httpx.get(f"http://127.0.0.1:{self.sidecar_ports[index]}/health/instances", timeout=5).json()
        except httpx.ConnectError:
            # A sidecar that exited (or never bound its port) is not a wait to retry: say what its process said.
            said = [line for line in list(self.output)
                    if f"sidecar {index} (pid" in line or "address already in use" in line.lower()]
            if said:
                raise AssertionError(f"sidecar {index} is not answering on port {self.sidecar_ports[index]}: "
                                     + "".join(said[-5:])) from None
            raise

    def qr_lines(self) -> list[str]:
        return [line for line in self.output if re.search(r"QR|qr", line)]


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
