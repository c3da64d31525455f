"""The README's code cannot drift: every fenced block in a language we ship is either a file of
examples/readme/ included verbatim (a snippet) or a fragment that a test here wraps and
compiles (C) or runs and type-checks (Python). The programs work: the C program compiles with the
README's line from another folder and serves until SIGTERM, the Go program builds against
bindings/go and serves, the Python ones run (on every supported Python: `make
test-python-oldest` runs this file on 3.9). The Rust ones are compiled by cargo:
examples/readme/main.rs as the `readme` example, the others as modules of tests/readme.rs,
which runs them against real peers; examples/readme/app.js runs in
bindings/node/test/readme.test.js."""

from __future__ import annotations

import http.server
import os
import pathlib
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import types
from typing import Dict, List, Tuple

import pytest
import websockets.exceptions
import websockets.sync.client
from conftest import WAIT, Peer
from test_cluster import redis  # noqa: F401 (a fixture: a redis-server of the test's own)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "examples" / "readme"
# A snippet in the README: the marker naming its file, then a fenced block holding the file.
INCLUDED = re.compile(r"<!-- snippet: (\S+) -->\n```\w+\n(.*?)```\n", re.S)
# A fragment: the marker naming it, then its fenced block.
FRAGMENT = re.compile(r"<!-- fragment: (\S+) -->\n```\w+\n(.*?)```\n", re.S)
# Every fenced block, with the line before it (its marker, if any) and its language.
BLOCK = re.compile(r"([^\n]*)\n```(\w*)\n(.*?)```\n", re.S)
# The languages we ship code in; shell, text and the layout are not compiled.
SHIPPED = {"rust", "c", "cpp", "c++", "python", "js", "javascript", "ts", "typescript", "go"}


def fragments() -> Dict[str, str]:
    return dict(FRAGMENT.findall((ROOT / "README.md").read_text()))


def test_every_block_of_code_is_a_snippet_or_a_fragment() -> None:
    """A block of code with neither marker would be compiled by nothing: it could drift."""
    readme = (ROOT / "README.md").read_text()
    loose: List[Tuple[str, str]] = []
    for before, language, block in BLOCK.findall(readme):
        if language in SHIPPED and not re.fullmatch(r"<!-- (snippet|fragment): \S+ -->", before):
            loose.append((language, block.splitlines()[0]))
    assert loose == [], "give these a file of examples/readme/ or a fragment test"
    assert sorted(fragments()) == sorted(FRAGMENT_TESTS), "every fragment has its test, once"


def test_the_readme_holds_its_snippet_files_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    included: Dict[str, str] = {path: block for path, block in INCLUDED.findall(readme)}
    files = sorted(str(p.relative_to(ROOT)) for p in SNIPPETS.iterdir() if p.is_file())
    assert sorted(included) == files, "every file of examples/readme/ is in the README once"
    for path, block in included.items():
        assert block == (ROOT / path).read_text(), f"README.md's copy of {path} differs: copy the file in"


class Program:
    """A README program in its own process; its first line says where it listens."""

    def __init__(self, args: List[str], cwd: pathlib.Path) -> None:
        self.process = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"ws://127.0.0.1:(\d+)/", first)
        if not match:
            self.process.kill()
            pytest.fail(f"no ws:// URL in {first!r}: {self.process.communicate(timeout=WAIT)}")
        self.base = f"ws://127.0.0.1:{match.group(1)}"

    def connect(self, path: str, **kwargs: object) -> websockets.sync.client.ClientConnection:
        return websockets.sync.client.connect(self.base + path, proxy=None, open_timeout=WAIT, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        """SIGTERM, with no terminal on stdin: it serves until then, and stops cleanly."""
        assert self.process.poll() is None, "it served until told to stop"
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=WAIT)
        assert self.process.returncode == 0, out + err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


