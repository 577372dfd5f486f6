"""The tutorial cannot break unnoticed: every command of ``docs/getting-started.md`` (its
``bash`` blocks, in order, in one working directory, as a reader would type them), every
config in ``examples/`` and the README's Python snippet run here.

To stay fast, ``coarseopt run`` commands that fit models get :data:`FAST` (the same study on
fewer customers and folds); everything else runs as written. ``make test`` cannot run
the suite from inside the suite, so make is asked for its recipe (``make -n test``) and the
recipe is checked; ``make run`` runs for real (into a temporary directory) when the virtual
environment it uses is up to date, and is never allowed to reinstall from a test.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "getting-started.md"
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
SAMPLE = 1500  # customers per fitted study in these tests
#: What a fitted study gets in these tests: fewer customers and the fewest folds of the
#: cross-fitted study (3 + 3 model fits instead of 5 + 10), fitted in this process.
FAST = f"--set data.sample={SAMPLE} --set split.folds=3 --set estimation.n_jobs=1"


def bash_commands(markdown: str) -> list[str]:
    """Every command of the ``bash`` blocks, in order (comments and blank lines dropped)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            out.append(_strip_comment(line))
    return out


def _strip_comment(line: str) -> str:
    """A shell line without its trailing ``# comment`` (not inside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'" and quote is None:
            quote = ch
        elif ch == quote:
            quote = None
        elif ch == "#" and quote is None and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, re.S)


def _env() -> dict:
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""), PYTHONWARNINGS="ignore",
                COARSEOPT_PROGRESS="0")


def _fits_models(command: str) -> bool:
    words = command.split()
    return words[:2] == ["coarseopt", "run"] and not {"--check", "--print-default-config"} & set(words)


def _shell(command: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, executable="/bin/bash")


def _make_ready() -> bool:
    """Whether ``make run`` would start without (re)installing the virtual environment."""
    if shutil.which("make") is None:
        return False
    venv = ROOT / ".venv" / "bin"
    if not (venv / "coarseopt").exists() or Path(sys.executable).parent.resolve() != venv.resolve():
        return False
    return subprocess.run(["make", "-q", ".venv/bin/.installed"], cwd=ROOT, capture_output=True).returncode == 0


def _edit_study(cwd: Path, block: str) -> None:
    """What the reader does after ``--print-default-config > study.toml``: edit the [data],
    [columns] and [economics] sections as the guide shows, removing ``dataset``."""
    printed = tomllib.loads((cwd / "study.toml").read_text(encoding="utf-8"))
    edits = tomllib.loads(block)
    printed["data"].pop("dataset", None)
    for section, values in edits.items():
        printed.setdefault(section, {}).update(values)
    from coarseopt.config import dump_toml

    (cwd / "study.toml").write_text(dump_toml(printed), encoding="utf-8")


def test_guide_commands_are_found():
    commands = bash_commands(GUIDE.read_text(encoding="utf-8"))
    assert commands[:2] == ["make run", "make test"]
    assert any(c.startswith("coarseopt run examples/hillstrom.toml") for c in commands)
    assert any(c.startswith("python -c") for c in commands)
    assert any(c.startswith("coarseopt solve") for c in commands)
    assert _strip_comment('echo "a # b"  # note') == 'echo "a # b"'


@pytest.mark.slow
def test_every_command_of_the_getting_started_guide_runs(tmp_path):
    markdown = GUIDE.read_text(encoding="utf-8")
    commands = bash_commands(markdown)
    blocks = toml_blocks(markdown)
    assert len(blocks) == 1, "the guide's study.toml edit"
    cwd = tmp_path / "tutorial"
    cwd.mkdir()
    (cwd / "examples").symlink_to(ROOT / "examples")
    ran = []
    for command in commands:
        if command == "make test":
            proc = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            assert "-m pytest" in proc.stdout
            ran.append(command)
            continue
        if command.startswith("make run"):
            if not _make_ready():
                continue  # exercised through `coarseopt run` below; make never reinstalls from a test
            args = command[len("make run"):].strip()
            extra = f"{FAST} --out {cwd / 'make-results'}"
            given = args.split("=", 1)[1].strip("'\"") if args.startswith("ARGS=") else ""
            command = f"make -C {ROOT} run ARGS='{given} {extra}'"
        elif _fits_models(command):
            command = f"{command} {FAST}"
        proc = _shell(command, cwd)
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
        if "--print-default-config > study.toml" in command:
            _edit_study(cwd, blocks[0])
        ran.append(command)
    # the guide's study really ran on the file it made, and its outputs are there
    assert (cwd / "my-experiment.csv").exists()
    for out in ("hillstrom-results", "my-results", "r2", "r3", "another-dir"):
        assert (cwd / out / "summary.json").exists(), out
    assert "make test" in ran


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_config_runs(path, tmp_path):
    """Each example, as shipped, passes ``--check`` and runs (on a subsample); the template
    for your own data runs on a synthetic file with its columns."""
    work = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", work)
    if path.stem == "own-data":
        _own_data_file(work / "my-experiment.csv")
    else:  # the examples' relative data paths point into the source tree
        (tmp_path / "coarseopt").symlink_to(ROOT / "coarseopt")
    config = work / path.name
    check = _shell(f"coarseopt run {shlex.quote(str(config))} --check", tmp_path)
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout
    run = _shell(f"coarseopt run {shlex.quote(str(config))} --out res {FAST} --set output.report=false", tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "res" / "summary.json").exists()


def _own_data_file(path: Path, n: int = 3000, seed: int = 0) -> None:
    """A file with the columns ``examples/own-data.toml`` names."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, size=n)
    tenure = rng.exponential(3.0, size=n).round(1)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    past = rng.poisson(2.0, size=n)
    offer = rng.choice(["none", "coupon", "free-shipping"], size=n)
    revenue = 20 + 2 * past + np.where(offer == "coupon", 8.0 * (age < 40), 0.0) + np.where(
        offer == "free-shipping", 6.0 * (region == "west"), 0.0) + rng.normal(scale=5.0, size=n)
    pd.DataFrame({"age": age, "tenure": tenure, "region": region, "past_orders": past, "offer": offer,
                  "revenue": revenue}).to_csv(path, index=False)


def test_readme_snippet_runs_and_evaluates_on_held_out_customers(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(snippets) == 1
    code = snippets[0]
    assert "predict(test)" in code and "policy_value" in code  # measured on customers it did not learn from
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"held-out profit over no e-mail: -?\d+\.\d+ per customer, 95% CI \[", proc.stdout)


def test_recorded_results_name_no_path_of_the_machine_they_ran_on():
    """Commands and notes in the docs and the recorded benchmark results speak of the project:
    a checkout or a file appears by its role (``<checkout of abc1234>``), not by a local path
    (an invented user's path in an example error message excepted)."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "benchmarks" / "results").rglob("*.md")),
             *sorted((ROOT / "benchmarks" / "results").rglob("*.jsonl"))]
    local = re.compile(r"""(^|[\s`'"(=])/(work|tmp|root|mnt|home/(?!me/))[\w./-]*""")
    found = [f"{f.relative_to(ROOT)}: {m.group(0).strip()}" for f in files
             for m in local.finditer(f.read_text(encoding="utf-8"))]
    assert not found, found
