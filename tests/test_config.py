"""Study config files: defaults, validation (one line naming key and allowed values), TOML I/O."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from coarseopt.config import (
    DEFAULT_CONFIG_TOML,
    SCHEMA,
    ConfigError,
    dump_toml,
    load_config,
    parse_config,
    parse_override,
)


def _write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_values():
    cfg = load_config(None, check_solver=False)
    assert cfg.source == "<default>"
    assert cfg.data["dataset"] == "hillstrom"
    assert cfg.solve["k"] == [1, 2, 3]
    assert cfg.solve["solver"] == "ot"
    assert cfg.columns["control"] == "No E-Mail"
    assert cfg.output["dir"] == "coarseopt-results"


def test_printed_default_is_the_embedded_default():
    """The commented text users start from parses to exactly the embedded default."""
    from_text = parse_config(tomllib.loads(DEFAULT_CONFIG_TOML), check_solver=False).as_dict()
    embedded = load_config(None, check_solver=False).as_dict()
    assert from_text == embedded


def test_every_key_is_documented_in_the_default_text():
    doc = tomllib.loads(DEFAULT_CONFIG_TOML)
    for section, keys in SCHEMA.items():
        assert section in doc, section
        for key in keys:
            if key in ("path", "test_size"):  # commented out: a bundled data set, the cross-fitted study
                assert f"# {key} =" in DEFAULT_CONFIG_TOML
                continue
            assert key in doc[section], f"[{section}] {key}"


def test_partial_file_keeps_other_defaults(tmp_path):
    path = _write(tmp_path, "[solve]\nk = 2\nsolver = \"enumerate\"\n")
    cfg = load_config(path)
    assert cfg.solve["k"] == [2]
    assert cfg.solve["solver"] == "enumerate"
    assert cfg.estimation["cv"] == 5
    assert cfg.base_dir == tmp_path.resolve()


def test_k_list_is_sorted_and_deduplicated(tmp_path):
    cfg = load_config(_write(tmp_path, "[solve]\nk = [3, 1, 3]\nsolver = \"enumerate\"\n"))
    assert cfg.solve["k"] == [1, 3]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[solve]\nk = 0\n", ["[solve] k = 0", "integer >= 1"]),
        ("[solve]\nk = []\n", ["[solve] k = []", "integer >= 1"]),
        ("[solve]\nk = \"2\"\n", ["[solve] k", "integer >= 1"]),
        ("[solve]\nk = [1, 0]\n", ["[solve] k", "integer >= 1"]),
        ("[solve]\nsolvr = \"mip\"\n", ["unknown key [solve] solvr", "did you mean 'solver'", "allowed keys"]),
        ("[solver]\nname = \"mip\"\n", ["unknown section [solver]", "did you mean 'solve'", "allowed sections"]),
        ("[split]\ntest_size = 1.5\n", ["[split] test_size = 1.5", "(0, 1)"]),
        ("[split]\ntest_size = true\n", ["[split] test_size = true", "number"]),
        ("[estimation]\ncv = 1\n", ["[estimation] cv = 1", ">= 2"]),
        ("[estimation]\nlearner = \"forest\"\n", ["[estimation] learner", "\"t\""]),
        ("[economics]\nmargin = -1\n", ["[economics] margin = -1", ">= 0"]),
        ("[economics]\ncost = { a = \"x\" }\n", ["[economics] cost", "table of numbers"]),
        ("[evaluation]\nmethod = \"magic\"\n", ["[evaluation] method", "\"disagreement\""]),
        ("[evaluation]\nalpha = 0\n", ["[evaluation] alpha = 0", "(0, 0.5)"]),
        ("[data]\ndropna = \"yes\"\n", ["[data] dropna", "true or false"]),
        ("[columns]\nfeatures = \"age\"\n", ["[columns] features", "list of column names"]),
        ("[output]\nassignment_format = \"xlsx\"\n", ["[output] assignment_format", "\"csv\", \"parquet\""]),
        ("solve = 3\n", ["'solve' must be a section"]),
    ],
)
def test_invalid_values_name_key_and_allowed(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, check_solver=False)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    for part in expected:
        assert part in msg, (part, msg)


def test_missing_data_file_names_key_and_resolved_path(tmp_path):
    path = _write(tmp_path, "[data]\npath = \"missing.csv\"\n")
    with pytest.raises(ConfigError, match=r"\[data\] path = \"missing.csv\": no such file") as info:
        load_config(path, check_solver=False)
    assert str(tmp_path / "missing.csv") in str(info.value)


#: The columns a config on the user's own file must name (they have no default then).
OWN_COLUMNS = '[columns]\noutcome = "y"\ntreatment = "t"\nfeatures = ["x"]\n'


def test_relative_data_path_resolves_against_the_config(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "exp.csv").write_text("y,t,x\n1,a,2\n", encoding="utf-8")
    cfg = load_config(_write(sub, "[data]\npath = \"exp.csv\"\n" + OWN_COLUMNS), check_solver=False)
    assert cfg.data_path == sub.resolve() / "exp.csv"
    assert cfg.data["format"] == "csv"
    assert cfg.data["dataset"] == ""


def test_unknown_extension_needs_a_format(tmp_path):
    (tmp_path / "exp.txt").write_text("y\n1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[data\] path = \"exp.txt\": cannot tell the format"):
        load_config(_write(tmp_path, "[data]\npath = \"exp.txt\"\n"), check_solver=False)
    cfg = load_config(_write(tmp_path, "[data]\npath = \"exp.txt\"\nformat = \"csv\"\n" + OWN_COLUMNS),
                      check_solver=False)
    assert cfg.data["format"] == "csv"


def test_dataset_and_path_together_are_refused(tmp_path):
    (tmp_path / "exp.csv").write_text("y\n1\n", encoding="utf-8")
    path = _write(tmp_path, "[data]\ndataset = \"hillstrom\"\npath = \"exp.csv\"\n")
    with pytest.raises(ConfigError, match="give exactly one"):
        load_config(path, check_solver=False)


def test_invalid_toml_reports_the_line(tmp_path):
    path = _write(tmp_path, "[solve]\nk = [1, 2\nsolver = 3\n")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line \d+"):
        load_config(path)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("no-such-study.toml")


def test_solver_resolves_through_the_registry(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "[solve]\nsolver = \"enumerat\"\n"))
    msg = str(info.value)
    assert "[solve] solver = \"enumerat\": unknown solver" in msg
    assert "did you mean 'enumerate'" in msg
    assert "available: " in msg and "enumerate" in msg


def test_solver_options_are_validated(tmp_path):
    bad = _write(tmp_path, "[solve]\nsolver = \"enumerate\"\n[solve.options]\nmax_wrk = 5\n")
    with pytest.raises(ConfigError, match=r"\[solve.options\]: .*max_wrk.*Valid options: max_knapsack, max_lp, max_work"):
        load_config(bad)
    wrong = _write(tmp_path, "[solve]\nsolver = \"enumerate\"\n[solve.options]\nmax_work = 0\n", "w.toml")
    with pytest.raises(ConfigError, match=r"'max_work' option of solver 'enumerate'"):
        load_config(wrong)
    ok = _write(tmp_path, "[solve]\nsolver = \"enumerate\"\n[solve.options]\nmax_work = 1000\n", "ok.toml")
    assert load_config(ok).solve["options"] == {"max_work": 1000}


def test_overrides(tmp_path):
    assert parse_override("solve.k=[1, 2]") == ("solve.k", [1, 2])
    assert parse_override("solve.solver=enumerate") == ("solve.solver", "enumerate")
    assert parse_override("split.test_size=0.3") == ("split.test_size", 0.3)
    assert parse_override("data.dropna=true") == ("data.dropna", True)
    cfg = load_config(None, overrides=[("solve.solver", "enumerate"), ("solve.options.max_work", 10**6),
                                       ("solve.k", 2)])
    assert cfg.solve["k"] == [2] and cfg.solve["options"] == {"max_work": 10**6}
    with pytest.raises(ConfigError, match=r"\[solve\] k = 0"):
        load_config(None, overrides=[("solve.k", 0)], check_solver=False)
    with pytest.raises(ConfigError, match="section.key"):
        load_config(None, overrides=[("k", 2)], check_solver=False)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("solve.k")


def test_data_path_override_replaces_the_bundled_dataset(tmp_path):
    (tmp_path / "exp.parquet").write_bytes(b"")
    own = [("columns.outcome", "y"), ("columns.treatment", "t"), ("columns.features", ["x"])]
    cfg = load_config(None, overrides=[("data.path", str(tmp_path / "exp.parquet"))] + own, check_solver=False)
    assert cfg.data["dataset"] == "" and cfg.data["format"] == "parquet"
    # nothing of the bundled study leaks into a study on the user's file
    assert cfg.columns["control"] == "" and cfg.economics["cost"] == 0.0 and cfg.economics["margin"] == 1.0


def test_dump_toml_round_trips(tmp_path):
    cfg = load_config(
        _write(tmp_path, "[solve]\nk = [1, 4]\nsolver = \"enumerate\"\n[solve.options]\nmax_work = 99\n"
                         "[economics]\ncost = { \"Mens E-Mail\" = 0.25, \"a \\\"quoted\\\" arm\" = 1 }\n")
    )
    text = dump_toml(cfg.as_dict())
    again = parse_config(tomllib.loads(text), check_solver=False)
    assert again.as_dict() == cfg.as_dict()


def test_split_method_auto_is_crossfit_unless_a_test_size_is_given():
    from coarseopt.config import parse_config

    assert parse_config({}, check_files=False).split["method"] == "crossfit"
    assert parse_config({"split": {"test_size": 0.3}}, check_files=False).split["method"] == "holdout"
    assert parse_config({"split": {"method": "crossfit", "test_size": 0.3}}, check_files=False).split["method"] \
        == "crossfit"
    with pytest.raises(ConfigError, match=r"\[split\] folds = 2: must be an integer >= 3"):
        parse_config({"split": {"folds": 2}}, check_files=False)
