"""The authorization hook: what it sees, and each way of answering it."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import pytest
import websockets.exceptions
from conftest import WAIT, Recorder, connect

import wsconnector


def refusal(connector: wsconnector.Connector, path: str = "/") -> tuple[int, bytes]:
    """Connects and returns the HTTP status and body of the refusal."""
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        connect(connector, path)
    response = refused.value.response
    return response.status_code, bytes(response.body or b"")


def guarded(hook: Callable[[wsconnector.AuthRequest], Any]) -> tuple[wsconnector.Connector, Recorder]:
    connector = wsconnector.Connector(host="127.0.0.1", port=0, authorize=hook)
    recorder = Recorder()
    recorder.register(connector)
    return connector, recorder


def test_the_hook_sees_the_request_and_accepts_into_groups() -> None:
    requests: list[wsconnector.AuthRequest] = []

    def hook(request: wsconnector.AuthRequest) -> list[str]:
        requests.append(request)
        return ["user:" + (request.query_param("user") or "?")]

    connector, recorder = guarded(hook)
    with connector:
        with connect(
            connector,
            "/chat?user=ann",
            additional_headers={"Authorization": "Bearer t"},
            subprotocols=["a", "b"],
        ):
            socket = recorder.next("connection")[1]
            assert socket.groups == ["user:ann"]
    request = requests[0]
    assert request.path == "/chat"
    assert request.uri.endswith("/chat?user=ann")
    assert request.header("authorization") == "Bearer t"
    assert ("user", "ann") in request.query
    assert request.subprotocols == ["a", "b"]
    assert request.remote_address[0] == "127.0.0.1"
    assert any(name.lower() == "authorization" for name, _ in request.headers)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (False, 403),
        (wsconnector.Reject(401, "who are you?"), 401),
        (wsconnector.Reject(), 403),
    ],
)
def test_refusals_answer_with_their_status(answer: object, status: int) -> None:
    connector, recorder = guarded(lambda request: answer)
    with connector:
        got, body = refusal(connector)
        assert got == status
        if status == 401:
            assert b"who are you?" in body
        assert connector.sockets() == []


def test_true_accepts() -> None:
    connector, recorder = guarded(lambda request: True)
    with connector, connect(connector):
        assert recorder.next("connection")[1].groups == []


def test_a_hook_that_raises_or_answers_nonsense_refuses_with_500_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def hook(request: wsconnector.AuthRequest) -> object:
        if request.path == "/raise":
            raise RuntimeError("hook failed")
        return "not an answer"

    connector, _ = guarded(hook)
    with caplog.at_level(logging.ERROR, logger="wsconnector"), connector:
        assert refusal(connector, "/raise")[0] == 500
        assert refusal(connector, "/nonsense")[0] == 500
    messages = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any("hook failed" in m for m in messages)
    assert any("not an answer" in m for m in messages)


def test_reject_checks_its_status() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError):
        wsconnector.Reject(200, "ok?")
    assert (wsconnector.Reject(451, "legal").status, wsconnector.Reject(451, "legal").reason) == (
        451,
        "legal",
    )


def test_the_hook_may_be_a_decorator_and_runs_off_the_dispatcher() -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    threads: dict[str, str] = {}
    connected = threading.Event()

    @connector.authorize
    def hook(request: wsconnector.AuthRequest) -> bool:
        threads["hook"] = threading.current_thread().name
        return True

    @connector.on_inbound_connection
    def connection(socket: wsconnector.Socket) -> None:
        threads["trigger"] = threading.current_thread().name
        connected.set()

    with connector, connect(connector):
        assert connected.wait(WAIT)
    assert callable(hook) and threads["hook"] != threads["trigger"]
