"""The library's own log records reach the `logging` module under `wsconnector`."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Iterator

import pytest
import websockets.exceptions
from conftest import WAIT, connect

import wsconnector


class Waiter(logging.Handler):
    """A handler that lets a test wait for a record whose message contains some text."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.records: list[logging.LogRecord] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.records.append(record)
            self.seen.set()


@pytest.fixture
def library_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("wsconnector")
    level = logger.level
    yield logger
    logger.setLevel(level)


def test_core_errors_are_logged_under_wsconnector(library_logger: logging.Logger) -> None:
    waiter = Waiter("invalid group")
    library_logger.addHandler(waiter)
    try:
        connector = wsconnector.Connector(host="127.0.0.1", port=0, authorize=lambda r: [""])
        with connector:
            with pytest.raises(websockets.exceptions.InvalidStatus):
                connect(connector)
            assert waiter.seen.wait(WAIT)
    finally:
        library_logger.removeHandler(waiter)
    record = waiter.records[0]
    assert record.name == "wsconnector.inbound"
    assert record.levelno == logging.ERROR


def test_the_logger_level_at_start_sets_the_verbosity(library_logger: logging.Logger) -> None:
    waiter = Waiter("inbound handshake timed out")
    library_logger.addHandler(waiter)
    library_logger.setLevel(logging.DEBUG)
    try:
        connector = wsconnector.Connector(host="127.0.0.1", port=0, handshake_timeout=0.2)
        with connector:
            with socket.create_connection(("127.0.0.1", connector.port), timeout=WAIT) as raw:
                raw.recv(1024)  # says nothing; the connector gives up and hangs up
            assert waiter.seen.wait(WAIT)
    finally:
        library_logger.removeHandler(waiter)
    assert waiter.records[0].levelno == logging.DEBUG


def raise_in_handler(socket: wsconnector.Socket, message: object) -> None:
    raise ValueError("my handler bug")


def test_a_callback_exception_is_logged_with_its_traceback(library_logger: logging.Logger) -> None:
    """On every supported Python (before 3.12 the exception object alone carries no traceback)."""
    waiter = Waiter("the on_inbound_message callback raised")
    library_logger.addHandler(waiter)
    try:
        connector = wsconnector.Connector(host="127.0.0.1", port=0, on_inbound_message=raise_in_handler)
        with connector, connect(connector) as client:
            client.send("boom")
            assert waiter.seen.wait(WAIT)
    finally:
        library_logger.removeHandler(waiter)
    record = waiter.records[0]
    assert record.levelno == logging.ERROR
    text = logging.Formatter().format(record)
    assert "Traceback (most recent call last)" in text, text
    assert f'"{__file__}", line' in text and "in raise_in_handler" in text, text
    assert "ValueError: my handler bug" in text, text
