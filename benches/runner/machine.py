"""What the figures were taken on: processor, cores, memory, kernel, compiler, commit."""

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Dict


def _run(command, cwd=None) -> str:
    try:
        return subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def describe(root: Path) -> Dict[str, object]:
    """The machine and the source the run measures."""
    model = ""
    for line in _run(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    commit = _run(["git", "rev-parse", "--short", "HEAD"], cwd=root)
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root))
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "kernel": platform.release(),
        "rustc": _run(["rustc", "--version"]),
        "commit": commit + (" (uncommitted changes)" if dirty else ""),
    }


def summary_line(machine: Dict[str, object]) -> str:
    """One line naming the machine, for the README and the results file."""
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}"
    )
