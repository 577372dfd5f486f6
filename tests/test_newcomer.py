"""What a new user meets on the way in: compressed and ';'-separated files, a ``--check``
that checks what ``run`` would, customer ids carried through a study, id-like columns in
``solve``, rare arms, numeric controls, covariates and economics in ``evaluate``, numbers
that say what they are, and input checks of step 1 (cost tables over numeric levels,
numeric-looking text features)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.config import ConfigError, load_config
from coarseopt.estimation import EconomicsError, ExperimentError
from test_cli import (
    assert_one_line_error, assert_one_line_error_in_process, main_in_process, make_experiment, run_cli,
    write_study,
)

LEVELS = (0.0, 0.1, 0.2, 0.4)


def discount_experiment(n: int = 2000, seed: int = 0, shares=(0.5, 0.2, 0.2, 0.1)) -> pd.DataFrame:
    """Four discount levels drawn with unequal probabilities, a text feature and an id column;
    customers with ``x1 > 0`` buy more under deeper discounts."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    region = rng.choice(["north", "south", "east"], size=n)
    discount = rng.choice(LEVELS, size=n, p=list(shares))
    sales = 10 + 2 * x1 + discount * 40 * (x1 > 0) + rng.normal(scale=2.0, size=n)
    ids = rng.permutation(np.arange(100_000, 100_000 + n))
    return pd.DataFrame({"customer_id": ids, "discount": discount, "sales": sales, "x1": x1, "region": region})


