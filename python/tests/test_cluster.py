"""Several connector processes acting as one through a real redis-server (started per test on a
free loopback port): the chat example as separate OS processes, one of them killed with
SIGKILL during traffic, and the cluster's Python API (settings, results, operations by ID)."""

from __future__ import annotations

import contextlib
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator, List

import pytest
import websockets.sync.client
from conftest import WAIT

import wsconnector

CHAT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "chat.py"

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="no redis-server (make test installs it)",
)


@pytest.fixture
def redis() -> Iterator[str]:
    """A redis-server of this test's own; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            for line in server.stdout:
                if "Ready to accept connections" in line:
                    break
            else:
                pytest.fail("redis-server did not start")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.kill()
            server.wait(WAIT)


@pytest.fixture
def nodes(redis: str) -> Iterator[List["subprocess.Popen[str]"]]:
    """Three chat servers, each its own process, nodes of one cluster; their URLs follow."""
    started: List[subprocess.Popen[str]] = []
    for _ in range(3):
        process = subprocess.Popen(
            [sys.executable, str(CHAT), "127.0.0.1:0", redis],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)


def url_of(process: "subprocess.Popen[str]") -> str:
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"ws://\S+", first)
    assert match, f"no URL in the first line {first!r}"
    return match.group(0) + "chat"


def text(client: websockets.sync.client.ClientConnection) -> str:
    message = client.recv(timeout=WAIT)
    assert isinstance(message, str)
    return message


def test_a_killed_node_loses_only_its_sockets(redis: str, nodes: List["subprocess.Popen[str]"]) -> None:
    urls = [url_of(process) for process in nodes]
    observer = wsconnector.Connector(cluster=redis, cluster_node_expiry=1.0)
    observer.start()
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(websockets.sync.client.connect(url, proxy=None, open_timeout=WAIT))
            for url in urls
        ]
        stack.callback(observer.stop)
        for client in clients:
            assert text(client).startswith("welcome to the lobby")
        assert observer.cluster_socket_count(groups="room:lobby") == 3
        before = {s.socket_id for s in observer.cluster_sockets()}
        ann, bob, cid = clients
        ann.send("before")
        for client in clients:
            assert text(client).endswith("] before")

        # Traffic from ann; the node that holds cid dies in the middle of it.
        sent = [f"m{i}" for i in range(20)]
        for i, line in enumerate(sent):
            if i == 5:
                nodes[2].send_signal(signal.SIGKILL)
            ann.send(line)
        for client in (ann, bob):
            got = [text(client).split("] ", 1)[1] for _ in sent]
            assert got == sent, "every message once, in order, despite the dead node"

        # The dead node's socket stops resolving within the bound; the others stay.
        deadline = time.monotonic() + 1.0 + WAIT
        while observer.cluster_socket_count() != 2:
            assert time.monotonic() < deadline, "the dead node's sockets are still counted"
            time.sleep(0.05)
        (gone,) = before - {s.socket_id for s in observer.cluster_sockets()}
        with pytest.raises(wsconnector.NoSuchSocketError):
            observer.cluster_socket(gone)
        ann.send("after")
        assert text(bob).endswith("] after")


def test_cluster_settings_results_and_operations_by_id(redis: str) -> None:
    a = wsconnector.Connector(host="127.0.0.1", port=0, cluster=redis, cluster_name="py",
                              node_name="a", cluster_timeout=2.0)
    b = wsconnector.Connector(host="127.0.0.1", port=0, cluster=redis, cluster_name="py",
                              node_name="b")
    with a, b:
        assert (a.node_name, b.node_name) == ("a", "b")
        with websockets.sync.client.connect(f"ws://127.0.0.1:{b.port}/x", proxy=None,
                                            open_timeout=WAIT) as client:
            (there,) = b.sockets()
            a.subscribe(there.id, "g")
            found = a.cluster_socket(there.id)
            assert (found.node, found.path, found.groups) == ("b", "/x", ["g"])
            result = a.broadcast("hi", groups="g")
            assert (result.delivered, result.nodes_answered, result.complete) == (1, 2, True)
            assert result.remote_failures == [] and result.remote_failures_omitted == 0
            assert text(client) == "hi"
            assert a.broadcast("all but", except_socket_ids=[there.id]).delivered == 0
            fired = a.broadcast("fire", wait=False)
            assert (fired.nodes_answered, fired.complete) == (1, False)
            assert text(client) == "fire"
            assert a.send(there.id, "by id") is True
            assert text(client) == "by id"
            a.close(there.id, 4000, "bye")
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                client.recv(timeout=WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_cluster_settings_are_checked_by_name() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="cluster_name is a cluster setting"):
        wsconnector.Connector(cluster_name="x")
    with pytest.raises(wsconnector.InvalidArgumentError, match="cluster URL"):
        wsconnector.Connector(cluster="http://127.0.0.1/")
    with pytest.raises(wsconnector.InvalidArgumentError, match="node_name"):
        wsconnector.Connector(cluster="redis://127.0.0.1:1/0", node_name="a b")
