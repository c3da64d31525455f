"""Waiting for the Rust core releases the GIL: other Python threads run meanwhile."""

from __future__ import annotations

import socket
import threading
from typing import Callable

import pytest

import wsconnector


def runs_meanwhile(blocking: Callable[[], object]) -> int:
    """Runs `blocking` on a thread and counts how often this thread ran Python meanwhile."""
    done = threading.Event()

    def call() -> None:
        try:
            blocking()
        finally:
            done.set()

    worker = threading.Thread(target=call)
    worker.start()
    count = 0
    while not done.is_set():
        count += 1
        done.wait(0.001)
    worker.join()
    return count


def test_a_blocking_connect_lets_other_threads_run() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # takes the connection, never answers the upgrade
    url = f"ws://127.0.0.1:{silent.getsockname()[1]}/"
    try:
        with wsconnector.Connector() as connector:

            def connect() -> None:
                with pytest.raises(wsconnector.TimeoutError):
                    connector.open_outbound(url, timeout=0.5)

            assert runs_meanwhile(connect) > 50
    finally:
        silent.close()


def test_waiting_for_events_lets_other_threads_run() -> None:
    with wsconnector.Connector(host="127.0.0.1", port=0) as connector:
        assert runs_meanwhile(lambda: connector.next_events(timeout=0.5)) > 50
