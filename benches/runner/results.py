"""Turning runs into results: medians with min-max, ratios to the raw baselines, the markdown
tables, the JSON file, and the README's performance section."""

import json
import re
import statistics
from pathlib import Path
from typing import Dict, List, Optional

from . import machine as machine_info
from .scenarios import Plan, Scenario
from .servers import (
    FASTWEBSOCKETS,
    PICOWS,
    RAW_4K,
    RAW_DEFAULT,
    WEBSOCKETS_DEFLATE,
    WSC_DEFLATE,
    WSC_DEFLATE_NCT,
    WSC_NATIVE,
    WSC_PYTHON,
    WSC_RUST,
    Server,
)

# The figures kept per scenario kind: (field of the load's report, what it is).
RATE_METRICS = [
    "rate",
    "server_cpu_us_per_msg",
    "p50_us",
    "p99_us",
    "server_cpu_pct",
    "client_cpu_pct",
    "other_cpu_pct",
    "wire_bytes_per_msg",
]
IDLE_METRICS = [
    "connections",
    "rss_per_conn_kib",
    "handshakes_per_s",
    "server_cpu_us_per_handshake",
    "server_cpu_pct",
    "client_cpu_pct",
    "other_cpu_pct",
]
# Client CPU (percent of its core) while connections open past which the handshake rate is
# the load client's, not the server's: on loopback the client's core also runs the kernel's
# TCP work for both ends of each handshake, about 15 µs a connection here.
CLIENT_BOUND_CPU_PCT = 85.0
# Median CPU use of other processes (percent of a core) past which the results carry a warning.
NOISY_OTHER_CPU_PCT = 10.0

README_BEGIN = "<!-- bench:begin -->"
README_END = "<!-- bench:end -->"


def summarize(plan: Plan, servers: List[Server], runs: List[dict]) -> Dict[str, Dict[str, dict]]:
    """Per scenario and server: each figure's median, min and max over the runs that worked,
    plus the errors and notes of the others."""
    summary: Dict[str, Dict[str, dict]] = {}
    for scenario in plan.scenarios:
        metrics = IDLE_METRICS if scenario.is_idle else RATE_METRICS
        rows = summary.setdefault(scenario.key, {})
        for server in servers:
            mine = [r for r in runs if r["scenario"] == scenario.key and r["server"] == server.key]
            good = [r["result"] for r in mine if "error" not in r["result"]]
            row: dict = {
                "runs": len(good),
                "errors": sorted({r["result"]["error"] for r in mine if "error" in r["result"]}),
                "notes": sorted({g["note"] for g in good if g.get("note")}),
            }
            for metric in metrics:
                values = [g[metric] for g in good if g.get(metric) is not None]
                if values:
                    row[metric] = {
                        "median": statistics.median(values),
                        "min": min(values),
                        "max": max(values),
                    }
            rows[server.key] = row
    return summary


def _median(row: dict, metric: str) -> Optional[float]:
    figure = row.get(metric)
    return figure["median"] if figure else None


def _ratio(rows: Dict[str, dict], key: str, metric: str, baseline: str) -> str:
    mine, base = _median(rows.get(key, {}), metric), _median(rows.get(baseline, {}), metric)
    if mine is None or not base:
        return "–"
    return f"{mine / base:.2f}"


def _ratios(rows: Dict[str, dict], key: str, metric: str) -> str:
    return f"{_ratio(rows, key, metric, RAW_DEFAULT)} / {_ratio(rows, key, metric, RAW_4K)}"


def _num(value: Optional[float]) -> str:
    """A figure with three significant digits, thousands separated."""
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _span(row: dict, metric: str) -> str:
    figure = row.get(metric)
    return f"{_num(figure['min'])}–{_num(figure['max'])}" if figure else "–"


def _note(row: dict, unavailable: Optional[str]) -> str:
    if unavailable:
        return f"skipped: {unavailable}"
    parts = list(row["notes"]) + [f"failed: {e}" for e in row["errors"]]
    return "; ".join(p.replace("|", "/") for p in parts)


