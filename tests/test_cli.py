"""The ``coarseopt`` command, driven as a subprocess: exit codes, one-line errors, solve,
evaluate, solvers, benchmark. End-to-end ``run`` tests are in ``test_cli_run.py``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EXIT_USAGE = 2


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m coarseopt ARGS`` in ``cwd`` (progress bars off: not a terminal)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "coarseopt", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, exactly one line on standard error, no traceback, naming every fragment."""
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def main_in_process(capsys, monkeypatch, cwd: Path, *args: str) -> tuple[int, str, str]:
    """The same command through :func:`coarseopt.cli.main` in this process (faster; used for
    the larger error matrices, while the subprocess tests check the real executable)."""
    from coarseopt.cli import main

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error_in_process(result: tuple[int, str, str], *fragments: str) -> None:
    code, _out, err = result
    proc = subprocess.CompletedProcess([], code, _out, err)
    assert_one_line_error(proc, *fragments)


def make_experiment(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A three-arm randomized experiment whose best targeting is known.

    Arm ``A`` pays for customers with ``x1 > 0``, arm ``B`` for those with ``vip == 1``;
    both cost 0.5. With k = 2 the optimum offers A and B.
    """
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    vip = rng.integers(0, 2, size=n)
    region = rng.choice(["north", "south", "east"], size=n)
    arm = rng.choice(["none", "A", "B"], size=n)
    gain = np.where(arm == "A", 3.0 * (x1 > 0), 0.0) + np.where(arm == "B", 3.0 * (vip == 1), 0.0)
    spend = 2.0 + 0.5 * x1 + gain + rng.normal(scale=1.0, size=n)
    return pd.DataFrame({"spend": spend, "arm": arm, "x1": x1, "vip": vip, "region": region})


def write_study(tmp_path: Path, df: pd.DataFrame | None = None, extra: str = "", name: str = "study.toml",
                data_name: str = "exp.csv") -> Path:
    """A small study config on :func:`make_experiment` data (exact solver, 2-fold)."""
    df = make_experiment() if df is None else df
    if data_name.endswith(".csv"):
        df.to_csv(tmp_path / data_name, index=False)
    else:
        df.to_parquet(tmp_path / data_name, index=False)
    text = f"""
[data]
path = "{data_name}"

[columns]
outcome = "spend"
treatment = "arm"
control = "none"
features = ["x1", "vip", "region"]

[economics]
margin = 1.0
cost = {{ A = 0.5, B = 0.5 }}

[estimation]
cv = 2

[solve]
k = [1, 2]
solver = "enumerate"

[evaluation]
all_estimators = false
{extra}
"""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- basics
def test_version_and_help():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("coarseopt ")
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("run", "solve", "evaluate", "benchmark", "solvers"):
        assert command in proc.stdout


def test_no_command_prints_usage_and_exits_2():
    proc = run_cli()
    assert proc.returncode == EXIT_USAGE
    assert "usage: coarseopt" in proc.stdout


def test_bad_argument_is_one_line():
    assert_one_line_error(run_cli("solve"), "the following arguments are required")
    assert_one_line_error(run_cli("run", "--no-such-flag"), "unrecognized arguments: --no-such-flag")


def test_print_default_config_is_valid_toml(tmp_path):
    proc = run_cli("run", "--print-default-config")
    assert proc.returncode == 0
    doc = tomllib.loads(proc.stdout)
    assert doc["solve"]["k"] == [1, 2, 3] and doc["data"]["dataset"] == "hillstrom"
    assert proc.stdout.count("#") > 20  # commented
    path = tmp_path / "study.toml"
    path.write_text(proc.stdout, encoding="utf-8")
    check = run_cli("run", str(path), "--check", "--set", "solve.solver=enumerate", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout


# ---------------------------------------------------------------------------- bad configs
@pytest.mark.parametrize(
    "extra_args, fragments",
    [
        (["--set", "solve.k=0"], ["[solve] k = 0", "integer >= 1"]),
        (["--set", "solve.solver=simplex"], ["[solve] solver = \"simplex\"", "unknown solver", "available:"]),
        (["--set", "solve.options.bogus=1"], ["[solve.options]", "bogus", "Valid options"]),
        (["--set", "estimation.cv=one"], ["[estimation] cv = \"one\"", "integer >= 2"]),
        (["--set", "data.path=nowhere.csv"], ["[data] path = \"nowhere.csv\"", "no such file"]),
        (["--set", "stuff.k=1"], ["unknown section [stuff]"]),
    ],
)
def test_bad_config_values_exit_2_with_one_line(tmp_path, capsys, monkeypatch, extra_args, fragments):
    study = write_study(tmp_path)
    result = main_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check", *extra_args)
    assert_one_line_error_in_process(result, *fragments)


def test_bad_config_exit_code_of_the_executable(tmp_path):
    study = write_study(tmp_path)
    proc = run_cli("run", str(study), "--check", "--set", "solve.k=[2, 0]", cwd=tmp_path)
    assert_one_line_error(proc, "[solve] k = [2, 0]", "integer >= 1")


def test_unknown_key_in_file(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path, extra="[solve.options]\n[output]\nformat = \"csv\"\n")
    proc = main_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(proc, "unknown key [output] format", "allowed keys in [output]")


def test_missing_config_file(tmp_path):
    assert_one_line_error(run_cli("run", "nope.toml", cwd=tmp_path), "config file 'nope.toml' does not exist")


def test_nan_in_used_column_names_column_and_count(tmp_path):
    df = make_experiment()
    df.loc[[3, 10, 99], "x1"] = np.nan
    study = write_study(tmp_path, df)
    proc = run_cli("run", str(study), "--out", "out", cwd=tmp_path)
    assert_one_line_error(proc, "column \"x1\" has 3 missing value(s)", "dropna = true")
    assert not (tmp_path / "out").exists()


def test_missing_column_lists_the_columns(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path, extra="")
    proc = main_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--out", "out",
                           "--set", "columns.outcome=revenue")
    assert_one_line_error_in_process(proc, "[columns] outcome = \"revenue\": no such column", "columns: spend, arm")


def test_unknown_control_arm(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path)
    proc = main_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--out", "out",
                           "--set", "columns.control=placebo")
    assert_one_line_error_in_process(proc, "[columns] control = \"placebo\": not an arm", "arms: A, B, none")


def test_cost_for_unknown_arm(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path)
    proc = main_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--out", "out",
                           "--set", "economics.cost={ C = 1.0 }")
    assert_one_line_error_in_process(proc, "[economics] cost: \"C\" is not an arm")


def test_refuses_non_empty_output_directory(tmp_path):
    study = write_study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    proc = run_cli("run", str(study), "--out", str(out), "--check", cwd=tmp_path)
    assert_one_line_error(proc, "not empty", "--force")
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    proc = run_cli("run", str(study), "--out", str(tmp_path / "exp.csv"), "--check", cwd=tmp_path)
    assert_one_line_error(proc, "not a directory")


def test_verbose_shows_the_traceback_of_a_user_error(tmp_path):
    proc = run_cli("run", "--set", "solve.k=0", "--check", "--verbose", cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" in proc.stderr and "[solve] k = 0" in proc.stderr.splitlines()[-1]


# ---------------------------------------------------------------------------- solve
@pytest.fixture
def profit_csv(tmp_path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(7)
    profit = rng.normal(size=(200, 5))
    df = pd.DataFrame(profit, columns=[f"t{j}" for j in range(5)])
    df.insert(0, "customer", [f"c{i}" for i in range(200)])
    path = tmp_path / "profit.csv"
    df.to_csv(path, index=False)
    return path, profit


def _brute(profit: np.ndarray, k: int) -> float:
    m = profit.shape[1]
    return max(profit[:, list(s)].max(axis=1).sum() for s in itertools.combinations(range(m), min(k, m)))


def test_solve_json_matches_brute_force(profit_csv, tmp_path):
    path, profit = profit_csv
    proc = run_cli("solve", str(path), "-k", "1,2", "-k", "3", "--solver", "enumerate", "--index", "customer",
                   "--json", "--out", "assign.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert [r["k"] for r in payload] == [1, 2, 3]
    for r in payload:
        assert r["status"] == "optimal"
        assert r["objective"] == pytest.approx(_brute(profit, r["k"]))
        assert len(r["offered"]) == r["k"]
    assign = pd.read_csv(tmp_path / "assign.csv")
    assert list(assign.columns) == ["customer", "treatment_k1", "treatment_k2", "treatment_k3"]
    assert assign["customer"].tolist() == [f"c{i}" for i in range(200)]
    # every customer gets its best offered treatment
    offered = payload[1]["offered"]
    cols = [int(t[1:]) for t in offered]
    best = np.array([f"t{cols[j]}" for j in profit[:, cols].argmax(axis=1)])
    assert (assign["treatment_k2"].to_numpy() == best).all()


def test_solve_text_output_and_overwrite_protection(profit_csv, tmp_path):
    path, _ = profit_csv
    df = pd.read_csv(path).drop(columns="customer")
    df.to_parquet(tmp_path / "profit.parquet")
    proc = run_cli("solve", "profit.parquet", "-k", "2", "--solver", "local-search", "--out", "a.parquet",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "k=2: solver local-search" in proc.stdout and "offered:" in proc.stdout
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 200
    again = run_cli("solve", "profit.parquet", "-k", "2", "--solver", "local-search", "--out", "a.parquet",
                    cwd=tmp_path)
    assert_one_line_error(again, "--out 'a.parquet': the file exists", "--force")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["-k", "0"], ["-k 0: must be an integer >= 1"]),
        (["-k", "two"], ["-k 'two': must be an integer >= 1"]),
        (["-k", "2", "--solver", "simplex"], ["--solver 'simplex': unknown solver", "enumerate"]),
        (["-k", "2", "--solver", "enumerate", "-o", "bogus=1"], ["Unknown option(s) ['bogus']", "max_work"]),
        (["-k", "2", "--solver", "enumerate", "-o", "max_work=-3"], ["'max_work' option", "-3"]),
        (["-k", "2", "--solver", "enumerate", "--time-limit", "-1"], ["--time-limit -1.0"]),
    ],
)
def test_solve_bad_input(profit_csv, tmp_path, capsys, monkeypatch, args, fragments):
    path, _ = profit_csv
    result = main_in_process(capsys, monkeypatch, tmp_path, "solve", str(path), "--index", "customer", *args)
    assert_one_line_error_in_process(result, *fragments)


def test_solve_file_problems(profit_csv, tmp_path):
    path, _ = profit_csv
    assert_one_line_error(run_cli("solve", "missing.parquet", "-k", "2", cwd=tmp_path), "no such file")
    # a text column without --index
    assert_one_line_error(run_cli("solve", str(path), "-k", "2", "--solver", "enumerate", cwd=tmp_path),
                          "customer", "not numeric", "--index")
    df = pd.read_csv(path)
    df.loc[5, "t2"] = np.nan
    df.to_csv(tmp_path / "nan.csv", index=False)
    assert_one_line_error(
        run_cli("solve", "nan.csv", "-k", "2", "--solver", "enumerate", "--index", "customer", cwd=tmp_path),
        "column 't2' has 1 missing value(s)",
    )


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_matches_the_library(tmp_path):
    import coarseopt as co

    rng = np.random.default_rng(3)
    n = 3000
    x = rng.uniform(size=n)
    action = rng.choice(["email", "none"], size=n)
    profit = 1.0 + (action == "email") * (x - 0.4) + rng.normal(size=n)
    data = pd.DataFrame({"profit": profit, "treatment": action, "x": x})
    data.to_csv(tmp_path / "holdout.csv", index=False)
    a = np.where(x > 0.4, "email", "none")
    b = np.full(n, "email")
    pd.DataFrame({"treatment": a}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"row": np.arange(n), "split": "test", "treatment_k1": b}).to_csv(tmp_path / "b.csv", index=False)
    proc = run_cli("evaluate", "holdout.csv", "--policy-a", "a.csv", "--policy-b", "b.csv", "--design", "rba",
                   "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    ref = co.evaluation.compare_policies(profit, action, a, b, design="rba")
    assert got["estimate"] == pytest.approx(ref.estimate)
    assert got["se"] == pytest.approx(ref.se)
    assert got["n_disagree"] == int((a != b).sum())
    text = run_cli("evaluate", "holdout.csv", "--policy-a", "a.csv", "--policy-b", "b.csv", cwd=tmp_path)
    assert text.returncode == 0 and "V(A) - V(B) =" in text.stdout and "95% CI" in text.stdout


def test_evaluate_bad_input(tmp_path, capsys, monkeypatch):
    def run_cli(*args, cwd):  # in process: a matrix of one-line errors
        return subprocess.CompletedProcess([], *main_in_process(capsys, monkeypatch, cwd, *args))

    pd.DataFrame({"profit": [1.0, 2.0], "treatment": ["a", "b"]}).to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame({"treatment": ["a", "b", "a"]}).to_csv(tmp_path / "p3.csv", index=False)
    assert_one_line_error(
        run_cli("evaluate", "d.csv", "--policy-a", "p3.csv", "--policy-b", "treatment", cwd=tmp_path),
        "has 3 rows; the data has 2",
    )
    assert_one_line_error(
        run_cli("evaluate", "d.csv", "--policy-a", "zzz", "--policy-b", "treatment", cwd=tmp_path),
        "--policy-a 'zzz': neither a file nor a column",
    )
    assert_one_line_error(
        run_cli("evaluate", "d.csv", "--policy-a", "treatment", "--policy-b", "treatment", "--outcome", "y",
                cwd=tmp_path),
        "--outcome 'y': no such column",
    )
    assert_one_line_error(
        run_cli("evaluate", "d.csv", "--policy-a", "treatment", "--policy-b", "treatment", "--design", "rbp",
                cwd=tmp_path),
        "needs --assigned",
    )


# ---------------------------------------------------------------------------- solvers, benchmark
def test_solvers_lists_the_registry():
    import coarseopt as co

    proc = run_cli("solvers", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == set(co.registered_solvers())
    assert rows["enumerate"]["available"] and rows["enumerate"]["exact"]
    assert "max_work" in rows["enumerate"]["options"]
    text = run_cli("solvers")
    assert text.returncode == 0 and "enumerate  [exact" in text.stdout


def test_benchmark_lists_suites():
    """The dev install ships the benchmark package: its suites are listed."""
    proc = run_cli("benchmark", "--list")
    assert proc.returncode == 0, proc.stderr
    assert "smoke" in [line.split(":")[0] for line in proc.stdout.splitlines()]
    assert_one_line_error(run_cli("benchmark", "--suite", "nope"), "--suite 'nope': unknown suite", "smoke")


def test_benchmark_explains_a_missing_suite(tmp_path, capsys, monkeypatch):
    """Without the benchmark package (installed or in the checkout): one line saying so."""
    import importlib

    real = importlib.import_module

    def no_benchmarks(name, *args, **kwargs):
        if name.startswith("coarseopt_benchmarks"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_benchmarks)
    monkeypatch.delitem(sys.modules, "coarseopt_benchmarks", raising=False)
    assert_one_line_error_in_process(main_in_process(capsys, monkeypatch, tmp_path, "benchmark", "--list"),
                                     "benchmark suite is not installed", "pip install -e .")


def test_internal_error_exits_1_with_traceback(profit_csv, tmp_path, capsys, monkeypatch):
    """A failure that is not the user's (here: a broken solver plugin) is a bug: exit 1, traceback."""
    import coarseopt as co
    from coarseopt import registry

    class Broken(co.Solver):
        name = "broken-for-test"

        def _solve(self, problem, context):
            raise RuntimeError("plugin bug")

    monkeypatch.setitem(registry._EXTRA, "broken-for-test", Broken)
    path, _ = profit_csv
    code, _out, err = main_in_process(capsys, monkeypatch, tmp_path, "solve", str(path), "--index", "customer",
                                      "-k", "2", "--solver", "broken-for-test")
    assert code == 1
    assert "Traceback" in err and "RuntimeError: plugin bug" in err
    assert "internal error: plugin bug" in err.splitlines()[-1]
