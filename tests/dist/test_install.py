"""The release artifacts of `make dist`, each installed as a user would and used with no Rust
toolchain on PATH: the wheel into a fresh venv, the C archive unpacked to a prefix and a C
program built against it with pkg-config (shared and static), the npm package into a fresh
project. The chat examples they carry serve `websockets` clients (this venv's).

Run by `make test-dist`, with DIST_DIR naming the folder of the artifacts.
"""

from __future__ import annotations

import glob
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
from typing import Dict, Iterator, List

import pytest
import websockets.sync.client

WAIT = 10.0
ROOT = pathlib.Path(__file__).resolve().parents[2]
DIST = pathlib.Path(os.environ.get("DIST_DIR", ROOT / "dist"))
VERSION = re.search(r'^version = "(.*)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]


def artifact(pattern: str) -> pathlib.Path:
    found = glob.glob(str(DIST / pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST}, found {found}"
    return pathlib.Path(found[0])


@pytest.fixture
def env() -> Dict[str, str]:
    """The environment of a user without Rust: PATH without cargo and rustc."""
    path = os.pathsep.join(
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if not (pathlib.Path(d, "cargo").exists() or pathlib.Path(d, "rustc").exists())
    )
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "WSCONNECTOR"))}
    clean.pop("VIRTUAL_ENV", None)
    clean["PATH"] = path
    return clean


def run(args: List[str], env: Dict[str, str], **kwargs: object) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


class Chat:
    """A chat example running in its own process: started, talked to, stopped with SIGTERM."""

    def __init__(self, args: List[str], env: Dict[str, str], cwd: pathlib.Path) -> None:
        self.process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"ws://\S+", first)
        assert match, f"no URL in {first!r}: {self.process.stderr.read() if self.process.stderr else ''}"
        self.url = match.group(0)

    def scenario(self) -> None:
        """Two clients: the lobby, then a room of one's own (the chat protocol of the README's
        Examples)."""
        connect = websockets.sync.client.connect
        with connect(self.url + "?name=ann", proxy=None, open_timeout=WAIT) as ann, connect(
            self.url, proxy=None, open_timeout=WAIT
        ) as bob:
            welcome = "welcome to the lobby; send /join ROOM to change rooms"
            assert ann.recv(timeout=WAIT) == welcome
            assert bob.recv(timeout=WAIT) == welcome
            ann.send("hello lobby")
            assert ann.recv(timeout=WAIT) == "[ann] hello lobby"
            assert bob.recv(timeout=WAIT) == "[ann] hello lobby"
            bob.send("/join kitchen")
            assert bob.recv(timeout=WAIT) == "you are in room kitchen"
            ann.send("only the lobby")
            assert ann.recv(timeout=WAIT) == "[ann] only the lobby"
            bob.send("kitchen")
            assert str(bob.recv(timeout=WAIT)).endswith("] kitchen")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=WAIT)
        assert self.process.returncode == 0, err
        assert "stopped" in out, out + err
        return out

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


@pytest.fixture
def chats() -> Iterator[List[Chat]]:
    started: List[Chat] = []
    yield started
    for chat in started:
        chat.kill()


def test_the_artifacts_are_there() -> None:
    assert artifact("wsconnector-*-cp39-abi3-*.whl").name.startswith(f"wsconnector-{VERSION}-")
    assert artifact(f"wsconnector-{VERSION}.tar.gz").exists()  # the sdist
    with tarfile.open(artifact(f"wsconnector-{VERSION}-linux-x86_64.tar.gz")) as archive:
        names = set(archive.getnames())
        top = f"wsconnector-{VERSION}-linux-x86_64"
        for name in [
            "lib/libwsconnector.so.1",
            "lib/libwsconnector.so",
            "lib/libwsconnector.a",
            "lib/pkgconfig/wsconnector.pc",
            "lib/pkgconfig/wsconnector-static.pc",
            "include/wsconnector.h",
            "include/wsconnector.hpp",
        ]:
            assert f"{top}/{name}" in names, name
        assert archive.getmember(f"{top}/lib/libwsconnector.so").linkname == "libwsconnector.so.1"
    with tarfile.open(artifact(f"wsconnector-{VERSION}.tgz")) as package:
        assert "package/native/libwsconnector.so.1" in package.getnames()


