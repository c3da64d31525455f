"""The loads each server is measured with, and their sizes for a full and a quick run."""

from dataclasses import dataclass
from typing import List, Optional, Tuple

# Idle connections wanted; the hard fd limit of this machine may allow fewer (see `plan`).
IDLE_FULL = 100_000
IDLE_QUICK = 5_000
# Idle compressed connections: fewer, as a compressed socket may hold hundreds of KiB.
IDLE_JSON_FULL = 10_000
IDLE_JSON_QUICK = 2_000
# The rows of the permessage-deflate tables: the same JSON-like load uncompressed, then
# compressed by wsconnector (server context kept, or not) and by Python's websockets.
COMPRESSION_ROWS = ("wsc-rust", "wsc-deflate", "wsc-deflate-nct", "websockets-deflate")
# File descriptors a process keeps for itself besides the connections.
FD_MARGIN = 200


@dataclass(frozen=True)
class Scenario:
    """One table of the results."""

    key: str
    title: str
    short: str  # the README summary's column heading
    load: str  # the load client's --load
    args: List[str]  # the rest of its command line
    unit: str  # what the rate counts
    note: str = ""
    # The only servers measured under it (keys), or None for all.
    servers: Optional[Tuple[str, ...]] = None
    # A permessage-deflate table: JSON-like text, compared with the same load uncompressed.
    compression: bool = False

    @property
    def is_idle(self) -> bool:
        return self.load == "idle"


@dataclass(frozen=True)
class Plan:
    """What one run of the harness measures."""

    scenarios: List[Scenario]
    repeats: int
    warmup_s: float
    window_s: float


def plan(quick: bool, fd_limit: int) -> Plan:
    """The scenarios of a full run (about 10 minutes) or a quick one (1-2 minutes)."""
    warmup, window, repeats = (0.5, 1.0, 1) if quick else (1.0, 3.0, 3)
    timing = ["--warmup", str(warmup), "--window", str(window)]
    wanted = IDLE_QUICK if quick else IDLE_FULL
    idle = min(wanted, fd_limit - FD_MARGIN)
    idle_note = (
        f"{idle:,} connections, not {wanted:,}: the hard limit on open files here is {fd_limit:,}"
        " (raising it needs CAP_SYS_RESOURCE)"
        if idle < wanted
        else ""
    )

    def echo(key: str, payload: int, in_flight: int, label: str) -> Scenario:
        return Scenario(
            key,
            f"echo, {label} messages, 100 connections, {in_flight} in flight each",
            f"echo {label}" + (f" ×{in_flight}" if in_flight > 1 else ""),
            "echo",
            ["--connections", "100", "--in-flight", str(in_flight), "--payload", str(payload)]
            + timing,
            "round trips/s",
        )

    def fanout(key: str, receivers: int) -> Scenario:
        return Scenario(
            key,
            f"fan-out, 32 B messages, {receivers:,} receivers, 8 broadcasts in flight",
            f"fan-out to {receivers:,}",
            "fanout",
            ["--receivers", str(receivers), "--in-flight", "8", "--payload", "32"] + timing,
            "deliveries/s",
        )

    def json_echo(key: str, payload: int, label: str) -> Scenario:
        return Scenario(
            key,
            f"permessage-deflate: echo, {label} JSON-like text, 100 connections, 1 in flight each",
            f"echo {label} JSON",
            "echo",
            ["--connections", "100", "--in-flight", "1", "--payload", str(payload), "--json", "1"]
            + timing,
            "round trips/s",
            servers=COMPRESSION_ROWS,
            compression=True,
        )

    def json_fanout(key: str, payload: int, label: str, receivers: int) -> Scenario:
        return Scenario(
            key,
            f"permessage-deflate: fan-out, {label} JSON-like text, {receivers:,} receivers,"
            " 8 broadcasts in flight",
            f"fan-out {label} JSON to {receivers:,}",
            "fanout",
            ["--receivers", str(receivers), "--in-flight", "8", "--payload", str(payload),
             "--json", "1"] + timing,
            "deliveries/s",
            servers=COMPRESSION_ROWS,
            compression=True,
        )

    idle_json = min(IDLE_JSON_QUICK if quick else IDLE_JSON_FULL, fd_limit - FD_MARGIN)
    scenarios = [
        echo("echo-32B", 32, 1, "32 B"),
        echo("echo-32B-x16", 32, 16, "32 B"),
        echo("echo-16KiB", 16384, 1, "16 KiB"),
        fanout("fanout-1k", 1_000),
        Scenario(
            "latency-2",
            "one broadcast at a time to 2 receivers (one per node in the cluster row):"
            " what the backplane adds to one message's latency",
            "1 broadcast, 2 receivers",
            "fanout",
            ["--receivers", "2", "--in-flight", "1", "--payload", "32"] + timing,
            "deliveries/s",
            servers=("wsc-rust", "wsc-cluster"),
        ),
        fanout("fanout-10k", 10_000),
        Scenario(
            "echo-sleep-1ms",
            "echo, 32 B messages, 100 connections, 1 in flight each, the handler sleeping 1 ms"
            " per message: throughput grows with the dispatcher pool (1 thread: at most 1,000/s)",
            "echo, handler sleeps 1 ms",
            "echo",
            ["--connections", "100", "--in-flight", "1", "--payload", "32"] + timing,
            "round trips/s",
            servers=("wsc-sleep-1", "wsc-sleep-4", "wsc-sleep-16"),
        ),
        Scenario(
            "idle",
            f"idle, {idle:,} connections, one 32 B message each",
            f"{idle:,} idle",
            "idle",
            ["--connections", str(idle)],
            "handshakes/s",
            idle_note,
        ),
        json_echo("echo-2KiB-json", 2048, "2 KiB"),
        json_echo("echo-16KiB-json", 16384, "16 KiB"),
        json_fanout("fanout-1k-2KiB-json", 2048, "2 KiB", 1_000),
        json_fanout("fanout-100-16KiB-json", 16384, "16 KiB", 100),
        Scenario(
            "idle-json",
            f"permessage-deflate: idle, {idle_json:,} connections, one 2 KiB JSON-like message"
            " each (compressed both ways where negotiated)",
            f"{idle_json:,} idle after 2 KiB JSON",
            "idle",
            ["--connections", str(idle_json), "--payload", "2048", "--json", "1"],
            "handshakes/s",
            servers=COMPRESSION_ROWS,
            compression=True,
        ),
    ]
    return Plan(scenarios, repeats, warmup, window)
