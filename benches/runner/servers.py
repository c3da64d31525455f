"""The servers measured, side by side, and how to start and stop one pinned to a core.

Every server takes `--port 0`, prints the port it bound on its first line of stdout once it
accepts connections (followed, for a server of two nodes, by `--second-port P` for the load
client), and serves until it is ended. A server that cannot be built here (the C
API or the Python package not on this branch yet, no network for PyPI) is skipped with a note.
"""

import os
import resource
import shutil
import select
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
BENCH_OUT = ROOT / "target" / "bench"
VENV_PYTHON = BENCH_OUT / "venv" / "bin" / "python"

# How long a server may take to print its port.
START_TIMEOUT_S = 30.0
# How long a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Server:
    """One row of the tables."""

    key: str
    label: str
    command: List[str]
    # Why the server cannot run here, or None when it can.
    unavailable: Callable[[], Optional[str]]
    # The only scenarios it runs (keys), or None for all.
    scenarios: Optional[Tuple[str, ...]] = None


def _missing_file(path: Path, reason: str) -> Callable[[], Optional[str]]:
    return lambda: None if path.exists() else reason


def _c_server_unavailable() -> Optional[str]:
    if not (ROOT / "include" / "wsconnector.h").exists():
        return "the C API is not on this branch yet (no include/wsconnector.h)"
    if not (BENCH_OUT / "c-server").exists():
        return "the C server did not build: see target/bench/c-server.log"
    return None