def _rate_table(scenario: Scenario, servers: List[Server], rows: Dict[str, dict], skipped) -> List[str]:
    lines = [
        f"| server | {scenario.unit} | min–max | × raw (default / 4 KiB) | server CPU µs/msg"
        " | × raw (default / 4 KiB) | p50 µs | p99 µs | server CPU % | client CPU % | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for server in servers:
        row = rows[server.key]
        if not row["runs"] and not row["errors"] and server.key not in skipped:
            continue  # not measured under this scenario
        lines.append(
            f"| {server.label} | {_num(_median(row, 'rate'))} | {_span(row, 'rate')}"
            f" | {_ratios(rows, server.key, 'rate')}"
            f" | {_num(_median(row, 'server_cpu_us_per_msg'))}"
            f" | {_ratios(rows, server.key, 'server_cpu_us_per_msg')}"
            f" | {_num(_median(row, 'p50_us'))} | {_num(_median(row, 'p99_us'))}"
            f" | {_num(_median(row, 'server_cpu_pct'))} | {_num(_median(row, 'client_cpu_pct'))}"
            f" | {_note(row, skipped.get(server.key))} |"
        )
    return lines


def measured_under(server: Server, scenario: Scenario) -> bool:
    """Whether the server has a row in the scenario's table."""
    return (server.scenarios is None or scenario.key in server.scenarios) and (
        scenario.servers is None or server.key in scenario.servers
    )


def _measured(server: Server, rows: Dict[str, dict], skipped) -> bool:
    row = rows[server.key]
    return bool(row["runs"] or row["errors"] or server.key in skipped)


def _plain(rows: Dict[str, dict], key: str, metric: str) -> str:
    """The row's median over the same load uncompressed (wsconnector without compression)."""
    return _ratio(rows, key, metric, WSC_RUST)


def _compression_table(scenario: Scenario, servers: List[Server], rows: Dict[str, dict],
                       skipped) -> List[str]:
    """A permessage-deflate table: rate, server CPU and bytes on the wire per message, each
    beside its ratio to the same load uncompressed."""
    if scenario.is_idle:
        lines = [
            "| server | held | RSS KiB/conn | min–max | × uncompressed | handshakes/s | note |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for server in [s for s in servers if _measured(s, rows, skipped)]:
            row = rows[server.key]
            held = row.get("connections")
            lines.append(
                f"| {server.label} | {_num(held['min']) if held else '–'}"
                f" | {_num(_median(row, 'rss_per_conn_kib'))} | {_span(row, 'rss_per_conn_kib')}"
                f" | {_plain(rows, server.key, 'rss_per_conn_kib')}"
                f" | {_num(_median(row, 'handshakes_per_s'))}"
                f" | {_note(row, skipped.get(server.key))} |"
            )
        return lines
    lines = [
        f"| server | {scenario.unit} | min–max | server CPU µs/msg | × uncompressed"
        " | wire B/msg | × uncompressed | p50 µs | p99 µs | server CPU % | client CPU % | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for server in [s for s in servers if _measured(s, rows, skipped)]:
        row = rows[server.key]
        lines.append(
            f"| {server.label} | {_num(_median(row, 'rate'))} | {_span(row, 'rate')}"
            f" | {_num(_median(row, 'server_cpu_us_per_msg'))}"
            f" | {_plain(rows, server.key, 'server_cpu_us_per_msg')}"
            f" | {_num(_median(row, 'wire_bytes_per_msg'))}"
            f" | {_plain(rows, server.key, 'wire_bytes_per_msg')}"
            f" | {_num(_median(row, 'p50_us'))} | {_num(_median(row, 'p99_us'))}"
            f" | {_num(_median(row, 'server_cpu_pct'))} | {_num(_median(row, 'client_cpu_pct'))}"
            f" | {_note(row, skipped.get(server.key))} |"
        )
    return lines


def _websockets_line(scenario: Scenario, rows: Dict[str, dict]) -> str:
    """wsconnector compressing next to Python's websockets compressing, when both ran."""
    metric = "rss_per_conn_kib" if scenario.is_idle else "server_cpu_us_per_msg"
    what = "memory per connection" if scenario.is_idle else "server CPU per message"
    parts = []
    for key, label in ((WSC_DEFLATE, "context kept"), (WSC_DEFLATE_NCT, "no server context")):
        ratio = _ratio(rows, key, metric, WEBSOCKETS_DEFLATE)
        if ratio != "–":
            parts.append(f"×{ratio} ({label})")
    if not parts:
        return ""
    return f"wsconnector / websockets, both compressing, {what}: {', '.join(parts)}."


def _idle_table(servers: List[Server], rows: Dict[str, dict], skipped) -> List[str]:
    lines = [
        "| server | held | RSS KiB/conn | min–max | × raw (default / 4 KiB) | handshakes/s"
        " | min–max | × raw (default / 4 KiB) | server CPU µs/handshake | × raw (default / 4 KiB)"
        " | server / client CPU % | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for server in servers:
        row = rows[server.key]
        held = row.get("connections")
        lines.append(
            f"| {server.label} | {_num(held['min']) if held else '–'}"
            f" | {_num(_median(row, 'rss_per_conn_kib'))} | {_span(row, 'rss_per_conn_kib')}"
            f" | {_ratios(rows, server.key, 'rss_per_conn_kib')}"
            f" | {_num(_median(row, 'handshakes_per_s'))} | {_span(row, 'handshakes_per_s')}"
            f" | {_ratios(rows, server.key, 'handshakes_per_s')}"
            f" | {_num(_median(row, 'server_cpu_us_per_handshake'))}"
            f" | {_ratios(rows, server.key, 'server_cpu_us_per_handshake')}"
            f" | {_num(_median(row, 'server_cpu_pct'))} / {_num(_median(row, 'client_cpu_pct'))}"
            f" | {_note(row, skipped.get(server.key))} |"
        )
    client_bound = [
        server.label
        for server in servers
        if (_median(rows[server.key], "client_cpu_pct") or 0) >= CLIENT_BOUND_CPU_PCT
    ]
    if client_bound:
        lines += [
            "",
            f"The load client's core was busy (client CPU ≥ {CLIENT_BOUND_CPU_PCT:.0f} %) while"
            f" connections opened to: {', '.join(client_bound)}. Their handshakes/s is the"
            " client's ceiling; compare them by server CPU µs/handshake.",
        ]
    return lines


def _versus(scenario: Scenario, rows: Dict[str, dict], key: str, baseline: str) -> str:
    """The ratios of one row to another's, when both ran: rate and CPU per message, or memory
    per connection, handshakes/s and CPU per handshake."""
    if scenario.is_idle:
        metrics = [
            ("RSS per connection", "rss_per_conn_kib"),
            ("handshakes/s", "handshakes_per_s"),
            ("server CPU per handshake", "server_cpu_us_per_handshake"),
        ]
    else:
        metrics = [(scenario.unit, "rate"), ("server CPU per message", "server_cpu_us_per_msg")]
    parts = []
    for name, metric in metrics:
        ratio = _ratio(rows, key, metric, baseline)
        if ratio != "–":
            parts.append(f"{name} ×{ratio}")
    return ", ".join(parts)


def _comparison_lines(scenario: Scenario, servers: List[Server], rows: Dict[str, dict]) -> List[str]:
    """wsconnector's native rows next to fastwebsockets, and its Python package next to picows."""
    labels = {server.key: server.label for server in servers}
    lines = []
    for key in WSC_NATIVE:
        versus = _versus(scenario, rows, key, FASTWEBSOCKETS) if key in labels else ""
        if versus:
            lines.append(f"{labels[key]} / fastwebsockets: {versus}.")
    versus = _versus(scenario, rows, WSC_PYTHON, PICOWS)
    if versus:
        lines.append(f"wsconnector's Python package / picows: {versus}.")
    return lines


def noise(runs: List[dict]) -> Optional[float]:
    """The median CPU use of other processes during the measured windows, in % of a core."""
    other = [r["result"]["other_cpu_pct"] for r in runs if r["result"].get("other_cpu_pct") is not None]
    return statistics.median(other) if other else None


def markdown(plan: Plan, servers: List[Server], skipped: Dict[str, str], runs: List[dict],
             summary: Dict[str, Dict[str, dict]], machine: dict, quick: bool, cpus) -> str:
    """The results file."""
    other = noise(runs)
    lines = [
        "# wsconnector benchmarks" + (" (quick run)" if quick else ""),
        "",
        f"Taken {machine['date']} on {machine_info.summary_line(machine)}; commit"
        f" {machine['commit']}; {machine['rustc']}.",
        f"Each server ran pinned to core {cpus[0]}, the load client to core {cpus[1]} (taskset)."
        f" Figures are medians of {plan.repeats} interleaved run(s) per server (min–max beside"
        f" them); each window lasted {plan.window_s:g} s after {plan.warmup_s:g} s of warm-up.",
        "",
    ]
    if other is not None and other > NOISY_OTHER_CPU_PCT:
        lines += [
            f"**Noisy:** other processes used {other:.0f} % of a core (median) during the"
            " measured windows; they shared the cores with the server and the client. Take final"
            " figures on a quiet machine.",
            "",
        ]
    for scenario in plan.scenarios:
        rows = summary[scenario.key]
        lines += [f"## {scenario.title}", ""]
        if scenario.note:
            lines += [scenario.note + ".", ""]
        if scenario.compression:
            lines += _compression_table(scenario, servers, rows, skipped)
            comparisons = [line for line in [_websockets_line(scenario, rows)] if line]
        else:
            if scenario.is_idle:
                lines += _idle_table(servers, rows, skipped)
            else:
                lines += _rate_table(scenario, servers, rows, skipped)
            comparisons = _comparison_lines(scenario, servers, rows)
        lines += [""] + [f"- {line}" for line in comparisons] + ([""] if comparisons else [])
    lines += [
        "## Reading the tables",
        "",
        "- **× raw (default / 4 KiB)**: the row's median divided by the raw tokio-tungstenite"
        " server's, with tokio-tungstenite's default `WebSocketConfig` / with a 4 KiB read"
        " buffer. For rates above 1 is faster; for CPU and memory above 1 is costlier.",
        "- **server CPU µs/msg**: the server process's CPU time (user + system, all threads,"
        " from /proc/PID/stat) over the window, divided by the round trips (echo) or deliveries"
        " (fan-out) in it. When **client CPU %** nears 100, the load client on its one core"
        " sets the rate, not the server: compare servers by this column then.",
        "- **p50 / p99 µs**: latency of a round trip (echo: send to echo received) or of a"
        " delivery (fan-out: trigger sent to receiver read), as the load client sees it.",
        "- **server / client CPU %**: CPU time over the window in percent of one core; 100 %"
        " means that process was the bottleneck.",
        "- **wire B/msg** (permessage-deflate tables): bytes the load client read per echo or"
        " delivery, frame headers included; **× uncompressed**: the row's median over"
        " wsconnector's under the same JSON-like load without compression.",
        "- **RSS KiB/conn**: growth of the server's resident memory from before the first"
        " connection to when all were held (each having carried one echoed message), divided by"
        " the connections held. **handshakes/s**: connections opened (TCP and upgrade, 64 at a"
        " time) per second; **server CPU µs/handshake**: the server's CPU time while they opened,"
        " per connection; **server / client CPU %** over that time. On loopback the client's core"
        " also runs the kernel's TCP work for both ends of each handshake: when it is near 100 %,"
        " handshakes/s is the client's ceiling and server CPU µs/handshake compares the servers.",
        "- Servers: see benches/README.md; the raw baseline sends fan-out through one"
        " unbounded channel per receiver, drained by the receiver's own task.",
        "",
    ]
    return "\n".join(lines)


def readme_section(plan: Plan, servers: List[Server], skipped: Dict[str, str],
                   summary: Dict[str, Dict[str, dict]], machine: dict) -> str:
    """The README's performance summary: one row per server, one column per scenario; the
    permessage-deflate scenarios in a table of their own."""
    lines = [
        README_BEGIN,
        f"Measured {machine['date']} on {machine_info.summary_line(machine)} (server and load"
        " client each pinned to one core; medians; full tables in"
        " [benches/results/results.md](benches/results/results.md)). Each cell: rate, and the"
        " server's CPU time per message; idle: memory per held connection, and handshakes/s;"
        " with permessage-deflate, also the bytes on the wire per message.",
    ]
    for compression in (False, True):
        chosen = [s for s in plan.scenarios if s.compression == compression]
        rows = [s for s in servers if any(measured_under(s, sc) for sc in chosen)]
        if not chosen or not rows:
            continue
        lines += [
            "",
            "| server | " + " | ".join(s.short for s in chosen) + " |",
            "| --- |" + " ---: |" * len(chosen),
        ]
        for server in rows:
            cells = []
            for scenario in chosen:
                row = summary[scenario.key][server.key]
                if server.key in skipped or not row["runs"]:
                    cells.append("–")
                elif scenario.is_idle:
                    cells.append(
                        f"{_num(_median(row, 'rss_per_conn_kib'))} KiB, "
                        f"{_num(_median(row, 'handshakes_per_s'))}/s"
                    )
                else:
                    cell = (f"{_num(_median(row, 'rate'))}/s, "
                            f"{_num(_median(row, 'server_cpu_us_per_msg'))} µs")
                    if compression:
                        cell += f", {_num(_median(row, 'wire_bytes_per_msg'))} B"
                    cells.append(cell)
            lines.append(f"| {server.label} | " + " | ".join(cells) + " |")
    lines.append(README_END)
    return "\n".join(lines)


def update_readme(readme: Path, section: str) -> None:
    """Replaces the performance summary between its markers."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise RuntimeError(f"{readme} has no {README_BEGIN} ... {README_END} section")
    readme.write_text(pattern.sub(lambda _: section, text))


def write_json(path: Path, plan: Plan, machine: dict, skipped: Dict[str, str], runs: List[dict],
               summary: Dict[str, Dict[str, dict]], quick: bool) -> None:
    """Everything: the machine, the plan, every run's report, and the summary."""
    document = {
        "quick": quick,
        "machine": machine,
        "plan": {
            "repeats": plan.repeats,
            "warmup_s": plan.warmup_s,
            "window_s": plan.window_s,
            "scenarios": [
                {"key": s.key, "title": s.title, "load": s.load, "args": s.args, "note": s.note}
                for s in plan.scenarios
            ],
        },
        "skipped": skipped,
        "runs": runs,
        "summary": summary,
    }
    path.write_text(json.dumps(document, indent=1) + "\n")
