"""The end-to-end study behind ``coarseopt run``: estimate, discretize, evaluate, report.

1. **Data**: a bundled experiment or a CSV / Parquet file; used columns checked (present,
   no missing values unless ``dropna``), text features one-hot encoded.
2. **Split**: customers are split into a training and a held-out half (stratified by arm).
3. **Personalize** (step 1): :func:`coarseopt.estimate_profit` on the training half, with
   cross-fitted (out-of-fold) predictions; the fitted models predict the held-out half.
4. **Discretize** (step 2): for every ``k``, :func:`coarseopt.solve` with the configured
   solver picks at most ``k`` treatments; each customer gets the most profitable offered one.
5. **Evaluate** (step 3): on the held-out half, which the models never saw, the realized
   profit of each policy (``k`` = 1, 2, ..., full personalization, and the baseline) is
   estimated from the experiment with :mod:`coarseopt.evaluation`, with confidence intervals.
6. **Outputs**: JSON, CSV / Parquet and a self-contained HTML report, written atomically.

The functions here are the library form of the command: ``run_study(load_config(path))``.

The study lives in :mod:`coarseopt.study` (``data``, ``run``, ``evaluate``, ``outputs``); this
module is its stable entry point."""

from __future__ import annotations

from .config import evaluation_covariates
from .study.data import load_data, match_label, min_arm_customers, sort_key
from .study.run import Study, VARIANCE_SAMPLE, certify_optimum, check_study, refit_on_all, run_study
from .study.outputs import (
    OutputError, check_output_dir, evaluation_table, offered_with_customers, profit_unit, write_outputs,
)

__all__ = [
    "OutputError",
    "Study",
    "run_study",
    "load_data",
    "check_output_dir",
    "check_study",
    "write_outputs",
    "certify_optimum",
    "offered_with_customers",
    "profit_unit",
    "min_arm_customers",
    "evaluation_table",
    "refit_on_all",
    "VARIANCE_SAMPLE",
    "evaluation_covariates",
    "match_label",
    "sort_key",
]
