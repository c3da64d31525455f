"""The examples, run as their users would (start, connect, exchange, stop), each in Rust, C and
Python speaking the one protocol of its use case (README, "Examples"): the same scenario for
every language. The Rust and C programs are the debug builds `make test-python` makes
(`cargo build --examples`, `make examples-c`); without them their cases are skipped, unless
WSC_REQUIRE_EXAMPLES is set (as `make test-python` does)."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
from typing import Callable, Iterator, List, Tuple, Union

import pytest
import websockets.sync.client
from conftest import WAIT

ROOT = pathlib.Path(__file__).resolve().parents[2]
LANGUAGES = ["python", "c", "rust"]
QUOTE = re.compile(r"^(ACME|GLOBEX|INITECH) \d+\.\d\d$")
COMMANDS = "send /sub SYMBOL or /unsub SYMBOL (symbols: ACME GLOBEX INITECH)"


def command_of(example: str, language: str) -> List[str]:
    """The command that runs an example ("chat" or "quotes") in a language."""
    program = {
        "python": ROOT / "examples" / "python" / f"{example}.py",
        "c": ROOT / "target" / "c" / f"example-{example}",
        "rust": ROOT / "target" / "debug" / "examples" / example,
    }[language]
    if not program.exists():
        if os.environ.get("WSC_REQUIRE_EXAMPLES"):
            pytest.fail(f"{program} is missing: make examples-c, cargo build --examples")
        pytest.skip(f"{program} is not built (make examples-c, cargo build --examples)")
    return [sys.executable, str(program)] if language == "python" else [str(program)]


class Example:
    """An example running in its own process, with the ws:// URL its first line prints and the
    lines that say what to type (its greeting, up to "Ctrl-C stops")."""

    def __init__(self, command: List[str], address: str) -> None:
        self.process = subprocess.Popen(
            [*command, address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.greeting = [self.process.stdout.readline()]
        match = re.search(r"ws://\S+", self.greeting[0])
        assert match, f"no URL in the first line {self.greeting[0]!r}: {self.stop_output()}"
        while "Ctrl-C stops" not in self.greeting[-1] and len(self.greeting) < 10:
            self.greeting.append(self.process.stdout.readline())
        self.url = match.group(0)
        self.port = int(re.search(r":(\d+)/", self.url).group(1))  # type: ignore[union-attr]

    def stop(self) -> str:
        """Stops it as `kill` would (SIGTERM); returns what it printed after its greeting."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=WAIT)
        assert self.process.returncode == 0, err
        assert out.rstrip().endswith("stopped"), out + err
        return out

    def stop_output(self) -> str:
        self.kill()
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


Start = Callable[[List[str]], Example]


@pytest.fixture
def start() -> Iterator[Start]:
    started: List[Example] = []

    def run(command: List[str]) -> Example:
        started.append(Example(command, "127.0.0.1:0"))
        return started[-1]

    yield run
    for example in started:
        example.kill()


def connect(url: str) -> websockets.sync.client.ClientConnection:
    return websockets.sync.client.connect(url, proxy=None, open_timeout=WAIT)


def text(client: websockets.sync.client.ClientConnection) -> str:
    message = client.recv(timeout=WAIT)
    assert isinstance(message, str)
    return message


def refuses_a_busy_port(command: List[str], port: int) -> None:
    """A second instance on the same port says so in one line and exits with status 1."""
    done = subprocess.run(
        [*command, f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], done.stderr
    assert "in use" in lines[0], done.stderr


@pytest.mark.parametrize("target, hint", [
    ("demo", "PORT=9000 picks another port"),
    ("demo-quotes", "PORT=9000 picks another port"),
    ("demo-cluster", "PORT=9000 picks 9000 and 9001"),
])
def test_make_demo_on_a_taken_port_says_so_in_one_line(target: str, hint: str) -> None:
    """`make demo PORT=N` on a taken port: one line naming it, a failing status, and no build
    first (the port is checked before it)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outer_make = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")  # as from a terminal
        env = {k: v for k, v in os.environ.items() if k not in outer_make}
        done = subprocess.run(["make", target, f"PORT={port}"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=WAIT)
    assert done.returncode != 0, done
    assert done.stdout == "", done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; {hint}" in lines[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_chat(start: Start, language: str) -> None:
    command = command_of("chat", language)
    chat = start(command)
    assert chat.url.endswith("/chat")
    with connect(chat.url + "?name=ann") as ann, connect(chat.url) as bob:
        for client in (ann, bob):
            assert text(client) == "welcome to the lobby; send /join ROOM to change rooms"
        ann.send("hello lobby")
        assert text(ann) == "[ann] hello lobby"
        assert text(bob) == "[ann] hello lobby"
        for wrong, answer in [
            ("/join ", "a room needs a name: /join ROOM"),
            ("/join", "a room needs a name: /join ROOM"),
            ("/leave now", "unknown command /leave; send /join ROOM, or text for your room"),
            (b"\x01", "text only, please"),
        ]:
            bob.send(wrong)
            assert text(bob) == answer
        bob.send("/join kitchen")
        assert text(bob) == "you are in room kitchen"
        ann.send("only the lobby hears this")
        assert text(ann) == "[ann] only the lobby hears this"
        bob.send("only the kitchen hears this")
        assert re.fullmatch(r"\[[0-9a-f-]{8}\] only the kitchen hears this", text(bob))
        ann.send("ann again")
        assert text(ann) == "[ann] ann again"  # bob's kitchen line never reached ann
    refuses_a_busy_port(command, chat.port)
    greeting = "".join(chat.greeting)
    assert f"python3 -m websockets '{chat.url}?name=ann'" in greeting and "/join ROOM" in greeting
    assert "left (close code 1000)" in chat.stop()


def answer(client: websockets.sync.client.ClientConnection, quotes: List[str]) -> str:
    """The next message that is not a quote; the quotes before it go to `quotes`."""
    for _ in range(100):  # bounded: five quotes a second
        message = text(client)
        if not QUOTE.match(message):
            return message
        quotes.append(message)
    raise AssertionError(f"no answer among {quotes[-5:]}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_quotes(start: Start, language: str) -> None:
    command = command_of("quotes", language)
    feed = start(command)
    with connect(feed.url) as client:
        quotes: List[str] = []
        exchanges: List[Tuple[Union[str, bytes], str]] = [
            ("hello", f"unknown command; {COMMANDS}"),
            ("/sub XYZ", "unknown symbol XYZ; symbols: ACME GLOBEX INITECH"),
            (b"\x01", f"text only, please; {COMMANDS}"),
            ("/sub acme", "following ACME"),
        ]
        for said, expected in exchanges:
            client.send(said)
            assert answer(client, quotes) == expected
        assert quotes == [], "no quote before a subscription"
        while len(quotes) < 2:
            quotes.append(text(client))
        assert all(q.startswith("ACME ") and QUOTE.match(q) for q in quotes), quotes
        client.send("/sub GLOBEX")
        assert answer(client, quotes) == "following GLOBEX"
        client.send("/unsub ACME")
        assert answer(client, quotes) == "no longer following ACME"
        after = [text(client) for _ in range(2)]
        assert all(q.startswith("GLOBEX ") and QUOTE.match(q) for q in after), after
    refuses_a_busy_port(command, feed.port)
    greeting = "".join(feed.greeting)
    assert f"python3 -m websockets {feed.url}" in greeting and "/sub ACME" in greeting
    feed.stop()
