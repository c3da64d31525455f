"""The example scripts, run briefly as their users would: start, connect, exchange, stop."""

from __future__ import annotations

import json
import pathlib
import re
import signal
import subprocess
import sys
from typing import Callable, Iterator, Tuple

Started = Tuple["subprocess.Popen[str]", str]
Runner = Callable[..., Started]

import pytest
import websockets.sync.client
from conftest import WAIT

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.fixture
def run() -> Iterator[Runner]:
    """Starts an example; returns its process and the ws:// URL it printed first."""
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> Started:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"ws://\S+", first)
        assert match, f"no URL in the first line {first!r}"
        return process, match.group(0)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)


def connect(url: str) -> websockets.sync.client.ClientConnection:
    return websockets.sync.client.connect(url, proxy=None, open_timeout=WAIT)


def text(client: websockets.sync.client.ClientConnection) -> str:
    message = client.recv(timeout=WAIT)
    assert isinstance(message, str)
    return message


def stop(process: subprocess.Popen[str]) -> str:
    """Asks the example to stop as Ctrl-C would; returns the rest of its output."""
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    assert "stopped" in out and err == ""
    return out


def test_chat(run: Runner) -> None:
    process, url = run("chat.py", "127.0.0.1:0")
    with connect(url + "chat") as ann, connect(url + "chat") as bob:
        assert "lobby" in text(ann)
        assert "lobby" in text(bob)
        ann.send("hello lobby")
        assert text(ann).endswith("hello lobby")
        assert text(bob).endswith("hello lobby")
        bob.send("/join kitchen")
        assert text(bob) == "you are in room kitchen"
        bob.send("only the kitchen hears this")
        assert text(bob).endswith("only the kitchen hears this")
        ann.send("still in the lobby")
        assert text(ann).endswith("still in the lobby")
    assert "left (close code 1000)" in stop(process)


def test_quotes(run: Runner) -> None:
    process, url = run("quotes.py", "--port", "0", "--interval", "0.02")
    url = url.split("?")[0]
    with connect(url + "?symbols=ACME") as client:
        first = json.loads(text(client))
        assert first["symbol"] == "ACME" and first["price"] > 0
        client.send("subscribe GLOBX")
        client.send("unsubscribe ACME")
        symbols = set()
        for _ in range(200):  # bounded: quotes tick every 20 ms
            symbols.add(json.loads(text(client))["symbol"])
            if "GLOBX" in symbols:
                break
        assert symbols <= {"ACME", "GLOBX"} and "GLOBX" in symbols
    stop(process)
