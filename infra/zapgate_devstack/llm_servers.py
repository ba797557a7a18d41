"""A local chat model that speaks the providers' wire formats, for tests and `make run` (issue 11).

One FastAPI app answers both formats the automations use, so the real clients run unchanged against it:

- OpenAI Chat Completions: `POST /v1/chat/completions` (the `openai` client with base_url=<url>/v1);
- Bedrock Converse: `POST /model/{modelId}/converse` (boto3 `bedrock-runtime` with endpoint_url=<url>).

What it answers is scripted: a queue of ScriptedAnswer (text, tool calls, an HTTP error, a delay, a broken
body), taken one per request in arrival order, whichever format asked; with the queue empty it echoes the
last user text, so `make run` has a model that always answers. Every request is recorded (format, path,
headers, JSON body), so a test can assert what reached the model, e.g. that a tool's result went back in
the provider's format. Over HTTP too: `POST /_local/script` appends answers (a JSON list of ScriptedAnswer
fields), `GET /_local/requests` lists what arrived.

    python -m zapgate_devstack.llm_servers --port 8010
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

Api = Literal["openai", "bedrock"]


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None  # generated when None


@dataclass(frozen=True)
class ScriptedAnswer:
    text: str | None = None
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    status: int = 200  # not 200: an error in the format's own shape
    error_code: str | None = None  # OpenAI's error.code, or Bedrock's exception name (x-amzn-ErrorType)
    error_message: str | None = None  # e.g. OpenAI's 401 quotes part of the key: tests check we never repeat it
    delay_s: float = 0.0  # before answering (a slow model, a client timeout)
    input_tokens: int = 11
    output_tokens: int = 7
    raw_body: str | None = None  # sent verbatim with status 200: an answer that breaks the format

    @staticmethod
    def from_json(data: dict[str, Any]) -> ScriptedAnswer:
        calls = tuple(ScriptedToolCall(**call) for call in data.get("tool_calls", ()))
        return ScriptedAnswer(**{**data, "tool_calls": calls})


def reply(text: str, **fields: Any) -> ScriptedAnswer:
    return ScriptedAnswer(text=text, **fields)


def tool_call(name: str, arguments: dict[str, Any], *, text: str | None = None, call_id: str | None = None,
              **fields: Any) -> ScriptedAnswer:  # fmt: skip
    return ScriptedAnswer(text=text, tool_calls=(ScriptedToolCall(name, arguments, call_id),), **fields)


def failure(status: int, error_code: str | None = None, **fields: Any) -> ScriptedAnswer:
    return ScriptedAnswer(status=status, error_code=error_code, **fields)


@dataclass(frozen=True)
class ReceivedRequest:
    api: Api
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)


class LocalModel:
    """The script and the record, shared by both formats' routes; thread-safe (tests append from their
    thread while uvicorn serves in another)."""

    def __init__(self, *answers: ScriptedAnswer) -> None:
        self._answers: deque[ScriptedAnswer] = deque(answers)
        self._requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.app = self._build_app()

    def then(self, *answers: ScriptedAnswer) -> LocalModel:
        with self._lock:
            self._answers.extend(answers)
        return self

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._answers)

    def _take(self, received: ReceivedRequest, last_user_text: str | None) -> ScriptedAnswer:
        with self._lock:
            self._requests.append(received)
            if self._answers:
                return self._answers.popleft()
        return reply(f"(local model) {last_user_text or 'hello'}")

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="zapgate local chat model", docs_url=None, redoc_url=None, openapi_url=None)

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            body = await request.json()
            answer = self._take(_received("openai", request, body), _last_openai_user_text(body))
            return await self._answer_openai(answer, body)

        @app.post("/model/{model_id:path}/converse")
        async def converse(model_id: str, request: Request) -> Response:
            body = await request.json()
            answer = self._take(_received("bedrock", request, body), _last_bedrock_user_text(body))
            return await self._answer_bedrock(answer)

        @app.post("/_local/script")
        async def script(request: Request) -> Response:
            try:
                answers = [ScriptedAnswer.from_json(item) for item in await request.json()]
            except (TypeError, ValueError) as error:  # not a list of objects with ScriptedAnswer's fields
                return JSONResponse({"error": str(error)}, status_code=400)
            self.then(*answers)
            return JSONResponse({"pending": self.pending})

        @app.get("/_local/requests")
        async def received() -> Response:
            return JSONResponse([asdict(item) for item in self.requests])

        return app

    async def _answer_openai(self, answer: ScriptedAnswer, body: Any) -> Response:
        await asyncio.sleep(answer.delay_s)
        if answer.raw_body is not None:
            return Response(answer.raw_body, media_type="application/json")
        if answer.status != 200:
            error = {"message": answer.error_message or f"scripted error {answer.status}", "type": "scripted_error",
                     "code": answer.error_code, "param": None}  # fmt: skip
            return JSONResponse({"error": error}, status_code=answer.status)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": call.id or self._next_id("call_"), "type": "function",
                 "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
                for call in answer.tool_calls
            ]  # fmt: skip
        return JSONResponse({
            "id": self._next_id("chatcmpl-local-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local") if isinstance(body, dict) else "local",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
            "usage": {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens,
                      "total_tokens": answer.input_tokens + answer.output_tokens},
        })  # fmt: skip

    async def _answer_bedrock(self, answer: ScriptedAnswer) -> Response:
        started = time.perf_counter()
        await asyncio.sleep(answer.delay_s)
        if answer.raw_body is not None:
            return Response(answer.raw_body, media_type="application/json")
        if answer.status != 200:
            # As AWS answers: the exception's name in x-amzn-ErrorType, a message in the body.
            code = answer.error_code or _bedrock_code(answer.status)
            headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
            message = answer.error_message or f"scripted error {answer.status}"
            return JSONResponse({"message": message}, status_code=answer.status,
                                headers=headers)
        content: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
        content += [
            {"toolUse": {"toolUseId": call.id or self._next_id("tooluse_"), "name": call.name, "input": call.arguments}}
            for call in answer.tool_calls
        ]
        return JSONResponse({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": "tool_use" if answer.tool_calls else "end_turn",
            "usage": {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens,
                      "totalTokens": answer.input_tokens + answer.output_tokens},
            "metrics": {"latencyMs": int((time.perf_counter() - started) * 1000)},
        })  # fmt: skip


def _received(api: Api, request: Request, body: Any) -> ReceivedRequest:
    return ReceivedRequest(api=api, path=request.url.path, headers=dict(request.headers), body=body)


def _bedrock_code(status: int) -> str:
    return {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
            408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
            503: "ServiceUnavailableException"}.get(status, "InternalServerException")  # fmt: skip


def _last_openai_user_text(body: Any) -> str | None:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    texts = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return next((text for text in reversed(texts) if isinstance(text, str)), None)


def _last_bedrock_user_text(body: Any) -> str | None:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            for block in message.get("content", []):
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    return str(block["text"])
    return None


class ServedModel:
    """A LocalModel served by uvicorn in a daemon thread on a loopback port (0: a free one)."""

    def __init__(self, model: LocalModel | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.model = model or LocalModel()
        self.host = host
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))  # bound here, so the port is known before the thread starts
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(self.model.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)  # fmt: skip
        self.server = uvicorn.Server(config)  # off the main thread, uvicorn leaves signal handlers alone
        self._thread = threading.Thread(target=lambda: self.server.run(sockets=[self._sock]), daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self, timeout_s: float = 10) -> ServedModel:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("local model server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> ServedModel:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    model = LocalModel()
    print(f"local chat model on http://{args.host}:{args.port} (OpenAI base_url .../v1, Bedrock endpoint_url .../)",
          flush=True)  # fmt: skip
    uvicorn.run(model.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