def _python_unavailable(module: str, reason: str) -> Callable[[], Optional[str]]:
    def check() -> Optional[str]:
        if not VENV_PYTHON.exists():
            return "no benchmark venv: see target/bench/python-deps.log"
        probe = subprocess.run(
            [str(VENV_PYTHON), "-c", f"import {module}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return None if probe.returncode == 0 else reason

    return check


def _wsc_python_unavailable() -> Optional[str]:
    if not (ROOT / "python" / "pyproject.toml").exists():
        return "the Python package is not on this branch yet (no python/pyproject.toml)"
    return _python_unavailable(
        "wsconnector", "the Python package did not build: see target/bench/python-package.log"
    )()


def _wsc_cluster_unavailable() -> Optional[str]:
    if not (RELEASE / "wsc-server").exists():
        return "wsc-server is not built"
    if shutil.which("redis-server") is None:
        return "no redis-server on PATH (apt-get install redis-server)"
    return None


RAW_DEFAULT = "raw-default"
RAW_4K = "raw-4k"
FASTWEBSOCKETS = "fws"
WSC_CLUSTER = "wsc-cluster"
WSC_PYTHON = "wsc-python"
# The rows of wsconnector's Rust and C APIs, compared with fastwebsockets.
WSC_RUST = "wsc-rust"
WSC_RUST_INLINE = "wsc-rust-inline"
WSC_C = "wsc-c"
WSC_C_INLINE = "wsc-c-inline"
WSC_NATIVE = [WSC_RUST, WSC_RUST_INLINE, WSC_C, WSC_C_INLINE]
PICOWS = "picows"
WSC_DEFLATE = "wsc-deflate"
WSC_DEFLATE_NCT = "wsc-deflate-nct"
WEBSOCKETS_DEFLATE = "websockets-deflate"
# The scenarios of the compressed rows: the permessage-deflate tables.
COMPRESSION_SCENARIOS = (
    "echo-2KiB-json",
    "echo-16KiB-json",
    "fanout-1k-2KiB-json",
    "fanout-100-16KiB-json",
    "idle-json",
)

# The single dispatcher thread of before the pool, for the echo and fan-out tables.
WSC_RUST_ONE_DISPATCHER = "wsc-rust-1-dispatcher"
POOL_COMPARED = ("echo-32B", "echo-32B-x16", "echo-16KiB", "fanout-1k", "fanout-10k")
# A handler sleeping 1 ms per message, with pools of these sizes.
SLEEPING_POOLS = (1, 4, 16)
SLEEPING_HANDLER = "echo-sleep-1ms"


def _sleeping(threads: int) -> "Server":
    return Server(
        f"wsc-sleep-{threads}",
        f"wsconnector, Rust API, handler sleeping 1 ms, {threads} dispatcher thread"
        + ("s" if threads > 1 else ""),
        [str(RELEASE / "wsc-server"), "--handler-sleep-us", "1000",
         "--dispatcher-threads", str(threads)],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
        (SLEEPING_HANDLER,),
    )


SERVERS = [
    Server(
        RAW_DEFAULT,
        "tokio-tungstenite, default config",
        [str(RELEASE / "raw-server")],
        _missing_file(RELEASE / "raw-server", "raw-server is not built"),
    ),
    Server(
        RAW_4K,
        "tokio-tungstenite, 4 KiB read buffer",
        [str(RELEASE / "raw-server"), "--read-buffer", "4096"],
        _missing_file(RELEASE / "raw-server", "raw-server is not built"),
    ),
    Server(
        FASTWEBSOCKETS,
        "fastwebsockets 0.10",
        [str(RELEASE / "fws-server")],
        _missing_file(RELEASE / "fws-server", "fws-server is not built"),
    ),
    Server(
        WSC_RUST,
        "wsconnector, Rust API",
        [str(RELEASE / "wsc-server")],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
    ),
    Server(
        WSC_RUST_INLINE,
        "wsconnector, Rust API, inline",
        [str(RELEASE / "wsc-server"), "--inline", "1"],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
    ),
    Server(
        WSC_RUST_ONE_DISPATCHER,
        "wsconnector, Rust API, 1 dispatcher thread (no pool)",
        [str(RELEASE / "wsc-server"), "--dispatcher-threads", "1"],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
        POOL_COMPARED,
    ),
    *(_sleeping(threads) for threads in SLEEPING_POOLS),
    Server(
        WSC_CLUSTER,
        "wsconnector, Rust API, 2 nodes through Redis",
        [str(RELEASE / "wsc-server"), "--nodes", "2"],
        _wsc_cluster_unavailable,
        ("fanout-1k", "latency-2"),
    ),
    Server(
        WSC_C,
        "wsconnector, C API",
        [str(BENCH_OUT / "c-server")],
        _c_server_unavailable,
    ),
    Server(
        WSC_C_INLINE,
        "wsconnector, C API, inline",
        [str(BENCH_OUT / "c-server"), "--inline", "1"],
        _c_server_unavailable,
    ),
    Server(
        WSC_PYTHON,
        "wsconnector, Python package",
        [str(VENV_PYTHON), str(ROOT / "benches" / "python" / "server.py")],
        _wsc_python_unavailable,
    ),
    Server(
        "wsc-python-1-dispatcher",
        "wsconnector, Python package, 1 dispatcher thread (no pool)",
        [str(VENV_PYTHON), str(ROOT / "benches" / "python" / "server.py"),
         "--dispatcher-threads", "1"],
        _wsc_python_unavailable,
        POOL_COMPARED,
    ),
    Server(
        PICOWS,
        "picows on uvloop (Python)",
        [str(VENV_PYTHON), str(ROOT / "benches" / "python" / "picows_server.py")],
        _python_unavailable(
            "picows, uvloop", "picows/uvloop are not installed: see target/bench/python-deps.log"
        ),
    ),
    Server(
        WSC_DEFLATE,
        "wsconnector, Rust API, permessage-deflate",
        [str(RELEASE / "wsc-server"), "--compression", "context"],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
        COMPRESSION_SCENARIOS,
    ),
    Server(
        WSC_DEFLATE_NCT,
        "wsconnector, Rust API, permessage-deflate, server_no_context_takeover",
        [str(RELEASE / "wsc-server"), "--compression", "no-context"],
        _missing_file(RELEASE / "wsc-server", "wsc-server is not built"),
        COMPRESSION_SCENARIOS,
    ),
    Server(
        WEBSOCKETS_DEFLATE,
        "websockets (Python asyncio), permessage-deflate",
        [str(VENV_PYTHON), str(ROOT / "benches" / "python" / "websockets_server.py")],
        _python_unavailable(
            "websockets", "websockets is not installed: see target/bench/python-deps.log"
        ),
        COMPRESSION_SCENARIOS,
    ),
]


def fd_limit() -> int:
    """The most file descriptors a process of ours can have (the hard limit)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def _raise_fd_limit() -> None:
    hard = fd_limit()
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pinned(cpu: int, command: List[str]) -> List[str]:
    """`command` run by taskset on core `cpu`."""
    return ["taskset", "-c", str(cpu)] + command


def spawn(command: List[str], **kwargs) -> subprocess.Popen:
    """Starts a process of the benchmark with its fd limit raised to the hard limit."""
    return subprocess.Popen(command, preexec_fn=_raise_fd_limit, **kwargs)


class Running:
    """A server started on one core; a context manager that stops it on exit."""

    def __init__(self, server: Server, cpu: int, log: Path) -> None:
        self.server = server
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "ab")
        self._log.write(f"==== {server.key}\n".encode())
        self._log.flush()
        self.process = spawn(
            pinned(cpu, server.command + ["--port", "0"]),
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self.pid = self.process.pid
        self.port, self.load_args = self._read_port()

    def _read_port(self) -> Tuple[int, List[str]]:
        """The port, and the load client's arguments that follow it on the line."""
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], START_TIMEOUT_S)
        line = stdout.readline().decode(errors="replace").strip() if ready else ""
        words = line.split()
        if not words or not words[0].isdigit():
            self.stop()
            raise RuntimeError(
                f"{self.server.key} did not start (printed {line!r}); see its log in target/bench/logs/"
            )
        return int(words[0]), words[1:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    def __enter__(self) -> "Running":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
