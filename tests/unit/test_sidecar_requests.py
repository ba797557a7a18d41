"""Requests to the phone on the sidecar's side: what each operation asks the session, how a failure becomes the
answer's error, and the runner's claim -> run -> answer against the worker-proxy's two calls (faked at the HTTP
boundary with the real WorkerProxyClient). Also the simulated network's rules for both operations.

The whole path (public API -> push frame -> sidecar -> sim) runs in tests/e2e/test_requests.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from zapgate_core.contract.request_ops.contacts import CheckNumbersArgs
from zapgate_core.contract.sidecar_push import SidecarPush
from zapgate_sidecar.adapters.worker_proxy import WorkerProxyClient
from zapgate_sidecar.runtime.request_ops import check_numbers, request_error, run_op
from zapgate_sidecar.runtime.requests import RequestRunner
from zapgate_sidecar.settings import SidecarSettings
from zapgate_sidecar.telemetry import SidecarTelemetry
from zapgate_sidecar.transport import AnswerLost, NetworkUnreachable, NumberOnWhatsApp, Refused, TransportError
from zapgate_sim.network import InvalidRequest, NotConnected, SimNetwork, sim_lid

SECRET = "sidecar-secret-value-123"


class _Session:
    """A session that answers from a set of registered numbers and records what it was asked."""

    def __init__(self, registered: set[str] = frozenset(), fail: Exception | None = None,  # type: ignore[assignment]
                 delay_s: float = 0.0) -> None:
        self.registered = registered
        self.fail = fail
        self.delay_s = delay_s
        self.asked: list[list[str]] = []
        self.presences: list[tuple[str, str]] = []

    def check_numbers(self, numbers: list[str]) -> list[NumberOnWhatsApp]:
        self.asked.append(list(numbers))
        time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        return [NumberOnWhatsApp(n, n in self.registered, f"{n}@s.whatsapp.net" if n in self.registered else None,
                                 "100000000000001@lid" if n in self.registered else None) for n in numbers]

    def send_chat_presence(self, chat: str, state: str) -> None:
        time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        self.presences.append((chat, state))


# ------------------------------------------------------------------ operations (request_ops)
def test_check_numbers_asks_once_per_account_and_answers_in_the_order_asked() -> None:
    session = _Session(registered={"5511999990000"})
    args = CheckNumbersArgs(numbers=["+55 (11) 99999-0000", "5511988887777", "5511999990000@s.whatsapp.net"])
    result = check_numbers(session, args)  # type: ignore[arg-type]
    assert session.asked == [["5511999990000", "5511988887777"]]
    assert [(c.number, c.exists, c.jid) for c in result.numbers] == [
        ("+55 (11) 99999-0000", True, "5511999990000@s.whatsapp.net"),
        ("5511988887777", False, None),
        ("5511999990000@s.whatsapp.net", True, "5511999990000@s.whatsapp.net"),
    ]
    assert result.numbers[0].lid == "100000000000001@lid" and result.numbers[1].lid is None


def test_a_number_the_transport_does_not_answer_for_does_not_exist() -> None:
    class Silent(_Session):
        def check_numbers(self, numbers: list[str]) -> list[NumberOnWhatsApp]:
            return []  # whatsmeow skips users without a jid: matched by number, never by position

    answer = run_op(Silent(), "check_numbers", {"numbers": ["5511999990000"]})  # type: ignore[arg-type]
    assert answer == {"numbers": [{"number": "5511999990000", "exists": False, "jid": None, "lid": None}]}


@pytest.mark.parametrize("numbers", [["not a number"], ["120363000000000001@g.us"], ["123@lid"]])
def test_what_is_not_a_phone_number_is_refused_before_asking(numbers: list[str]) -> None:
    session = _Session()
    with pytest.raises(Refused) as raised:
        run_op(session, "check_numbers", {"numbers": numbers})  # type: ignore[arg-type]
    assert raised.value.kind == "bad_request" and session.asked == []


def test_chat_presence_goes_to_the_chats_jid() -> None:
    session = _Session()
    assert run_op(session, "chat_presence", {"chat": "+55 11 98888-7777", "state": "composing"}) == {"sent": True}  # type: ignore[arg-type]
    run_op(session, "chat_presence", {"chat": "120363000000000001@g.us", "state": "paused"})  # type: ignore[arg-type]
    assert session.presences == [("5511988887777@s.whatsapp.net", "composing"), ("120363000000000001@g.us", "paused")]
    with pytest.raises(Refused):
        run_op(session, "chat_presence", {"chat": "nobody", "state": "composing"})  # type: ignore[arg-type]


def test_arguments_the_contract_refuses_and_unknown_operations_are_bad_requests() -> None:
    session = _Session()
    with pytest.raises(Refused, match="invalid arguments"):
        run_op(session, "chat_presence", {"chat": "5511988887777", "state": "dancing"})  # type: ignore[arg-type]
    with pytest.raises(Refused, match="unsupported operation"):
        run_op(session, "reboot_phone", {})  # type: ignore[arg-type]


def test_each_failure_maps_to_one_error_code() -> None:
    assert request_error(NetworkUnreachable("check numbers: whatsapp unreachable: x")).code == "unreachable"
    assert request_error(TimeoutError()).code == "unreachable"
    assert request_error(Refused("no", "forbidden")).code == "forbidden"
    assert request_error(Refused("no such group", "not_found")).code == "not_found"
    assert request_error(Refused("bad")).code == "bad_request"
    assert request_error(TransportError("server returned error 500")).code == "failed"
    crashed = request_error(KeyError("secret detail"))
    assert crashed.code == "failed" and "secret" not in crashed.message  # a bug's text never leaves the sidecar
    assert len(request_error(TransportError("x" * 1000)).message) == 300


# ------------------------------------------------------------------ the runner: claim -> run -> answer
class _WorkerProxy:
    """The two worker-proxy calls, at the HTTP boundary: claim answers `claim_status`, answers are recorded."""

    def __init__(self, op: str = "check_numbers", args: dict[str, Any] | None = None, claim_status: int = 200,
                 answer_statuses: list[int] | None = None) -> None:
        self.op, self.args, self.claim_status = op, args or {"numbers": ["5511999990000"]}, claim_status
        self.answer_statuses = answer_statuses or [200]
        self.claims: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        if request.url.path == "/worker-proxy/requests/claim":
            self.claims.append(body)
            if self.claim_status != 200:
                return httpx.Response(self.claim_status, json={"detail": "not claimable"})
            return httpx.Response(200, json={"request_id": body["requestId"], "instance_id": body["instanceId"],
                                             "op": self.op, "args": self.args})
        assert request.url.path == "/worker-proxy/requests/answer"
        self.answered_at = time.monotonic()
        self.answers.append(body)
        status = self.answer_statuses[min(len(self.answers), len(self.answer_statuses)) - 1]
        return httpx.Response(status, json={"state": "failed" if body.get("error") else "done"})


def _runtime(proxy: _WorkerProxy, session: _Session | None, tmp_path: Path, connected: bool = True,
             timeout_ms: int = 8_000) -> Any:
    settings = SidecarSettings(edge_base_url="http://edge/worker-proxy", worker_secret=SECRET,
                               auth_base=tmp_path / "a", media_base=tmp_path / "m", instance_owner="sc-1",
                               request_timeout_ms=timeout_ms)
    client = WorkerProxyClient("http://edge/worker-proxy", SECRET, transport=httpx.MockTransport(proxy.handler))
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)

    runtime = SimpleNamespace(instance_id="inst-1", lock_token="tok-1", connected=connected,
                              stopping=asyncio.Event(), spawn=spawn, tasks=tasks,
                              session=SimpleNamespace(current=session),
                              deps=SimpleNamespace(settings=settings, proxy=client, telemetry=SidecarTelemetry()))
    return runtime


def _run(proxy: _WorkerProxy, session: _Session | None, tmp_path: Path, ids: tuple[str, ...] = ("req-1",),
         **options: Any) -> Any:
    async def scenario() -> Any:
        runtime = _runtime(proxy, session, tmp_path, **options)
        runner = RequestRunner(runtime)
        for request_id in ids:
            runner.take(request_id)
        await asyncio.gather(*runtime.tasks)
        await runtime.deps.proxy.close()
        return runtime

    return asyncio.run(scenario())


def test_a_claimed_request_runs_once_and_is_answered_with_its_result(tmp_path: Path) -> None:
    proxy, session = _WorkerProxy(), _Session(registered={"5511999990000"})
    _run(proxy, session, tmp_path, ids=("req-1", "req-1"))  # the frame came twice: one claim
    assert proxy.claims == [{"instanceOwner": "sc-1", "instanceId": "inst-1", "lockToken": "tok-1",
                             "requestId": "req-1"}]
    assert session.asked == [["5511999990000"]]
    [answer] = proxy.answers
    assert answer["lockToken"] == "tok-1" and answer["error"] is None
    assert answer["result"]["numbers"][0]["exists"] is True


@pytest.mark.parametrize("status", [409, 404, 500])
def test_a_refused_claim_runs_nothing_and_answers_nothing(tmp_path: Path, status: int) -> None:
    proxy, session = _WorkerProxy(claim_status=status), _Session()
    _run(proxy, session, tmp_path)
    assert len(proxy.claims) == 1 and session.asked == [] and proxy.answers == []


def test_a_claim_whose_fate_is_unknown_is_not_run(tmp_path: Path) -> None:
    session = _Session()

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("edge down", request=request)

    proxy = _WorkerProxy()
    proxy.handler = unreachable  # type: ignore[method-assign]
    _run(proxy, session, tmp_path)
    assert session.asked == []


def test_not_connected_is_answered_unreachable(tmp_path: Path) -> None:
    proxy = _WorkerProxy()
    _run(proxy, _Session(), tmp_path, connected=False)
    [answer] = proxy.answers
    assert answer["result"] is None and answer["error"]["code"] == "unreachable"


def test_a_transport_refusal_is_answered_with_its_code(tmp_path: Path) -> None:
    proxy = _WorkerProxy(op="chat_presence", args={"chat": "5511988887777", "state": "composing"})
    _run(proxy, _Session(fail=Refused("chat presence: info query returned status 403: forbidden", "forbidden")),
         tmp_path)
    assert proxy.answers[0]["error"]["code"] == "forbidden"


def test_a_call_that_outlives_the_bound_is_answered_unreachable_at_the_bound(tmp_path: Path) -> None:
    proxy, session = _WorkerProxy(), _Session(delay_s=1.0)
    started = time.monotonic()
    _run(proxy, session, tmp_path, timeout_ms=200)
    assert proxy.answered_at - started < 0.9  # the thread goes on (Go cannot be cancelled); the answer does not wait
    assert proxy.answers[0]["error"]["code"] == "unreachable"
    assert "within 0.2 s" in proxy.answers[0]["error"]["message"]


def test_the_answer_is_retried_on_server_errors_and_dropped_on_409(tmp_path: Path) -> None:
    proxy = _WorkerProxy(answer_statuses=[503, 200])
    _run(proxy, _Session(), tmp_path)
    assert len(proxy.answers) == 2
    refused = _WorkerProxy(answer_statuses=[409])
    _run(refused, _Session(), tmp_path)
    assert len(refused.answers) == 1  # the claim is no longer ours: nothing to insist on


def test_a_stopping_runtime_takes_no_request(tmp_path: Path) -> None:
    async def scenario() -> None:
        proxy = _WorkerProxy()
        runtime = _runtime(proxy, _Session(), tmp_path)
        runtime.stopping.set()
        RequestRunner(runtime).take("req-1")
        assert not runtime.tasks and proxy.claims == []
        await runtime.deps.proxy.close()

    asyncio.run(scenario())


def test_the_instance_manager_routes_a_request_frame_to_its_runtime(tmp_path: Path) -> None:
    from tests.unit.test_push_channel import _manager

    class Runtime:
        def __init__(self) -> None:
            self.requests: list[str] = []

        def request(self, request_id: str) -> None:
            self.requests.append(request_id)

    async def scenario() -> None:
        manager = _manager(tmp_path)
        runtime = Runtime()
        manager.runtimes = {"inst-1": runtime}
        manager._on_push(SidecarPush(type="request", instance_id="inst-1", request_id="req-1"))
        manager._on_push(SidecarPush(type="request", instance_id="someone-elses", request_id="req-2"))
        manager._on_push(SidecarPush(type="request", instance_id="inst-1"))  # no id: nothing to claim
        assert runtime.requests == ["req-1"]
        assert not manager._discover_now.is_set() and not manager.heartbeat.poll_now.is_set()

    asyncio.run(scenario())


# ------------------------------------------------------------------ the simulated network's rules
def _connected(network: SimNetwork, instance_id: str, phone: str) -> str:
    session_id, _ = network.connect(instance_id)
    network.scan(instance_id, phone)
    return session_id


def test_sim_a_number_exists_when_an_account_has_it() -> None:
    network = SimNetwork()
    session = _connected(network, "inst-a", "5511999990000")
    _connected(network, "inst-b", "5511977776666")  # another linked account on the network
    network.register_account("+55 11 96666-5555")  # someone outside the gateway
    answers = network.check_numbers("inst-a", session, ["5511977776666", "5511966665555", "5511900000000"])
    assert [a["exists"] for a in answers] == [True, True, False]
    assert answers[1]["jid"] == "5511966665555@s.whatsapp.net"
    assert answers[1]["lid"] == f"{sim_lid('5511966665555')}@lid" and len(sim_lid("5511966665555")) == 15
    assert answers[2]["jid"] is None and answers[2]["lid"] is None
    with pytest.raises(InvalidRequest):
        network.check_numbers("inst-a", session, ["not a number"])
    network.drop("inst-a")
    with pytest.raises(NotConnected):
        network.check_numbers("inst-a", session, ["5511977776666"])


def test_sim_chat_presence_is_recorded_as_the_other_party_sees_it() -> None:
    network = SimNetwork()
    session = _connected(network, "inst-a", "5511999990000")
    network.register_account("5511966665555")
    network.send_chat_presence("inst-a", session, "5511966665555@s.whatsapp.net", "composing")
    network.send_chat_presence("inst-a", session, "5511900000000", "recording")  # nobody there: accepted, unseen
    assert [(p["from"], p["chat"], p["state"], p["seen"]) for p in network.presences("inst-a")] == [
        ("5511999990000@s.whatsapp.net", "5511966665555@s.whatsapp.net", "composing", True),
        ("5511999990000@s.whatsapp.net", "5511900000000@s.whatsapp.net", "recording", False),
    ]
    with pytest.raises(InvalidRequest):
        network.send_chat_presence("inst-a", session, "5511966665555", "dancing")
    with pytest.raises(NotConnected):
        network.send_chat_presence("inst-a", "s-other", "5511966665555", "paused")


def test_a_change_that_outlives_the_bound_may_have_happened(tmp_path: Path) -> None:
    proxy = _WorkerProxy(op="chat_presence", args={"chat": "5511988887777", "state": "composing"})
    _run(proxy, _Session(delay_s=1.0), tmp_path, timeout_ms=200)
    assert proxy.answers[0]["error"]["code"] == "outcome_unknown"  # it may have left the device: never "try again"


def test_a_change_sent_without_an_answer_is_outcome_unknown() -> None:
    error = request_error(AnswerLost("group create: info query timed out (sent without an answer)"))
    assert error.code == "outcome_unknown" and "sent without an answer" in error.message
