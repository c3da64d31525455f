"""The README's programs are files (examples/readme/), included in it verbatim, and they work:
the C program compiles with the README's line from another folder and serves until SIGTERM,
the Python ones run (on every supported Python: `make test-python-oldest` runs this file on
3.9). The Rust one, examples/readme/main.rs, is compiled as an example by cargo."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
from typing import Dict, List

import pytest
import websockets.exceptions
import websockets.sync.client
from conftest import WAIT

ROOT = pathlib.Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "examples" / "readme"
# A snippet in the README: the marker naming its file, then a fenced block holding the file.
INCLUDED = re.compile(r"<!-- snippet: (\S+) -->\n```\w+\n(.*?)```\n", re.S)


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
