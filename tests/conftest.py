"""Shared fixtures and helpers of the test suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same cases on every run (a red CI run replays exactly), and a
# failure prints the blob that reproduces it (@reproduce_failure). For a wider random
# search: HYPOTHESIS_PROFILE=explore (which prints the seed of a failing run too).
settings.register_profile("replayable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "replayable"))

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# The hand-checked bank (tests/conformance.py) and the benchmark generators
# (benchmarks/instances.py) are imported by several test files.
for path in (str(TESTS), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

ORLIB = ROOT / "benchmarks" / "data" / "orlib"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def pmed1_path() -> Path:
    return ORLIB / "pmed1.txt"


def brute_force(profit: np.ndarray, k: int) -> float:
    """``max_{|S| = min(k, m)} sum_i max_{j in S} profit[i, j]`` by listing every set."""
    import itertools

    profit = np.asarray(profit, dtype=float)
    m = profit.shape[1]
    return max(
        float(profit[:, list(s)].max(axis=1).sum()) for s in itertools.combinations(range(m), min(k, m))
    )


#: A test may skip only when an optional peer is missing; its reason must start with this.
OPTIONAL_PEER = "optional peer"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip is a failure unless it names a missing optional peer (``pytest.skip("optional
    peer econml is not installed")``): the suite cannot pass by skipping a broken part."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if not reason.startswith(OPTIONAL_PEER):
            report.outcome = "failed"
            report.longrepr = (f"skipped without a missing optional peer: {reason!r}. Required dependencies are "
                               f"plain imports; only a skip whose reason starts with {OPTIONAL_PEER!r} is allowed.")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a whole module skipped at import (``pytest.importorskip`` at top level)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if not reason.startswith(OPTIONAL_PEER):
            report.outcome = "failed"
            report.longrepr = f"module skipped without a missing optional peer: {reason!r}."