def test_wheel_in_a_fresh_venv(tmp_path: pathlib.Path, env: Dict[str, str], chats: List[Chat]) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--quiet", "--no-index", str(artifact("wsconnector-*.whl"))], env)
    where = run([python, "-c", "import wsconnector; print(wsconnector.__file__)"], env, cwd=tmp_path)
    assert where.startswith(str(venv)), where
    # The package's tests run against the installed package from python/ and from the root: the
    # source folder (python/python/wsconnector, a src layout) never shadows it. pytest and
    # websockets come from this test's own environment.
    tools = dict(env, PYTHONPATH=sysconfig.get_paths()["purelib"])
    for folder, tests in [(ROOT / "python", "tests/test_api.py"), (ROOT, "python/tests/test_api.py")]:
        where = run([python, "-c", "import wsconnector; print(wsconnector.__file__)"], tools, cwd=folder)
        assert where.startswith(str(venv)), f"from {folder}: {where}"
        run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests], tools, cwd=folder)
    chat = Chat([python, str(ROOT / "examples/python/chat.py"), "127.0.0.1:0"], env, tmp_path)
    chats.append(chat)
    chat.scenario()
    chat.stop()


@pytest.fixture
def prefix(tmp_path: pathlib.Path) -> pathlib.Path:
    """The C archive unpacked where a user might put it."""
    with tarfile.open(artifact(f"wsconnector-{VERSION}-linux-x86_64.tar.gz")) as archive:
        archive.extractall(tmp_path / "opt")
    return tmp_path / "opt" / f"wsconnector-{VERSION}-linux-x86_64"


def pkg_config(prefix: pathlib.Path, package: str, env: Dict[str, str]) -> List[str]:
    env = dict(env, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    return run(["pkg-config", "--cflags", "--libs", package], env).split()


def test_c_archive_shared(tmp_path: pathlib.Path, prefix: pathlib.Path, env: Dict[str, str]) -> None:
    flags = pkg_config(prefix, "wsconnector", env)
    includes = [os.path.normpath(flag[2:]) for flag in flags if flag.startswith("-I")]
    assert includes == [str(prefix / "include")], flags
    program = tmp_path / "chat"
    cc = ["cc", "-std=c11", "-Wall", "-Werror", str(ROOT / "examples/c/chat.c"), "-o", str(program)]
    run(cc + flags, env)
    assert "libwsconnector.so.1" in run(["readelf", "-d", str(program)], env)
    run([str(program), "--self-test"], dict(env, LD_LIBRARY_PATH=str(prefix / "lib")))
    # The C++ wrapper compiles against the same prefix.
    source = tmp_path / "wrapper.cpp"
    source.write_text("#include <wsconnector.hpp>\nint main() { return wsc::version().empty(); }\n")
    run(["c++", "-std=c++17", "-fsyntax-only", str(source)] + flags, env)


def test_c_archive_static(tmp_path: pathlib.Path, prefix: pathlib.Path, env: Dict[str, str]) -> None:
    program = tmp_path / "chat"
    cc = ["cc", "-std=c11", "-Wall", "-Werror", str(ROOT / "examples/c/chat.c"), "-o", str(program)]
    run(cc + pkg_config(prefix, "wsconnector-static", env), env)
    assert "libwsconnector" not in run(["readelf", "-d", str(program)], env)
    shutil.rmtree(prefix)  # nothing of the archive is needed at run time
    run([str(program), "--self-test"], env)


def test_npm_package_in_a_fresh_project(
    tmp_path: pathlib.Path, env: Dict[str, str], chats: List[Chat]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    run(["npm", "init", "--yes"], env, cwd=project)
    run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", str(artifact("wsconnector-*.tgz"))],
        env,
        cwd=project,
    )
    installed = project / "node_modules" / "wsconnector"
    chat = Chat(["node", str(installed / "examples" / "chat.js"), "127.0.0.1:0"], env, project)
    chats.append(chat)
    chat.scenario()
    chat.stop()