def discount_study(tmp_path: Path, df: pd.DataFrame, data_name: str = "exp.csv", extra: str = "",
                   name: str = "study.toml", sep: str = ",") -> Path:
    if data_name.endswith(".parquet"):
        df.to_parquet(tmp_path / data_name, index=False)
    else:
        df.to_csv(tmp_path / data_name, index=False, sep=sep)
    text = f"""
[data]
path = "{data_name}"

[columns]
outcome = "sales"
treatment = "discount"
control = 0
features = ["x1", "region"]

[economics]
margin = 0.5
proportional_cost = "level"

[estimation]
learner = "t"
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


def run_in_process(capsys, monkeypatch, cwd: Path, *args: str) -> tuple[int, str, str]:
    return main_in_process(capsys, monkeypatch, cwd, *args)


# ---------------------------------------------------------------------------- 1. compressed CSV
@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz"])
def test_read_table_reads_compressed_csv(tmp_path, suffix):
    from coarseopt.tabular import read_table

    df = make_experiment(50)
    df.to_csv(tmp_path / f"exp{suffix}", index=False)
    got = read_table(tmp_path / f"exp{suffix}")
    pd.testing.assert_frame_equal(got, df)


def test_compressed_repeated_header_is_refused(tmp_path):
    from coarseopt.tabular import DuplicateColumnsError, read_table

    pd.DataFrame([[1, 2]], columns=["a", "a"]).to_csv(tmp_path / "dup.csv.gz", index=False)
    with pytest.raises(DuplicateColumnsError, match="'a'"):
        read_table(tmp_path / "dup.csv.gz")


def test_run_check_solve_and_evaluate_read_csv_gz(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path)
    make_experiment().to_csv(tmp_path / "exp.csv.gz", index=False)
    (tmp_path / "exp.csv").unlink()
    study.write_text(study.read_text(encoding="utf-8").replace('"exp.csv"', '"exp.csv.gz"'), encoding="utf-8")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0 and "OK" in out, err
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "-q", "run", str(study), "--out", "res")
    assert code == 0, err
    assigned = pd.read_csv(tmp_path / "res" / "assignment.csv")
    assert len(assigned) == 1500
    # solve and evaluate take compressed files too
    profit = pd.read_parquet(tmp_path / "res" / "profit.parquet")
    profit.to_csv(tmp_path / "profit.csv.gz")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "solve", "profit.csv.gz", "--index", "row",
                                    "-k", "2", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["k"] == 2
    df = make_experiment()
    df["profit"] = df["spend"] - 0.5 * (df["arm"] != "none")
    df.to_csv(tmp_path / "holdout.csv.gz", index=False)
    df[["arm"]].to_csv(tmp_path / "a.csv.gz", index=False)
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "evaluate", "holdout.csv.gz", "--action", "arm",
                                    "--policy-a", "a.csv.gz", "--policy-b", "arm", "--json")
    assert code == 0, err
    assert json.loads(out)["n_disagree"] == 0


# ---------------------------------------------------------------------------- 2. evaluate covariates
def _dr_data(tmp_path: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.normal(size=n)
    action = rng.choice(["email", "none"], size=n)
    effect = np.where(action == "email", 0.2 + 0.5 * x, 0.0)
    profit = 1.0 + x + effect + rng.normal(size=n)
    spend = profit * 3 + rng.normal(scale=0.01, size=n)  # measured after the treatment
    data = pd.DataFrame({"customer_id": np.arange(n), "profit": profit, "spend": spend, "treatment": action,
                         "x": x})
    data.to_csv(tmp_path / "holdout.csv", index=False)
    a = np.where(x > -0.4, "email", "none")
    b = np.full(n, "none", dtype=object)
    pd.DataFrame({"treatment": a}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"treatment": b}).to_csv(tmp_path / "b.csv", index=False)
    return data, a, b


@pytest.mark.parametrize("method", ["dr", "regression"])
def test_evaluate_uses_only_the_named_covariates(tmp_path, capsys, monkeypatch, method):
    data, a, b = _dr_data(tmp_path)
    args = ("evaluate", "holdout.csv", "--policy-a", "a.csv", "--policy-b", "b.csv", "--method", method)
    result = run_in_process(capsys, monkeypatch, tmp_path, *args)
    assert_one_line_error_in_process(result, f"--method {method}", "--covariates")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, *args, "--covariates", "x", "--json")
    assert code == 0, err
    got = json.loads(out)
    ref = co.evaluation.compare_policies(data["profit"].to_numpy(), data["treatment"].to_numpy(dtype=object), a, b,
                                         design="rba", method=method, X=data[["x"]].to_numpy())
    assert got["estimate"] == pytest.approx(ref.estimate) and got["se"] == pytest.approx(ref.se)
    assert got["covariates"] == ["x"]
    # the post-treatment 'spend' would have explained the outcome away (the old behaviour)
    leaky = co.evaluation.compare_policies(data["profit"].to_numpy(), data["treatment"].to_numpy(dtype=object), a,
                                           b, design="rba", method=method,
                                           X=data[["customer_id", "spend", "x"]].to_numpy(dtype=float))
    assert abs(leaky.estimate - ref.estimate) > 3 * leaky.se
    text = run_in_process(capsys, monkeypatch, tmp_path, *args, "--covariates", "x")[1]
    assert "covariates: x" in text
    result = run_in_process(capsys, monkeypatch, tmp_path, *args, "--covariates", "x,profit")
    assert_one_line_error_in_process(result, "--covariates 'profit'", "known before the treatment")


def test_evaluate_refuses_a_covariate_measured_after_the_treatment(tmp_path, capsys, monkeypatch):
    data, _, _ = _dr_data(tmp_path)
    data["spend"] = data["spend"] + 2.0 * (data["treatment"] == "email")  # what the e-mail caused
    data.to_csv(tmp_path / "holdout.csv", index=False)
    args = ("evaluate", "holdout.csv", "--policy-a", "a.csv", "--policy-b", "b.csv", "--method", "dr")
    result = run_in_process(capsys, monkeypatch, tmp_path, *args, "--covariates", "x,spend")
    assert_one_line_error_in_process(result, "--covariates 'spend'", "differs between the actions", "Leave it out")
    # a pre-treatment column passes, whatever its scale
    code, _, err = run_in_process(capsys, monkeypatch, tmp_path, *args, "--covariates", "x,customer_id")
    assert code == 0, err


def test_balance_check_rarely_refuses_a_real_covariate():
    """Randomized actions, 200 independent covariates: the check refuses none (its level is
    1e-6 per column)."""
    from coarseopt.cli import UsageError
    from coarseopt.commands.evaluate import refuse_imbalanced

    rng = np.random.default_rng(8)
    n = 3000
    data = pd.DataFrame(rng.normal(size=(n, 200)), columns=[f"c{i}" for i in range(200)])
    data["arm"] = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    refuse_imbalanced(data, [f"c{i}" for i in range(200)], "arm")
    data["after"] = data["c0"] + 0.5 * (data["arm"] == "c")
    with pytest.raises(UsageError, match="'after'"):
        refuse_imbalanced(data, ["after"], "arm")


# ---------------------------------------------------------------------------- 3. --check checks
@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda df: (df, 'features = ["x1", "nope"]'), ["no column \"nope\""]),
        (lambda df: (df, 'outcome = "revenue"'), ['[columns] outcome = "revenue"', "no such column"]),
        (lambda df: (df.assign(spend=df["spend"].round(2).astype(str).where(df.index != 5, "12,50")), ""),
         ['[columns] outcome = "spend"', "must be numeric", "'12,50'"]),
        (lambda df: (pd.concat([df[df["arm"] != "B"], df[df["arm"] == "B"].head(3)]), ""),
         ['arm "B" has 3 customer(s)', "[data] drop_arms"]),
        (lambda df: (df, 'control = "nobody"'), ['[columns] control = "nobody"', "not an arm"]),
    ],
)
def test_check_fails_where_run_would(tmp_path, capsys, monkeypatch, edit, fragments):
    df, columns_line = edit(make_experiment())
    study = write_study(tmp_path, df)
    if columns_line:
        key = columns_line.split(" = ")[0]
        text = study.read_text(encoding="utf-8")
        lines = [columns_line if line.startswith(key + " = ") else line for line in text.splitlines()]
        if not any(line.startswith(key + " = ") for line in text.splitlines()):
            lines.insert(lines.index("[columns]") + 1, columns_line)
        study.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(check, *fragments)
    run = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--out", "res")
    assert_one_line_error_in_process(run, *fragments)
    assert check[2] == run[2]  # the same line: --check fails exactly where run does
    assert not (tmp_path / "res").exists()


def test_check_notes_an_existing_default_output_directory(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path)
    (tmp_path / "coarseopt-results").mkdir()
    (tmp_path / "coarseopt-results" / "summary.json").write_text("{}", encoding="utf-8")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    assert "OK" in out and "exists" in out and "--force" in out
    assert "B (" in out  # the arm counts it read


def test_check_reports_the_data_it_read(tmp_path, capsys, monkeypatch):
    study = discount_study(tmp_path, discount_experiment(800))
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    assert "800 customers" in out and "4 candidate treatments" in out


# ---------------------------------------------------------------------------- 4. ids in solve
def test_solve_refuses_an_id_column(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    n = 200
    profit = pd.DataFrame({"customer_id": rng.permutation(np.arange(5000, 5000 + n)),
                           "A": rng.normal(size=n), "B": rng.normal(size=n), "C": rng.normal(size=n)})
    profit.to_csv(tmp_path / "profit.csv", index=False)
    result = run_in_process(capsys, monkeypatch, tmp_path, "solve", "profit.csv", "-k", "2")
    assert_one_line_error_in_process(result, "'customer_id'", "looks like a customer id", "--index customer_id")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "solve", "profit.csv", "-k", "2", "--index",
                                    "customer_id", "--json", "--out", "a.csv")
    assert code == 0, err
    assert set(json.loads(out)[0]["offered"]) <= {"A", "B", "C"}
    assert list(pd.read_csv(tmp_path / "a.csv").columns) == ["customer_id", "treatment_k2"]
    # a row number written by pandas (an unnamed 0..n-1 column) is refused too
    profit.drop(columns="customer_id").to_csv(tmp_path / "p2.csv")
    result = run_in_process(capsys, monkeypatch, tmp_path, "solve", "p2.csv", "-k", "2")
    assert_one_line_error_in_process(result, "'Unnamed: 0'", "looks like a customer id")
    # a flag says which columns are treatments
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "solve", "profit.csv", "-k", "2",
                                    "--treatments", "A,B", "--json")
    assert code == 0, err
    assert set(json.loads(out)[0]["offered"]) == {"A", "B"}


def test_solve_refuses_k_above_the_treatments_and_states_units(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.normal(size=(50, 3)), columns=["A", "B", "C"]).to_csv(tmp_path / "p.csv", index=False)
    result = run_in_process(capsys, monkeypatch, tmp_path, "solve", "p.csv", "-k", "2,5")
    assert_one_line_error_in_process(result, "-k 5", "3 treatment column(s)", "at most 3", "use -k 2,3")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "solve", "p.csv", "-k", "2")
    assert code == 0, err
    assert "in total" in out and "per customer" in out


# ---------------------------------------------------------------------------- 5. rare arms
@pytest.mark.parametrize("count", [3, 8])
def test_a_rare_arm_gets_one_message(tmp_path, capsys, monkeypatch, count):
    df = discount_experiment(1500)
    rare = df[df["discount"] == 0.4].head(count)
    df = pd.concat([df[df["discount"] != 0.4], rare])
    study = discount_study(tmp_path, df)
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(
        result, f"arm 0.4 has {count} customer(s)", "[columns] treatment", "[split] folds",
        "[data] drop_arms = [0.4]")
    assert "np.float64" not in result[2]
    # the remedy works
    text = study.read_text(encoding="utf-8").replace('path = "exp.csv"', 'path = "exp.csv"\ndrop_arms = [0.4]')
    study.write_text(text, encoding="utf-8")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    assert "0.4" not in out.split("arms (customers):")[1].split(";")[0]


@pytest.mark.parametrize("learner, cv, split", [
    ("t", 2, ""), ("dr", 2, ""), ("t", 2, "folds = 3"), ("dr", 2, "folds = 3"),
    ("t", 2, "test_size = 0.5"), ("t", 5, "test_size = 0.5"), ("dr", 2, "test_size = 0.5"),
    ("dr", 4, "test_size = 0.3"),
])
def test_the_arm_threshold_is_what_the_learner_needs(tmp_path, learner, cv, split):
    """An arm exactly at the threshold runs (cross-fitted and holdout study); one below is
    refused before any fitting."""
    from coarseopt.pipeline import min_arm_customers, run_study

    df = discount_experiment(1500)
    path = discount_study(tmp_path, df, extra=f"[split]\n{split}\n")
    text = path.read_text(encoding="utf-8").replace('learner = "t"\ncv = 2', f'learner = "{learner}"\ncv = {cv}')
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.estimation["learner"] == learner and cfg.estimation["cv"] == cv
    need = min_arm_customers(cfg)
    at = pd.concat([df[df["discount"] != 0.4], df[df["discount"] == 0.4].head(need)])
    at.to_csv(tmp_path / "exp.csv", index=False)
    study = run_study(load_config(path), progress=False)
    assert study.data_info["arms"]["0.4"] == need
    below = pd.concat([df[df["discount"] != 0.4], df[df["discount"] == 0.4].head(need - 1)])
    below.to_csv(tmp_path / "exp.csv", index=False)
    with pytest.raises(ConfigError, match=f"has {need - 1} customer"):
        run_study(load_config(path), progress=False)


# ---------------------------------------------------------------------------- 6. control = 0, no leaking
def test_numeric_control_and_no_bundled_defaults(tmp_path, capsys, monkeypatch):
    df = discount_experiment(1000)
    study = discount_study(tmp_path, df)
    cfg = load_config(study)
    assert cfg.columns["control"] == 0
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    # no [economics] at all: the Hillstrom costs do not come back (margin 1, cost 0)
    text = study.read_text(encoding="utf-8").replace('margin = 0.5\nproportional_cost = "level"\n', "")
    study.write_text(text, encoding="utf-8")
    cfg = load_config(study)
    assert cfg.economics["cost"] == 0.0 and cfg.economics["margin"] == 1.0
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    # a required column key that is left out is named
    text = study.read_text(encoding="utf-8").replace('outcome = "sales"\n', "")
    study.write_text(text, encoding="utf-8")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, "[columns] outcome: required with [data] path")


# ---------------------------------------------------------------------------- 7. ids through the study
@pytest.fixture(scope="module")
def id_run(tmp_path_factory):
    from coarseopt.cli import main

    tmp = tmp_path_factory.mktemp("ids")
    df = discount_experiment(1600, seed=3)
    study = discount_study(tmp, df, extra='[output]\nreport = false\n')
    text = study.read_text(encoding="utf-8").replace('control = 0\n', 'control = 0\nid = "customer_id"\n')
    study.write_text(text, encoding="utf-8")
    code = main(["-q", "run", str(study), "--out", str(tmp / "res")])
    assert code == 0
    return df, tmp / "res"


def test_profit_rows_are_the_training_customers_in_order(tmp_path):
    from coarseopt.pipeline import run_study, write_outputs

    df = discount_experiment(1200, seed=4)
    study_path = discount_study(tmp_path, df, extra="[split]\ntest_size = 0.5\n")  # the holdout study
    text = study_path.read_text(encoding="utf-8").replace('control = 0\n', 'control = 0\nid = "customer_id"\n')
    study_path.write_text(text, encoding="utf-8")
    study = run_study(load_config(study_path), progress=False)
    write_outputs(study, tmp_path / "res")
    profit = pd.read_parquet(tmp_path / "res" / "profit.parquet")
    expected = df["customer_id"].to_numpy()[study.train_index]
    np.testing.assert_array_equal(profit.index.to_numpy(), expected)
    np.testing.assert_allclose(profit.to_numpy(), study.profit.to_numpy())
    html = (tmp_path / "res" / "report.html").read_text(encoding="utf-8")
    assert "learner: t (TLearner on " in html and "objective (total)" in html


def test_ids_lead_the_assignment(id_run):
    df, out = id_run
    assigned = pd.read_csv(out / "assignment.csv")
    assert assigned.columns[0] == "customer_id"
    np.testing.assert_array_equal(assigned["customer_id"].to_numpy(), df["customer_id"].to_numpy())


def test_ids_label_the_profit_rows(id_run):
    df, out = id_run
    profit = pd.read_parquet(out / "profit.parquet")
    assert profit.index.name == "customer_id"
    # the cross-fitted study (the default) estimates every customer's profit, in input order
    np.testing.assert_array_equal(profit.index.to_numpy(), df["customer_id"].to_numpy())


def test_evaluate_takes_a_policy_from_an_assignment_with_ids(id_run, tmp_path, capsys, monkeypatch):
    df, out = id_run
    assigned = pd.read_csv(out / "assignment.csv")
    data = df.assign(profit=lambda d: (0.5 - d["discount"]) * d["sales"])
    data.to_csv(tmp_path / "holdout.csv", index=False)
    assigned[["customer_id", "evaluated_k2"]].to_csv(tmp_path / "k2.csv", index=False)
    code, out_text, err = run_in_process(capsys, monkeypatch, tmp_path, "evaluate", "holdout.csv", "--action",
                                         "discount", "--policy-a", "k2.csv", "--policy-b", "discount", "--json",
                                         "--method", "ipw")
    assert code == 0, err
    assert json.loads(out_text)["n"] == len(df)


def test_apply_reads_compressed_csv(id_run, tmp_path, capsys, monkeypatch):
    df, out = id_run
    df.drop(columns=["sales", "discount"]).head(300).to_csv(tmp_path / "new.csv.gz", index=False)
    code, _, err = run_in_process(capsys, monkeypatch, tmp_path, "-q", "apply", str(out), "new.csv.gz", "--k", "2",
                                  "--out", "assigned.csv")
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "assigned.csv")) == 300


def test_solve_keeps_the_ids_of_a_profit_file(id_run, tmp_path, capsys, monkeypatch):
    _, out = id_run
    code, _, err = run_in_process(capsys, monkeypatch, tmp_path, "-q", "solve", str(out / "profit.parquet"),
                                  "-k", "2", "--out", "a.csv")
    assert code == 0, err
    got = pd.read_csv(tmp_path / "a.csv")
    assert list(got.columns) == ["customer_id", "treatment_k2"]


def test_repeated_ids_are_refused(tmp_path, capsys, monkeypatch):
    df = discount_experiment(800)
    df.loc[5, "customer_id"] = df.loc[6, "customer_id"]
    study = discount_study(tmp_path, df)
    text = study.read_text(encoding="utf-8").replace('control = 0\n', 'control = 0\nid = "customer_id"\n')
    study.write_text(text, encoding="utf-8")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, '[columns] id = "customer_id"', "appears 2 times")


# ---------------------------------------------------------------------------- 8. readable numbers
def test_evaluation_csv_and_summary_say_what_they_are(id_run):
    _, out = id_run
    ev = pd.read_csv(out / "evaluation.csv", dtype=str, keep_default_na=False)
    ks = ev.loc[ev["policy"].str.startswith("k="), "k"].tolist()
    assert ks == ["1", "2"]  # integers, not 1.0
    assert set(ev.loc[ev["policy"] == "control", "k"]) == {""}
    assert set(ev.loc[ev["policy"] != "control", "lift_over"]) == {"control"}
    assert ev["unit"].str.contains("per customer").all()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["learner"].startswith("t (TLearner")
    assert "total" in summary["units"]["objective"]
    for res in summary["results"].values():
        assert res["objective_per_customer"] == pytest.approx(res["objective"] / summary["n_train"])


def test_study_covariates_of_the_evaluation(tmp_path):
    """``[evaluation] covariates`` picks the features (with their one-hot columns) that the
    regression and dr estimators adjust for; the summary names them."""
    from coarseopt.pipeline import evaluation_covariates, run_study, write_outputs

    cfg = load_config(None, overrides=[("evaluation.covariates", ["zip_code", "recency"])])
    encoded = ["recency", "history", "zip_code=Rural", "zip_code=Urban", "channel=Web"]
    assert evaluation_covariates(cfg, encoded) == ["recency", "zip_code=Rural", "zip_code=Urban"]
    assert evaluation_covariates(load_config(None), encoded) == encoded
    df = discount_experiment(1500, seed=2)
    path = discount_study(tmp_path, df, extra='method = "dr"\ncovariates = ["x1"]\n')
    study = run_study(load_config(path), progress=False)
    write_outputs(study, tmp_path / "res")
    summary = json.loads((tmp_path / "res" / "summary.json").read_text(encoding="utf-8"))
    assert summary["evaluation_covariates"] == ["x1"]
    bad = discount_study(tmp_path, df, extra='covariates = ["sales"]\n', name="bad.toml")
    with pytest.raises(ConfigError, match=r'\[evaluation\] covariates: "sales" is not one of the features'):
        run_study(load_config(bad), progress=False)


def _fake_study_print(lift_ci_low: float, capsys) -> str:
    from types import SimpleNamespace

    from coarseopt.cli import _print_study

    res = co.SolveResult(status="optimal", objective=10.0, bound=10.0, gap=0.0, offered=np.array([0, 1]),
                         assignment=np.array([0, 0, 0, 0]), shares=np.array([1.0, 0.0]), wall_time=0.1,
                         solver="enumerate", full_profit=12.0, treatment_labels=("a", "b"))
    ev = pd.DataFrame({"policy": ["control", "k=2"], "lift": [0.0, 1.0], "lift_ci_low": [0.0, lift_ci_low + 0.1],
                       "lift_ci_high": [0.0, 2.0], "lift_sim_ci_low": [0.0, lift_ci_low],
                       "lift_sim_ci_high": [0.0, 2.1]})
    cfg = load_config(None)
    study = SimpleNamespace(config=cfg, data_info={"source": "x", "rows_used": 8}, train_index=np.arange(4),
                            test_index=np.arange(4), evaluation=ev, results={2: res}, recommended_k=2,
                            learner="t", split_method="crossfit")
    capsys.readouterr()
    _print_study(SimpleNamespace(quiet=False), study, Path("out"), 1.0)
    return capsys.readouterr().out


def test_recommended_only_when_the_interval_excludes_zero(capsys):
    sure = _fake_study_print(0.5, capsys)
    assert "<- recommended" in sure and "no k beats" not in sure
    unsure = _fake_study_print(-0.05, capsys)  # the plain interval excludes zero, the simultaneous one not
    assert "<- recommended" not in unsure and "no k beats the baseline" in unsure
    # an offered treatment that no customer gets is not listed as offered
    assert "offer a 100%" in sure and "b 0%" not in sure
    assert "profit per customer" in sure


def test_k_one_is_certified_whatever_the_solver():
    from coarseopt.pipeline import certify_optimum

    rng = np.random.default_rng(4)
    profit = rng.normal(size=(300, 6)) + np.linspace(0, 0.3, 6)
    problem = co.CoarseProblem(profit, k=1)
    res = certify_optimum(problem, co.solve(problem, "local-search", seed=0))
    best = profit.sum(axis=0).max()
    assert res.status == "optimal" and res.bound == pytest.approx(best) and res.objective == pytest.approx(best)
    # a wrong single treatment is not certified: its gap to the proven optimum is reported
    wrong = co.SolveResult(status="feasible", objective=float(profit[:, 0].sum()), bound=None, gap=None,
                           offered=np.array([0]), assignment=np.zeros(300, dtype=int), shares=np.array([1.0]),
                           wall_time=0.0, solver="x", full_profit=float(profit.max(axis=1).sum()))
    out = certify_optimum(problem, wrong)
    assert out.status == "feasible" and out.bound == pytest.approx(best) and out.gap > 0
    # any k: reaching full personalization's profit is a proof (recovery 100% reads optimal)
    full = profit.argmax(axis=1)
    every = co.SolveResult(status="feasible", objective=float(profit.max(axis=1).sum()), bound=None, gap=None,
                           offered=np.unique(full), assignment=full, shares=np.bincount(full) / 300, wall_time=0.0,
                           solver="x", full_profit=float(profit.max(axis=1).sum()))
    out = certify_optimum(co.CoarseProblem(profit, k=6), every)
    assert out.status == "optimal" and out.gap == 0.0 and out.recovery == pytest.approx(1.0)


def test_run_refuses_k_above_the_treatments(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path, extra="")
    text = study.read_text(encoding="utf-8").replace("k = [1, 2]", "k = [1, 2, 4]")
    study.write_text(text, encoding="utf-8")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, "[solve] k = [1, 2, 4]", "3 candidate treatments", "set [solve] k = [1, 2, 3]")


# ---------------------------------------------------------------------------- 9. separator
def test_semicolon_separated_file(tmp_path, capsys, monkeypatch):
    df = discount_experiment(800)
    study = discount_study(tmp_path, df, sep=";")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, "no such column", "contains ';'", "[data] sep = ';'")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check", "--sep", ";")
    assert code == 0, err
    text = study.read_text(encoding="utf-8").replace('path = "exp.csv"', 'path = "exp.csv"\nsep = ";"')
    study.write_text(text, encoding="utf-8")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err
    # evaluate and solve: --sep, and the hint
    df.assign(profit=df["sales"]).to_csv(tmp_path / "h.csv", sep=";", index=False)
    args = ("evaluate", "h.csv", "--action", "discount", "--policy-a", "discount", "--policy-b", "discount")
    assert_one_line_error_in_process(run_in_process(capsys, monkeypatch, tmp_path, *args), "pass --sep ';'")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, *args, "--sep", ";")
    assert code == 0, err


# ---------------------------------------------------------------------------- 10. evaluate economics
def test_evaluate_margin_and_cost_equal_a_profit_column(tmp_path, capsys, monkeypatch):
    df = discount_experiment(3000, seed=5)
    rates = dict(zip(LEVELS, (0.0, 0.3, 0.6, 1.2)))
    df["profit"] = 0.5 * df["sales"] - df["discount"].map(rates)
    df["policy"] = np.where(df["x1"] > 0, 0.4, 0.0)
    df["light"] = np.where(df["x1"] > 1, 0.1, 0.0)
    df.to_csv(tmp_path / "h.csv", index=False)
    base = ("evaluate", "h.csv", "--action", "discount", "--policy-a", "policy", "--policy-b", "light", "--json")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, *base)
    assert code == 0, err
    by_hand = json.loads(out)
    cost = ",".join(f"{lvl}={c}" for lvl, c in rates.items())
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, *base[:-1], "--outcome", "sales",
                                    "--margin", "0.5", "--cost", cost, "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["estimate"] == pytest.approx(by_hand["estimate"]) and got["se"] == pytest.approx(by_hand["se"])
    assert "margin" in got["unit"]
    bad = run_in_process(capsys, monkeypatch, tmp_path, *base[:-1], "--outcome", "sales", "--cost", "0.1=0.3,0.2=0.6")
    assert_one_line_error_in_process(bad, "--margin / --cost", "not for level(s)")
    bad = run_in_process(capsys, monkeypatch, tmp_path, *base[:-1], "--outcome", "sales", "--cost", "0.3=1")
    assert_one_line_error_in_process(bad, "--cost", "'0.3' is not an action")


# ---------------------------------------------------------------------------- issue 15, items 4 and 6
def test_a_cost_table_must_cover_every_numeric_level(tmp_path, capsys, monkeypatch):
    econ = co.Economics(margin=0.5, cost={0.0: 0.0, 0.1: 0.3, 0.2: 0.6})
    with pytest.raises(EconomicsError, match=r"'cost' is given for levels \[0.0, 0.1, 0.2\] but not for level\(s\) "
                                             r"\[0.4\]"):
        econ.unit_value(list(LEVELS), numeric=True)
    np.testing.assert_allclose(econ.unit_value([0.0, 0.15, 0.2], numeric=True)[1], [0.0, 0.45, 0.6])
    df = discount_experiment(800)
    study = discount_study(tmp_path, df)
    text = study.read_text(encoding="utf-8").replace(
        'proportional_cost = "level"', 'cost = { "0" = 0.0, "0.1" = 0.3, "0.2" = 0.6 }')
    study.write_text(text, encoding="utf-8")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, "[economics]", "not for level(s) [0.4]")


def test_numeric_looking_text_feature_is_refused_unless_categorical(tmp_path, capsys, monkeypatch):
    df = discount_experiment(800)
    income = (df["x1"] * 1000 + 30000).round(0).astype(int).astype(str)
    income[[3, 40]] = ["30,500", "unknown"]
    df["income"] = income
    with pytest.raises(ExperimentError, match=r"Feature 'income' looks numeric .*first: '30,500', 'unknown'"):
        co.Experiment(df, outcome="sales", treatment="discount", features=["x1", "income"])
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=["x1", "region"])
    assert exp.X.shape[1] == 4  # real text is still one-hot encoded
    exp = co.Experiment(df.assign(zone=df["customer_id"] % 3), outcome="sales", treatment="discount",
                        features=["x1", "zone"], categorical_features=["zone"])
    assert [c for c in exp.feature_names if c.startswith("zone=")] == ["zone=0", "zone=1", "zone=2"]
    study = discount_study(tmp_path, df)
    text = study.read_text(encoding="utf-8").replace('features = ["x1", "region"]', 'features = ["x1", "income"]')
    study.write_text(text, encoding="utf-8")
    result = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert_one_line_error_in_process(result, "'income'", "'30,500'", '[columns] categorical = ["income"]')
    text = text.replace('features = ["x1", "income"]', 'features = ["x1", "income"]\ncategorical = ["income"]')
    study.write_text(text, encoding="utf-8")
    code, out, err = run_in_process(capsys, monkeypatch, tmp_path, "run", str(study), "--check")
    assert code == 0, err


def test_the_executable_reports_a_check_failure_on_one_line(tmp_path):
    df = make_experiment()
    study = write_study(tmp_path, df[df["arm"] != "B"].pipe(lambda d: pd.concat([d, df[df["arm"] == "B"].head(3)])))
    proc = run_cli("run", str(study), "--check", cwd=tmp_path)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert_one_line_error(proc, 'arm "B" has 3 customer(s)')
