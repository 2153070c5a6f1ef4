"""What the CPU offers, from /proc/cpuinfo (Linux); used to size thread pools and by `doctor`."""

from __future__ import annotations

import os
from pathlib import Path


def count_physical_cores(cpuinfo: str) -> int | None:
    """Distinct (physical id, core id) pairs; None when cpuinfo does not say (e.g. some ARM kernels)."""
    cores: set[tuple[str, str]] = set()
    phys = core = None
    for line in cpuinfo.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((phys or "0", core))
            phys = core = None
    return len(cores) or None


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads slow llama.cpp down, not up)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        allowed = os.cpu_count() or 1
    try:
        cores = count_physical_cores(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        cores = None
    return max(1, min(allowed, cores or allowed))
