"""serve_forever: `Connector` and `AsyncConnector` serve until stop() or SIGINT/SIGTERM, then stop
cleanly, every closed event delivered; the signal handlers they install are put back."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.exceptions
import websockets.sync.client
from conftest import WAIT, Recorder, connect

import wsconnector

ANNOUNCE = """
import signal, threading, time

def announce(port):
    # "serving" once serve_forever has put its signal handlers in place (bounded wait).
    deadline = time.monotonic() + 10
    while (signal.getsignal(signal.SIGINT) is signal.default_int_handler
           or signal.getsignal(signal.SIGTERM) is signal.SIG_DFL) and time.monotonic() < deadline:
        time.sleep(0.005)
    print("serving", port, flush=True)
"""

SYNC_SERVER = ANNOUNCE + """
import wsconnector

server = wsconnector.Connector(host="127.0.0.1", port=0)

@server.on_socket_closed
def closed(socket, code, reason):
    print("closed", code, flush=True)

server.start()
threading.Thread(target=announce, args=(server.port,)).start()
server.serve_forever()
print("served", flush=True)
"""

ASYNC_SERVER = ANNOUNCE + """
import asyncio
import wsconnector

async def main():
    server = wsconnector.AsyncConnector(host="127.0.0.1", port=0)

    @server.on_socket_closed
    async def closed(socket, code, reason):
        await asyncio.sleep(0)
        print("closed", code, flush=True)

    await server.start()
    threading.Thread(target=announce, args=(server.port,)).start()
    await server.serve_forever()
    print("served", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("script", [SYNC_SERVER, ASYNC_SERVER], ids=["Connector", "AsyncConnector"])
def test_a_signal_stops_the_server_cleanly(script: str, sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("serving"), first + process.stderr.read()  # type: ignore[union-attr]
        url = f"ws://127.0.0.1:{first.split()[1]}/"
        with websockets.sync.client.connect(url, proxy=None, open_timeout=WAIT) as client:
            process.send_signal(sig)
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                client.recv(timeout=WAIT)
            assert client.close_code == 1001
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    assert process.returncode == 0, err
    assert out.splitlines() == ["closed 1001", "served"] and err == ""


def handlers() -> dict[int, Any]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def test_stop_from_another_thread_ends_serve_forever(recorder: Recorder) -> None:
    before = handlers()
    server = wsconnector.Connector(host="127.0.0.1", port=0)
    recorder.register(server)
    server.start()
    during: dict[int, Any] = {}

    def client_then_stop() -> None:
        with connect(server):
            recorder.next("connection")
            during.update(handlers())
            server.stop()

    stopper = threading.Thread(target=client_then_stop)
    stopper.start()
    server.serve_forever()  # on the main thread: with signal handlers of its own
    stopper.join(WAIT)
    assert not server.is_running
    assert recorder.next("closed")[2] == 1001
    assert all(during[sig] is not before[sig] for sig in before)
    assert handlers() == before


def test_serve_forever_off_the_main_thread_installs_no_signal_handler() -> None:
    before = handlers()
    server = wsconnector.Connector(host="127.0.0.1", port=0)
    server.start()
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    with connect(server):
        assert handlers() == before
        server.stop()
    serving.join(WAIT)
    assert not serving.is_alive() and not server.is_running
    assert handlers() == before


def test_serve_forever_from_a_trigger_is_an_error(recorder: Recorder) -> None:
    server = wsconnector.Connector(host="127.0.0.1", port=0)
    raised: list[BaseException] = []

    @server.on_inbound_connection
    def serve_from_inside(socket: wsconnector.Socket) -> None:
        try:
            server.serve_forever()
        except wsconnector.InvalidStateError as error:
            raised.append(error)
        socket.close(4000, "done")

    with server, connect(server) as client:
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            client.recv(timeout=WAIT)
    assert len(raised) == 1 and "trigger" in str(raised[0])


def test_async_serve_forever_ends_with_a_stop_from_a_handler() -> None:
    async def main() -> None:
        server = wsconnector.AsyncConnector(host="127.0.0.1", port=0)
        closed: list[int] = []

        @server.on_inbound_message
        async def on_message(socket: wsconnector.Socket, message: str | bytes) -> None:
            if message == "stop":
                await server.stop()  # from a handler: does not wait for the handlers

        @server.on_socket_closed
        def on_closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
            closed.append(code)

        await server.start()
        serving = asyncio.ensure_future(server.serve_forever())
        url = f"ws://127.0.0.1:{server.port}/"
        async with websockets.asyncio.client.connect(url, proxy=None) as client:
            await client.send("stop")
            await asyncio.wait_for(serving, WAIT)
        assert closed == [1001] and not server.is_running
        await asyncio.wait_for(server.wait_closed(), WAIT)  # stopped: returns at once

    asyncio.run(main())
