#!/usr/bin/env python3
"""Runs the benchmarks: every server side by side under every load, repeated and interleaved,
each server pinned to one core and the load client to the other. Writes
benches/results/results.{md,json} and the README's performance section (a full run) or
benches/results/quick.{md,json} (a quick run). `make bench` builds everything first.

    python3 benches/run.py [--quick] [--servers KEY,...] [--scenarios KEY,...]

BENCH_QUICK=1 in the environment means --quick. BENCH_SERVER_CPU and BENCH_CLIENT_CPU choose
the cores (default 0 and 1). Figures, not verdicts: the exit status says only whether the
harness itself worked.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import machine, results, scenarios, servers  # noqa: E402

ROOT = servers.ROOT
RESULTS = ROOT / "benches" / "results"
LOGS = servers.BENCH_OUT / "logs"
LOAD = servers.RELEASE / "load"
# Longest a load client may run, beyond its own windows (idle opens many connections).
LOAD_TIMEOUT_S = 600


def measure(server: servers.Server, scenario: scenarios.Scenario, cpus) -> dict:
    """One run: starts the server, runs the load against it, stops the server; the load's
    report, or {"error": ...}."""
    try:
        with servers.Running(server, cpus[0], LOGS / f"{server.key}.log") as running:
            command = servers.pinned(
                cpus[1],
                [str(LOAD), "--load", scenario.load, "--port", str(running.port),
                 "--server-pid", str(running.pid)] + scenario.args + running.load_args,
            )
            load = servers.spawn(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = load.communicate(timeout=LOAD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                load.kill()
                load.communicate()
                return {"error": f"the load client did not finish in {LOAD_TIMEOUT_S} s"}
            lines = [line for line in out.splitlines() if line.strip()]
            if not lines:
                return {"error": f"the load client printed nothing: {err.strip()[-300:]}"}
            return json.loads(lines[-1])
    except RuntimeError as e:
        return {"error": str(e)}


def headline(scenario: scenarios.Scenario, result: dict) -> str:
    if "error" in result:
        return "FAILED: " + result["error"]
    if scenario.is_idle:
        return (f"{result['connections']:,} held, {result['rss_per_conn_kib']:.1f} KiB/conn,"
                f" {result['handshakes_per_s']:,.0f} handshakes/s")
    return (f"{result['rate']:,.0f} {scenario.unit}, {result['server_cpu_us_per_msg']:.2f} µs"
            f" server CPU/msg, server {result['server_cpu_pct']:.0f} %,"
            f" client {result['client_cpu_pct']:.0f} %, other {result['other_cpu_pct']:.0f} %")


def select(items: list, wanted: str, what: str) -> list:
    if not wanted:
        return items
    keys = wanted.split(",")
    unknown = set(keys) - {item.key for item in items}
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(sorted(unknown))}; known: "
                 f"{', '.join(item.key for item in items)}")
    return [item for item in items if item.key in keys]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (1-2 minutes)")
    parser.add_argument("--servers", default="", help="comma-separated server keys")
    parser.add_argument("--scenarios", default="", help="comma-separated scenario keys")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    cpus = (int(os.environ.get("BENCH_SERVER_CPU", "0")), int(os.environ.get("BENCH_CLIENT_CPU", "1")))
    if not LOAD.exists():
        sys.exit(f"{LOAD} is not built: run `make bench` (or cargo build --release -p wsconnector-bench)")

    plan = scenarios.plan(quick, servers.fd_limit())
    plan = scenarios.Plan(select(plan.scenarios, args.scenarios, "scenarios"),
                          plan.repeats, plan.warmup_s, plan.window_s)
    chosen = select(servers.SERVERS, args.servers, "servers")
    skipped: Dict[str, str] = {}
    for server in chosen:
        reason = server.unavailable()
        if reason:
            skipped[server.key] = reason
            print(f"skipping {server.key}: {reason}")
    running = [s for s in chosen if s.key not in skipped]
    about = machine.describe(ROOT)
    print(f"{'quick' if quick else 'full'} run on {machine.summary_line(about)}; "
          f"{len(running)} servers x {len(plan.scenarios)} loads x {plan.repeats} repeats")

    runs: List[dict] = []
    total = plan.repeats * sum(
        results.measured_under(server, scenario) for server in running for scenario in plan.scenarios
    )
    started = time.monotonic()
    for repeat in range(plan.repeats):
        for scenario in plan.scenarios:
            # Interleaved: each repeat starts with another server, so drift hits all alike.
            shift = repeat % max(len(running), 1)
            for server in running[shift:] + running[:shift]:
                if not results.measured_under(server, scenario):
                    continue
                result = measure(server, scenario, cpus)
                runs.append({"scenario": scenario.key, "server": server.key,
                             "repeat": repeat, "result": result})
                print(f"[{len(runs)}/{total} {time.monotonic() - started:5.0f} s] {scenario.key}"
                      f" {server.key}: {headline(scenario, result)}", flush=True)

    summary = results.summarize(plan, chosen, runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick" if quick else "results"
    markdown = results.markdown(plan, chosen, skipped, runs, summary, about, quick, cpus)
    (RESULTS / f"{name}.md").write_text(markdown)
    results.write_json(RESULTS / f"{name}.json", plan, about, skipped, runs, summary, quick)
    print()
    print(markdown)
    print(f"written: benches/results/{name}.md and {name}.json")
    if not quick and not args.servers and not args.scenarios:
        results.update_readme(ROOT / "README.md",
                              results.readme_section(plan, chosen, skipped, summary, about))
        print("README.md: performance section updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