def on_a_free_port(snippet: str, tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of a Python snippet that listens on a free port instead of its fixed one."""
    source = (SNIPPETS / snippet).read_text()
    copy = tmp_path / snippet
    copy.write_text(re.sub(r"port=\d+", "port=0", source))
    return copy


def test_the_python_chat_snippet(tmp_path: pathlib.Path) -> None:
    program = Program([sys.executable, str(on_a_free_port("chat.py", tmp_path))], tmp_path)
    try:
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            program.connect("/chat/x")
        assert refused.value.response.status_code == 401
        members = {"additional_headers": {"Authorization": "Bearer secret"}}
        with program.connect("/chat/x", **members) as ann, program.connect("/chat/y", **members) as bob:
            ann.send("hello")
            assert ann.recv(timeout=WAIT) == "sent"  # not back to the sender
            assert bob.recv(timeout=WAIT) == "hello"
            bob.send("/join vip")
            assert bob.recv(timeout=WAIT) == "sent"
            assert ann.recv(timeout=WAIT) == "/join vip"  # bob's room is the lobby and vip
        program.stop()
    finally:
        program.kill()


def test_the_python_asyncio_snippet(tmp_path: pathlib.Path) -> None:
    program = Program([sys.executable, str(on_a_free_port("feed.py", tmp_path))], tmp_path)
    try:
        with program.connect("/") as ann, program.connect("/") as bob:
            bob.send("tick")
            assert ann.recv(timeout=WAIT) == "tick"
            assert bob.recv(timeout=WAIT) == "tick"
            ann.send("bye")
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                ann.recv(timeout=WAIT)
            assert ann.close_code == 4000
        program.stop()
    finally:
        program.kill()


def test_the_c_program_builds_with_the_readme_line_from_any_folder(tmp_path: pathlib.Path) -> None:
    pc_folder = ROOT / "target" / "debug"  # where `make c-lib` writes wsconnector.pc
    if not (pc_folder / "wsconnector.pc").exists():
        if os.environ.get("WSC_REQUIRE_EXAMPLES"):
            pytest.fail("target/debug/wsconnector.pc is missing: make c-lib")
        pytest.skip("the C library is not built (make c-lib)")
    (tmp_path / "app.c").write_text((SNIPPETS / "server.c").read_text())
    compile_line = "cc app.c $(pkg-config --cflags --libs wsconnector) -o app"
    assert compile_line in (ROOT / "README.md").read_text()
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc_folder))
    built = subprocess.run(compile_line + " -Wall -Wextra -Werror", shell=True, cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    program = Program([str(tmp_path / "app"), "0"], tmp_path)  # no LD_LIBRARY_PATH: the rpath
    try:
        with program.connect("/chat") as ann, program.connect("/chat") as bob:
            ann.send("hello")
            assert ann.recv(timeout=WAIT) == "hello"
            assert bob.recv(timeout=WAIT) == "hello"
        program.stop()
    finally:
        program.kill()


def test_the_test_certificate_recipe(tmp_path: pathlib.Path) -> None:
    """The openssl recipe makes a CA and a leaf that a wss:// client trusts through extra_ca;
    without it, the error says to add the CA with extra_ca."""
    made = subprocess.run(["sh", str(SNIPPETS / "test-certs.sh")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    import wsconnector

    server = wsconnector.Connector(host="127.0.0.1", port=0, tls_cert=str(tmp_path / "cert.pem"),
                                   tls_key=str(tmp_path / "key.pem"), on_inbound_message=lambda s, m: s.send(m))
    with server:
        url = f"wss://localhost:{server.port}/"
        with wsconnector.Connector() as untrusting:
            with pytest.raises(wsconnector.TlsError, match="add that CA's certificate with the extra_ca setting"):
                untrusting.open_outbound(url)
        with wsconnector.Connector(extra_ca=str(tmp_path / "ca.pem")) as trusting:
            socket_id = trusting.open_outbound(url)
            assert trusting.socket(socket_id).scheme == "wss"


PKG_FOLDER = ROOT / "target" / "debug"  # where `make c-lib` writes wsconnector.pc


def c_library() -> Dict[str, str]:
    """The environment that finds the built C library with pkg-config (skips without it)."""
    if not (PKG_FOLDER / "wsconnector.pc").exists():
        if os.environ.get("WSC_REQUIRE_EXAMPLES"):
            pytest.fail("target/debug/wsconnector.pc is missing: make c-lib")
        pytest.skip("the C library is not built (make c-lib)")
    return dict(os.environ, PKG_CONFIG_PATH=str(PKG_FOLDER))


# What a C fragment needs around it: the callbacks it names, and a config it sets.
C_PROLOGUE = """#include <wsconnector.h>
void on_room_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                     wsc_message_kind kind, wsc_bytes payload) {
    (void)userdata, (void)conn, (void)socket, (void)kind, (void)payload;
}
void on_other_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                      wsc_message_kind kind, wsc_bytes payload) {
    (void)userdata, (void)conn, (void)socket, (void)kind, (void)payload;
}
static void fragment(wsc_config *config, void *state) {
    (void)state;
"""
C_EPILOGUE = """}
int main(void) {
    wsc_config *config = NULL;
    wsc_connector *conn = NULL;
    if (wsc_config_new(&config) != WSC_OK || wsc_config_set_listener(config, "127.0.0.1", 0) != WSC_OK)
        return 1;
    fragment(config, NULL);
    if (wsc_connector_start(config, &conn) != WSC_OK) return 2;
    return wsc_connector_free(conn);
}
"""


def c_fragment(name: str, tmp_path: pathlib.Path, run: bool) -> None:
    """The fragment inside a function of a program, compiled with every warning an error; run,
    when `run`: the connector it configures starts."""
    env = c_library()
    (tmp_path / "fragment.c").write_text(C_PROLOGUE + fragments()[name] + C_EPILOGUE)
    line = "cc -Wall -Wextra -Werror fragment.c $(pkg-config --cflags --libs wsconnector) -o fragment"
    built = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    if run:
        ran = subprocess.run([str(tmp_path / "fragment")], capture_output=True, text=True, timeout=WAIT)
        assert ran.returncode == 0, ran


# What a Python fragment names besides its own: a connector, and what a handler would hold.
PY_PROLOGUE = """import wsconnector

