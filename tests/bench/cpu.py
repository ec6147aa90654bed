"""CPU seconds used per process group on this machine, from /proc: where a benchmark's time goes.

A snapshot reads every process's user + system time; the difference of two snapshots, grouped
by what each process is (a Leadflow role from its command line, Tansu, PostgreSQL, this
benchmark's own process), says which part of the stack spent the machine's cores. Processes
that started or ended in between count with what they used while seen. Linux only: elsewhere
the snapshot is empty and so is the report.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _group(pid: int, comm: str, cmdline: list[str]) -> str:
    if pid == os.getpid():
        return "load_generator"
    if comm.startswith("postgres"):
        return "postgresql"
    if "tansu" in comm:
        return "tansu"
    if "services" in cmdline:  # python -m services ROLE ...
        at = cmdline.index("services")
        if at + 1 < len(cmdline):
            return cmdline[at + 1]
    return "other"


def snapshot() -> dict[int, tuple[str, float]]:
    """Each live process: its group and the CPU seconds it has used."""
    seen: dict[int, tuple[str, float]] = {}
    for entry in PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended while we looked
            continue
        # The command name is in parentheses and may hold spaces; the fields after it are plain.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])
        pid = int(entry.name)
        seen[pid] = (_group(pid, comm, cmdline), (utime + stime) / TICKS)
    return seen


def used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per group between two snapshots, largest first."""
    totals: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        start = before.get(pid, (group, 0.0))[1]
        totals[group] = totals.get(group, 0.0) + max(seconds - start, 0.0)
    return dict(sorted(totals.items(), key=lambda item: -item[1]))
