"""Start and stop: stopping with open sockets, the context manager, garbage collection, and
interpreter exit with a connector still running."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from typing import Any, Callable

import pytest
from conftest import WAIT, Peer, Recorder, connect

import wsconnector


def test_stop_with_open_sockets_closes_them_all_and_reports_each(peer: Peer) -> None:
    recorder = Recorder()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    recorder.register(connector)
    connector.start()
    clients = [connect(connector, f"/c/{i}").__enter__() for i in range(3)]
    inbound = {recorder.next("connection")[1].id for _ in clients}
    outbound = connector.open_outbound(peer.url())

    connector.stop()  # returns once every closed event has been delivered
    closed = {}
    while not recorder.queue.empty():
        event = recorder.queue.get_nowait()
        if event[0] == "closed":
            closed[event[1].id] = event[2]
    assert closed == {**{i: 1001 for i in inbound}, outbound: 1001}
    for ws in clients:
        with pytest.raises(Exception):
            ws.recv(timeout=WAIT)
        assert ws.close_code == 1001
    assert peer.close_codes.get(timeout=WAIT) == 1001
    assert not connector.is_running


def test_context_manager_starts_and_stops() -> None:
    with wsconnector.Connector(host="127.0.0.1", port=0) as connector:
        assert connector.is_running and connector.local_address == ("127.0.0.1", connector.port)
        assert "listening" in repr(connector)
    assert not connector.is_running and connector.port is not None
    assert repr(connector) == "<Connector stopped>"


def test_a_connector_nobody_refers_to_is_stopped() -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    connector.start()
    with connect(connector) as ws:
        ref = weakref.ref(connector)
        del connector
        gc.collect()
        assert ref() is None
        with pytest.raises(Exception):
            ws.recv(timeout=WAIT)
        assert ws.close_code == 1001


def test_callbacks_that_refer_to_their_connector_do_not_leak_it() -> None:
    def make_callback(owner: wsconnector.Connector) -> Callable[[Any, int, str], object]:
        return lambda socket, code, reason: owner.broadcast("bye")

    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    connector.on_socket_closed(make_callback(connector))  # a reference cycle
    ref = weakref.ref(connector)
    del connector
    gc.collect()
    assert ref() is None


def test_interpreter_exit_with_a_running_connector_is_clean() -> None:
    script = (
        "import wsconnector\n"
        "c = wsconnector.Connector(host='127.0.0.1', port=0, on_inbound_message=print)\n"
        "c.start()\n"
        "print('started', c.port)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("started") and done.stderr == ""
