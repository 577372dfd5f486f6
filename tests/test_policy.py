"""Saved policies: round trip, `coarseopt apply`, schema errors, tampered and foreign files."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coarseopt as co
from coarseopt.apply import apply_policy
from coarseopt.assign import assign_offered
from coarseopt.config import load_config
from coarseopt.exceptions import PolicyFileError, SchemaError
from coarseopt.pipeline import OutputError, run_study, write_outputs
from test_cli import assert_one_line_error, make_experiment, run_cli, write_study

MIN_SHARE = 0.3  # binds at k = 3 (the control would get about 25% of the customers)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A small study (k = 2, 3) with a share bound that binds at k = 3, written to disk."""
    tmp = tmp_path_factory.mktemp("study")
    df = make_experiment(3000, seed=0)
    cfg = load_config(write_study(tmp, df), overrides=[("solve.k", [2, 3]), ("solve.min_share", MIN_SHARE)])
    result = run_study(cfg, progress=False)
    write_outputs(result, tmp / "results")
    return tmp, df, result


def _set_hash(policy_dir: Path, blob: bytes) -> None:
    meta_path = policy_dir / "policy.json"
    meta = json.loads(meta_path.read_text())
    meta["model"]["sha256"] = hashlib.sha256(blob).hexdigest()
    meta_path.write_text(json.dumps(meta))


@pytest.fixture
def copy(study, tmp_path):
    """A fresh copy of the saved study to tamper with."""
    src = study[0] / "results"
    dst = tmp_path / "results"
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------------- round trip
def test_round_trip_assigns_as_the_study(study):
    tmp, df, result = study
    for k in (2, 3):
        policy = co.load_policy(tmp / "results", k=k)
        res = result.results[k]
        assert policy.offered == res.offered_labels
        # the deployed policy on the study's customers: the refitted model, share bounds by transport
        expected = np.asarray(result.deployed.profit.columns, dtype=object)[
            assign_offered(result.deployed.profit.to_numpy(), res.offered, min_share=MIN_SHARE)]
        got = policy.assign(df)
        assert got.index.equals(df.index) and got.name == "treatment"
        assert (got.to_numpy() == expected).all()
        in_memory = co.Policy(result.deployed, res, min_share=MIN_SHARE)
        assert (in_memory.assign(df).to_numpy() == expected).all()
        np.testing.assert_allclose(policy.predict_profit(df).to_numpy(),
                                   result.deployed.profit.iloc[:, res.offered].to_numpy(), rtol=1e-10, atol=1e-12)
        shares = got.value_counts(normalize=True)
        assert len(shares) == k and shares.min() >= MIN_SHARE - 1e-12


def test_summary_holds_the_rules(study):
    tmp, df, result = study
    summary = json.loads((tmp / "results" / "summary.json").read_text())
    for k in ("2", "3"):
        rules = summary["results"][k]["rules"]
        assert {"depth", "text", "sql", "tree", "kept"} <= set(rules)
        # the share of the (share-bounded) model-based assignment's estimated profit; the rules do
        # not enforce share bounds, so here they may keep more than all of it
        assert rules["depth"] == 2
        assert rules["kept"] == pytest.approx(rules["value"] / result.results[int(k)].objective)
        assert "CASE" in rules["sql"] and "offer" in rules["text"]
    policy = co.load_policy(tmp / "results", k=2)
    assert policy.rules.to_dict()["sql"] == summary["results"]["2"]["rules"]["sql"]
    by_rules = policy.assign(df, using="rules")
    assert set(by_rules) <= set(policy.offered)
    assert "segment rules" in (tmp / "results" / "report.html").read_text()


