"""Statistics: pure functions of arrays and tables, no plotting and no file I/O.

One flat API over modules by concept: pairs (tests and effect sizes), multiplicity (Holm,
Benjamini-Hochberg), equivalence (TOST), pooling (sign test, random-effects meta-analysis),
metaregression (the one random-effects estimator, REML with Knapp-Hartung intervals, under the
meta-analysis and the meta-regressions), trend (per-series slopes of an effect on a setting,
pooled), ranks (Friedman, Nemenyi), verdict (the expectations
and the one verdict rule), expectations (E1-E6 on one series), power (standard error and
repeats).
"""

from statelab.defaults import ALPHA
from statelab.stats.equivalence import (
    equivalence_p,
    log_margins,
    pooled_equivalent,
    series_margin,
)
from statelab.stats.expectations import Tested, expectation_table, expectation_tests, pairwise_table
from statelab.stats.metaregression import (
    MetaRegression,
    Prediction,
    Predictor,
    meta_regression,
    predict,
)
from statelab.stats.multiplicity import benjamini_hochberg, benjamini_hochberg_by, holm
from statelab.stats.pairs import (
    BOOTSTRAP_BLOCK_VALUES,
    LogRatio,
    PairTest,
    bca_acceleration,
    bca_interval,
    bootstrap_ci,
    cliffs_delta,
    cohens_d,
    compare_pair,
    log_ratio,
    primary_p,
)
from statelab.stats.pooling import Meta, SignTest, meta_analysis, prediction_interval, sign_test
from statelab.stats.power import power_from_pool, repeats_for_power, standard_error_curve
from statelab.stats.ranks import Ranks, critical_difference, rank_experiments
from statelab.stats.trend import Slopes, Trend, pooled_slope, series_slopes
from statelab.stats.verdict import (
    EXPECTATIONS,
    VERDICTS,
    Expectation,
    answer,
    decide,
    explain,
    finding,
    p_shown,
    p_text,
    pooled_verdict,
    verdict,
)

__all__ = [
    "ALPHA",
    "BOOTSTRAP_BLOCK_VALUES",
    "EXPECTATIONS",
    "Expectation",
    "LogRatio",
    "Meta",
    "MetaRegression",
    "PairTest",
    "Prediction",
    "Predictor",
    "Ranks",
    "SignTest",
    "Slopes",
    "Tested",
    "Trend",
    "VERDICTS",
    "answer",
    "bca_acceleration",
    "bca_interval",
    "benjamini_hochberg",
    "benjamini_hochberg_by",
    "bootstrap_ci",
    "cliffs_delta",
    "cohens_d",
    "compare_pair",
    "critical_difference",
    "decide",
    "equivalence_p",
    "expectation_table",
    "expectation_tests",
    "explain",
    "finding",
    "holm",
    "log_margins",
    "log_ratio",
    "meta_analysis",
    "meta_regression",
    "p_shown",
    "p_text",
    "pairwise_table",
    "pooled_equivalent",
    "pooled_slope",
    "pooled_verdict",
    "power_from_pool",
    "predict",
    "prediction_interval",
    "primary_p",
    "rank_experiments",
    "repeats_for_power",
    "series_margin",
    "series_slopes",
    "sign_test",
    "standard_error_curve",
    "verdict",
]