chat: wsconnector.Connector
sender: wsconnector.Socket
line: str
tick: str
some_id: str
"""


def py_fragment_type_checks(name: str, tmp_path: pathlib.Path) -> None:
    """mypy finds every name, keyword and attribute in the package's stubs."""
    pytest.importorskip("mypy")
    (tmp_path / "fragment.py").write_text(PY_PROLOGUE + fragments()[name])
    cache = ROOT / "python" / "python" / ".mypy_cache"  # test_typing.py's: typeshed is read once
    checked = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(cache),
                              "fragment.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_c_per_path_fragment(tmp_path: pathlib.Path) -> None:
    c_fragment("per-path.c", tmp_path, run=True)


def test_the_c_cluster_fragment(tmp_path: pathlib.Path) -> None:
    c_fragment("cluster.c", tmp_path, run=False)  # its Redis is an example address


def test_the_python_per_path_fragment(tmp_path: pathlib.Path) -> None:
    """It runs on a connector, whose handlers then take their paths."""
    import wsconnector

    chat = wsconnector.Connector(host="127.0.0.1", port=0)
    exec(compile(fragments()["per-path.py"], "README.md per-path.py", "exec"), {"chat": chat})
    with chat:
        program = f"ws://127.0.0.1:{chat.port}"
        for path in ("/chat/kitchen", "/lobby"):
            with websockets.sync.client.connect(program + path, proxy=None, open_timeout=WAIT) as client:
                client.send("hi")
    py_fragment_type_checks("per-path.py", tmp_path)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server (make test installs it)")
def test_the_python_cluster_fragment(redis: str, tmp_path: pathlib.Path) -> None:
    """It runs as a node of a cluster (on the test's redis-server, on a free port) beside another
    node, which holds the socket it names: its broadcast and its tick reach that socket."""
    import wsconnector

    fragment = fragments()["cluster.py"]
    assert "port=8080" in fragment and "redis://10.0.0.5:6379/0" in fragment
    fragment = fragment.replace("port=8080", "port=0").replace("redis://10.0.0.5:6379/0", redis)
    other = wsconnector.Connector(host="127.0.0.1", port=0, cluster=redis, cluster_name="chat")
    with other, websockets.sync.client.connect(f"ws://127.0.0.1:{other.port}/chat", proxy=None,
                                               open_timeout=WAIT) as client:
        (held,) = other.sockets()
        other.subscribe(held.id, "room:x")
        names = {"wsconnector": wsconnector, "line": "hi", "tick": "tick", "some_id": held.id,
                 "sender": types.SimpleNamespace(id="someone on this node")}
        try:
            exec(compile(fragment, "README.md cluster.py", "exec"), names)
            assert (names["result"].delivered, names["result"].nodes_answered) == (1, 2)
            assert client.recv(timeout=WAIT) == "hi"
            assert client.recv(timeout=WAIT) == "tick"
        finally:
            if "chat" in names:
                names["chat"].stop()
    py_fragment_type_checks("cluster.py", tmp_path)


