"""Measuring a run: wall time, peak memory, versions and machine facts.

Peak memory is the largest resident set size (RSS) of this process seen while the measured
code runs, minus the RSS just before it: what the call added on top of its input, native
allocations (HiGHS, BLAS, OpenMP) included. A background thread samples RSS every few
milliseconds, so a very short spike can be missed; numbers are rounded to 0.1 MB.
``peak_tree_mb`` adds the memory of the worker processes the call starts (joblib's parallel
model fits): their unique set size (USS, pages no other process shares), sampled every
0.2 s, so that memory-mapped inputs shared with this process are not counted twice.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

__all__ = ["PeakMemory", "measure", "machine_facts", "versions", "git_commit"]

PACKAGES = ("coarseopt", "numpy", "scipy", "pandas", "scikit-learn", "pyomo", "highspy", "pot", "dask",
            "matplotlib", "econml")


class PeakMemory:
    """Context manager: ``peak_mb`` is the largest RSS increase seen inside the block;
    ``peak_tree_mb`` the same with the block's worker processes counted."""

    def __init__(self, interval: float = 0.005, tree_interval: float = 0.2) -> None:
        self.interval = interval
        self.tree_every = max(1, round(tree_interval / interval))
        self.peak_mb = self.peak_tree_mb = 0.0

    def __enter__(self) -> "PeakMemory":
        import psutil

        self._proc = psutil.Process()
        self._start = self._proc.memory_info().rss
        self._peak = self._peak_tree = self._start
        self._before = {c.pid for c in self._proc.children(recursive=True)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _workers(self) -> int:
        import psutil

        total = 0
        for child in self._proc.children(recursive=True):
            if child.pid in self._before:
                continue
            try:
                total += child.memory_full_info().uss
            except (psutil.Error, OSError):  # ended meanwhile
                pass
        return total

    def _sample(self) -> None:
        count = 0
        workers = 0
        while not self._stop.is_set():
            rss = self._proc.memory_info().rss
            if count % self.tree_every == 0:
                workers = self._workers()
            count += 1
            self._peak = max(self._peak, rss)
            self._peak_tree = max(self._peak_tree, rss + workers)
            self._stop.wait(self.interval)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = round((self._peak - self._start) / 2**20, 1)
        self.peak_tree_mb = round((max(self._peak_tree, self._peak) - self._start) / 2**20, 1)


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn()``; return ``(value, seconds, peak_mb)``."""
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
    return value, seconds, mem.peak_mb


def versions() -> dict[str, str | None]:
    """Installed versions of coarseopt and the packages the benchmarks touch."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, Any]:
    """CPU, core count, memory, operating system and the time of the run (UTC)."""
    import psutil

    return {
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
    }


def git_commit(repo: Path | None = None) -> str | None:
    """The checked-out commit of the source tree the benchmarks run from (None outside git)."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def json_default(x: Any) -> Any:
    """``json.dumps(default=...)`` for benchmark rows: numpy scalars as numbers (NaN as
    null), arrays as lists, anything else as its string."""
    import math

    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
