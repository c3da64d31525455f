"""Loads the shared library with no compiler at all, through Python's ctypes (stdlib only):
starts a connector, connects an independent client (a WebSocket handshake and a masked frame
written by hand on a raw socket), receives its message through a C callback, answers from
inside the callback, and frees the connector.

Usage: python3 tests/ffi/test_ctypes.py target/debug/libwsconnector.so.1
"""

import base64
import ctypes
import hashlib
import os
import socket
import struct
import sys
import threading

WAIT = 10.0  # upper bound of every wait; nothing sleeps to let things settle
WSC_OK = 0
WSC_TEXT = 1


class WscStr(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    def text(self):
        return ctypes.string_at(self.data, self.len).decode() if self.data else None


class WscBytes(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t)]


MESSAGE_FN = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, WscBytes
)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path)
    p, u32, u16, size = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint16, ctypes.c_size_t
    signatures = {
        "wsc_version": ([], ctypes.c_char_p),
        "wsc_abi_version": ([], u32),
        "wsc_result_name": ([u32], ctypes.c_char_p),
        "wsc_last_error": ([ctypes.c_char_p, size, ctypes.POINTER(size)], u32),
        "wsc_config_new": ([ctypes.POINTER(p)], u32),
        "wsc_config_set_listener": ([p, ctypes.c_char_p, u16], u32),
        "wsc_config_on_inbound_message": ([p, MESSAGE_FN, p, FREE_FN], u32),
        "wsc_connector_start": ([p, ctypes.POINTER(p)], u32),
        "wsc_connector_local_port": ([p, ctypes.POINTER(u16)], u32),
        "wsc_connector_send": ([p, ctypes.c_char_p, u32, ctypes.c_char_p, size, p, p], u32),
        "wsc_connector_free": ([p], u32),
        "wsc_socket_id": ([p, ctypes.POINTER(WscStr)], u32),
        "wsc_socket_path": ([p, ctypes.POINTER(WscStr)], u32),
        "wsc_socket_send": ([p, u32, p, size, p, p], u32),
    }
    for name, (args, result) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, result
    return lib


def check(lib, result):
    if result != WSC_OK:
        buf = ctypes.create_string_buffer(512)
        n = ctypes.c_size_t()
        lib.wsc_last_error(buf, len(buf), ctypes.byref(n))
        raise AssertionError(f"{lib.wsc_result_name(result).decode()}: {buf.value.decode()}")


def handshake(port, path):
    """Opens a raw WebSocket: the upgrade request and the check of the server's accept key."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while not answer.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, "the server closed during the handshake"
        answer += byte
    assert answer.startswith(b"HTTP/1.1 101"), answer
    accept = base64.b64encode(
        hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    )
    assert accept in answer, answer
    return sock


def send_masked_text(sock, text):
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def recv_text(sock):
    while True:
        head = recv_exact(sock, 2)
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", recv_exact(sock, 2))
        payload = recv_exact(sock, length)
        if head[0] & 0x0F == 1:
            return payload.decode()


def main():
    lib = load(sys.argv[1])
    print("wsconnector", lib.wsc_version().decode(), "ABI", lib.wsc_abi_version())
    received = []
    arrived = threading.Event()
    freed = []

    @MESSAGE_FN
    def on_message(userdata, conn, sock_view, kind, payload):
        text = ctypes.string_at(payload.data, payload.len).decode()
        socket_id, path = WscStr(), WscStr()
        check(lib, lib.wsc_socket_id(sock_view, ctypes.byref(socket_id)))
        check(lib, lib.wsc_socket_path(sock_view, ctypes.byref(path)))
        received.append((kind, text, path.text()))
        reply = f"got {text}".encode()
        check(lib, lib.wsc_connector_send(
            conn, socket_id.text().encode(), WSC_TEXT, reply, len(reply), None, None))
        # The handed payload straight back on the handed socket.
        check(lib, lib.wsc_socket_send(sock_view, kind, payload.data, payload.len, None, None))
        arrived.set()

    @FREE_FN
    def on_free(userdata):
        freed.append(userdata)

    config = ctypes.c_void_p()
    check(lib, lib.wsc_config_new(ctypes.byref(config)))
    check(lib, lib.wsc_config_set_listener(config, b"127.0.0.1", 0))
    check(lib, lib.wsc_config_on_inbound_message(config, on_message, None, on_free))
    conn = ctypes.c_void_p()
    check(lib, lib.wsc_connector_start(config, ctypes.byref(conn)))
    port = ctypes.c_uint16()
    check(lib, lib.wsc_connector_local_port(conn, ctypes.byref(port)))

    client = handshake(port.value, "/ctypes")
    send_masked_text(client, "hello from ctypes")
    assert arrived.wait(WAIT), "no message reached the callback"
    assert received == [(WSC_TEXT, "hello from ctypes", "/ctypes")], received
    assert recv_text(client) == "got hello from ctypes"
    assert recv_text(client) == "hello from ctypes"
    client.close()

    check(lib, lib.wsc_connector_free(conn))
    assert len(freed) == 1, freed
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