FRAGMENT_TESTS = ["per-path.c", "cluster.c", "per-path.py", "cluster.py"]


def test_the_go_program(tmp_path: pathlib.Path) -> None:
    """Built as the README says (a go.mod that replaces wsconnector with bindings/go), it serves
    a chat until SIGTERM; given a feed that refuses the handshake, it says so."""
    env = c_library()
    if shutil.which("go") is None:
        if os.environ.get("WSC_REQUIRE_EXAMPLES"):
            pytest.fail("go is missing: make go-toolchain")
        pytest.skip("no go (make go-toolchain)")
    source = (SNIPPETS / "main.go").read_text()
    (tmp_path / "main.go").write_text(source.replace("Port: 8080", "Port: 0"))
    (tmp_path / "go.mod").write_text(
        f"module app\n\ngo 1.19\n\nrequire wsconnector v0.0.0\n\nreplace wsconnector => {ROOT / 'bindings' / 'go'}\n"
    )
    readme = (ROOT / "README.md").read_text()
    assert "require wsconnector v0.0.0\\n\\nreplace wsconnector => /path/to/wsconnector/bindings/go" in readme
    env.update(GOPROXY="off", GOFLAGS="-mod=mod")
    built = subprocess.run(["go", "build", "-o", "app", "."], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    program = Program([str(tmp_path / "app")], tmp_path)
    try:
        with program.connect("/") as ann, program.connect("/") as bob:
            ann.send("hello")
            assert ann.recv(timeout=WAIT) == "hello"
            assert bob.recv(timeout=WAIT) == "hello"
        program.stop()
    finally:
        program.kill()
    not_found = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=not_found.serve_forever, daemon=True).start()
    try:
        feed = f"ws://127.0.0.1:{not_found.server_port}/quotes"
        refused = subprocess.run([str(tmp_path / "app"), feed], capture_output=True, text=True, timeout=WAIT)
    finally:
        not_found.shutdown()
    assert refused.returncode == 1, refused
    assert refused.stderr.startswith("the feed refused the handshake:") and "404" in refused.stderr, refused


class NotFound(http.server.BaseHTTPRequestHandler):
    """A plain HTTP server's answer to a WebSocket handshake: 404."""

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_the_rust_program(tmp_path: pathlib.Path) -> None:
    """examples/readme/main.rs as `cargo run --example readme` builds it, in a folder with the
    test certificates: members chat over wss:// (others get 401), the feed gets "/sub ACME"
    with its header and what it sends is printed, and Ctrl-C stops it cleanly."""
    binary = ROOT / "target" / "debug" / "examples" / "readme"
    if not binary.exists():
        if os.environ.get("WSC_REQUIRE_EXAMPLES"):
            pytest.fail(f"{binary} is missing: cargo build --examples")
        pytest.skip(f"{binary} is not built (cargo build --examples)")
    made = subprocess.run(["sh", str(SNIPPETS / "test-certs.sh")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr

    def quote_source(connection: websockets.sync.server.ServerConnection) -> None:
        feed.received.put(connection.recv(timeout=WAIT))
        connection.send("ACME 101.52")
        for _ in connection:
            pass

    feed = Peer(quote_source)
    process = subprocess.Popen([str(binary), "0", feed.url("/quotes")], cwd=tmp_path, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"wss://127.0.0.1:(\d+)/ws/chat/ROOM", first)
        assert match, (first, process.stderr.read() if process.poll() is not None else "")  # type: ignore[union-attr]
        url = f"wss://localhost:{match.group(1)}/ws/chat/kitchen"
        trust = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        member = {"ssl": trust, "proxy": None, "open_timeout": WAIT,
                  "additional_headers": {"Authorization": "Bearer secret"}}
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(url, ssl=trust, proxy=None, open_timeout=WAIT)
        assert refused.value.response.status_code == 401
        with websockets.sync.client.connect(url, **member) as ann, websockets.sync.client.connect(url, **member) as bob:  # type: ignore[arg-type]
            ann.send("hello")
            assert bob.recv(timeout=WAIT) == "hello"
        assert feed.received.get(timeout=WAIT) == "/sub ACME"
        assert feed.requests.get(timeout=WAIT).headers["Authorization"] == "Bearer t"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
        assert process.returncode == 0, out + err
        assert 'feed: Some("ACME 101.52")' in out, out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        feed.close()