def test_apply_command_writes_one_row_per_customer(study, tmp_path):
    tmp, df, _ = study
    new = make_experiment(2500, seed=1).drop(columns=["spend", "arm"])
    new.insert(0, "customer", [f"c{i}" for i in range(len(new))])
    new.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("apply", str(tmp / "results"), "new.csv", "--k", "2", "--out", "out.csv", "--id", "customer",
                   "--profit", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    policy = co.load_policy(tmp / "results", k=2)
    assert list(out.columns) == ["row", "customer", "treatment"] + [f"profit_{t}" for t in policy.offered]
    assert (out["row"] == np.arange(len(new))).all() and (out["customer"] == new["customer"]).all()
    assert (out["treatment"] == policy.assign(new).to_numpy()).all()
    # share bounds kept on new customers (batch transport)
    assert out["treatment"].value_counts(normalize=True).min() >= MIN_SHARE - 1e-12
    # refuses to overwrite, unless --force
    again = run_cli("apply", str(tmp / "results"), "new.csv", "--k", "2", "--out", "out.csv", cwd=tmp_path)
    assert_one_line_error(again, "--out out.csv", "--force")
    forced = run_cli("apply", str(tmp / "results"), "new.csv", "--k", "2", "--out", "out.csv", "--force",
                     cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["row", "treatment"]


def test_streamed_chunks_keep_the_bounds_and_match_without_them(study, tmp_path):
    tmp, _, result = study
    new = make_experiment(2300, seed=2).drop(columns=["spend", "arm"])
    new.to_parquet(tmp_path / "new.parquet", index=False)
    info = apply_policy(tmp / "results", tmp_path / "new.parquet", tmp_path / "chunked.parquet", k=3,
                        chunksize=500, progress=False)
    out = pd.read_parquet(tmp_path / "chunked.parquet")
    assert info["rows"] == len(new) == len(out) and (out["row"] == np.arange(len(new))).all()
    for start in range(0, 2000, 500):  # every full chunk meets the bounds exactly
        counts = out["treatment"].iloc[start:start + 500].value_counts()
        assert len(counts) == 3 and counts.min() >= MIN_SHARE * 500
    # without bounds, chunks change nothing: every customer gets the best offered treatment
    free = co.Policy(result.deployed, result.results[3], rules_depth=None)
    apply_policy(free, tmp_path / "new.parquet", tmp_path / "a.csv", chunksize=333, progress=False)
    apply_policy(free, tmp_path / "new.parquet", tmp_path / "b.csv", progress=False)
    assert pd.read_csv(tmp_path / "a.csv").equals(pd.read_csv(tmp_path / "b.csv"))


def test_one_new_customer_uses_the_potentials(study):
    tmp, _, _ = study
    policy = co.load_policy(tmp / "results", k=3)
    assert policy.potentials is not None and np.abs(policy.potentials).max() > 0  # the bound binds
    one = make_experiment(40, seed=3).drop(columns=["spend", "arm"])
    singles = [policy.assign(one.iloc[[i]]).iloc[0] for i in range(len(one))]
    P = policy.predict_profit(one).to_numpy()
    expected = np.asarray(policy.offered, dtype=object)[(P - policy.potentials).argmax(axis=1)]
    assert singles == expected.tolist()


# ---------------------------------------------------------------------- schema errors
def test_schema_errors_name_the_column_and_values(study, tmp_path):
    tmp, _, _ = study
    policy = co.load_policy(tmp / "results", k=2)
    new = make_experiment(50, seed=4).drop(columns=["spend", "arm"])
    with pytest.raises(SchemaError, match=r"lacks the feature column\(s\) \['vip'\]"):
        policy.assign(new.drop(columns=["vip"]))
    bad = new.copy()
    bad.loc[3, "region"] = "west"
    with pytest.raises(SchemaError, match=r"'region' holds categories the study never saw: \['west'\]"):
        policy.assign(bad)
    ignored = policy.assign(bad, unseen="ignore")
    assert len(ignored) == len(bad)
    text = new.astype({"x1": object})
    text.loc[7, "x1"] = "n/a"
    with pytest.raises(SchemaError, match=r"'x1' is numeric in the study but holds text values \['n/a'\]"):
        policy.assign(text)
    missing = new.copy()
    missing.loc[2, "x1"] = np.nan
    with pytest.raises(SchemaError, match="'x1' has 1 missing value"):
        policy.assign(missing)
    # the command line: exit 2, one line naming the rows, the column and the values
    text.loc[7, "x1"] = "abc"
    text.to_csv(tmp_path / "text.csv", index=False)
    proc = run_cli("apply", str(tmp / "results"), "text.csv", "--k", "2", "--out", "o.csv", "--chunksize", "20",
                   cwd=tmp_path)
    assert_one_line_error(proc, "rows 0-19", "'x1'", "abc")
    missing.to_csv(tmp_path / "missing.csv", index=False)
    proc = run_cli("apply", str(tmp / "results"), "missing.csv", "--k", "2", "--out", "o.csv", "--chunksize", "2",
                   cwd=tmp_path)
    assert_one_line_error(proc, "rows 2-3", "'x1'", "first at row 2")
    assert not (tmp_path / "o.csv").exists()
    bad.to_csv(tmp_path / "west.csv", index=False)
    proc = run_cli("apply", str(tmp / "results"), "west.csv", "--k", "2", "--out", "o.csv", cwd=tmp_path)
    assert_one_line_error(proc, "'region'", "west", "--unseen ignore")
    proc = run_cli("apply", str(tmp / "results"), "west.csv", "--k", "2", "--out", "o.csv", "--unseen", "ignore",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------- tampered and foreign files
def test_a_pickle_payload_in_the_model_file_never_runs(copy, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    blob = pickle.dumps(Payload())
    (copy / "policy" / "model.skops").write_bytes(blob)
    with pytest.raises(PolicyFileError, match="altered"):
        co.load_policy(copy, k=2)
    _set_hash(copy / "policy", blob)  # even with its hash recorded, it is not loaded as a pickle
    with pytest.raises(PolicyFileError, match="cannot be loaded safely"):
        co.load_policy(copy, k=2)
    make_experiment(30, seed=5).to_csv(tmp_path / "x.csv", index=False)
    proc = run_cli("apply", str(copy), "x.csv", "--k", "2", "--out", "o.csv", cwd=tmp_path)
    assert_one_line_error(proc, "model.skops")
    assert not marker.exists()


def test_untrusted_types_in_a_skops_file_are_refused(copy):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    blob = sio.dumps(FunctionTransformer(func=os.system))
    (copy / "policy" / "model.skops").write_bytes(blob)
    _set_hash(copy / "policy", blob)
    with pytest.raises(PolicyFileError, match="Untrusted|untrusted"):
        co.load_policy(copy, k=2)


def test_altered_unknown_and_foreign_files(copy, tmp_path):
    model = copy / "policy" / "model.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(PolicyFileError, match="altered"):
        co.load_policy(copy, k=2)

    meta_path = copy / "policy" / "policy.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PolicyFileError, match="format version 99"):
        co.load_policy(copy, k=2)

    meta_path.write_text("this is not json")
    with pytest.raises(PolicyFileError, match="not a saved policy"):
        co.load_policy(copy)
    meta_path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(PolicyFileError, match="not a saved coarseopt policy"):
        co.load_policy(copy)
    with pytest.raises(PolicyFileError, match="no saved policy here"):
        co.load_policy(tmp_path / "nowhere")
    make_experiment(30, seed=5).to_csv(tmp_path / "x.csv", index=False)
    proc = run_cli("apply", str(tmp_path), "x.csv", "--k", "2", "--out", "o.csv", cwd=tmp_path)
    assert_one_line_error(proc, "no saved policy here")


def test_inconsistent_metadata_is_refused(copy):
    meta_path = copy / "policy" / "policy.json"
    meta = json.loads(meta_path.read_text())
    meta["schema"]["features"] = meta["schema"]["features"][:1]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PolicyFileError, match="damaged or inconsistent"):
        co.load_policy(copy, k=2)


def test_unknown_k_and_save_never_overwrites(study, tmp_path):
    tmp, _, result = study
    with pytest.raises(PolicyFileError, match=r"k = 5: the study solved k in \[2, 3\]"):
        co.load_policy(tmp / "results", k=5)
    policy = co.Policy(result.deployed, result.results[2], min_share=MIN_SHARE)
    path = policy.save(tmp_path / "p")
    assert co.load_policy(path).offered == policy.offered
    with pytest.raises(PolicyFileError, match="never overwrites"):
        policy.save(tmp_path / "p")
    make_experiment(30, seed=6).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(OutputError, match="input file"):
        apply_policy(policy, tmp_path / "in.csv", tmp_path / "in.csv", force=True)
    with pytest.raises(SchemaError, match="expected a .csv or .parquet"):
        apply_policy(policy, tmp_path / "in.csv", tmp_path / "out.json")


def test_levels_between_arms_round_trip(tmp_path):
    """Numeric arms with a finer grid: the saved policy predicts the estimate's interpolated profits."""
    df, truth = co.datasets.make_promotions(2000, seed=0)
    exp = co.Experiment(df, outcome="sales", treatment="discount", features=truth.features)
    est = co.estimate_profit(exp, truth.economics, learner="t", grid=9, cv=None)
    res = co.solve(est.to_problem(3), "enumerate")
    policy = co.load_policy(co.Policy(est, res, rules_depth=1).save(tmp_path / "p"))
    np.testing.assert_allclose(policy.predict_profit(df).to_numpy(), est.profit.iloc[:, res.offered].to_numpy(),
                               rtol=1e-10, atol=1e-10)
    expected = est.assign(res).to_numpy()
    assert (policy.assign(df).to_numpy() == expected).all()
    assert policy.rules.depth == 1 and set(policy.assign(df, using="rules")) <= set(policy.offered)
