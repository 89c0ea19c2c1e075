"""Statistics across series, each against an independent value: published results (R's metafor
through statsmodels' test suite, R's PMCMRplus through scikit-posthocs', SciPy's documented
Friedman example, Demsar's table of Nemenyi critical values), cases worked by hand, and a
simulation; the verdict rule on inputs built so that only the right rule passes."""

from __future__ import annotations

import io
import math
from statistics import NormalDist

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from statelab import stats
from statelab.outputs import plots
from statelab.stats import LogRatio, SignTest

Z975 = NormalDist().inv_cdf(0.975)  # the standard library's, not SciPy's


def t975_one_df() -> float:
    """t with one degree of freedom is Cauchy: its 97.5% quantile is tan(0.475 pi)."""
    return math.tan(0.475 * math.pi)


# t with two degrees of freedom has the quantile (2p - 1) / sqrt(2 p (1 - p)).
T975_TWO_DF = 0.95 / math.sqrt(2 * 0.975 * 0.025)


# --- log_ratio -------------------------------------------------------------------------------


def test_log_ratio_hand_worked():
    # a: mean 4, deviations -2 0 2 -> var 4; b: mean 2, deviations -1 1 0 -> var 1; cov (2+0+0)/2
    # = 1. var = (4/16 + 1/4 - 2 * 1/(4 * 2)) / 3 = 1/12. The NaN pair (a failed) is dropped.
    result = stats.log_ratio([2.0, 4.0, 6.0, np.nan], [1.0, 3.0, 2.0, 5.0])
    assert result.n == 3
    assert result.estimate == pytest.approx(math.log(2.0), rel=1e-15)
    assert result.se == pytest.approx(math.sqrt(1 / 12), rel=1e-14)


def test_log_ratio_se_matches_simulation():
    """Paired repeats whose relative noise has sd 0.1 in each experiment and correlation 0.8
    between them: var(log ratio) ~ (0.01 + 0.01 - 2 * 0.8 * 0.01) / R. The SEs from single
    series match both that and the spread of the estimates over 20,000 simulated series (the
    pairing matters: ignoring the covariance would give 2.2 times the SE)."""
    rng = np.random.default_rng(20240611)
    series, repeats, cv, rho = 20_000, 30, 0.1, 0.8
    z1, z2 = rng.standard_normal((2, series, repeats))
    a = 10.0 * (1 + cv * z1)
    b = 12.0 * (1 + cv * (rho * z1 + math.sqrt(1 - rho**2) * z2))
    estimates = np.log(a.mean(axis=1) / b.mean(axis=1))
    theory = math.sqrt((2 * cv**2 - 2 * rho * cv**2) / repeats)
    assert estimates.std(ddof=1) == pytest.approx(theory, rel=0.02)
    ses = np.array([stats.log_ratio(a[i], b[i]).se for i in range(2000)])
    assert ses.mean() == pytest.approx(theory, rel=0.03)
    assert ses.mean() == pytest.approx(estimates.std(ddof=1), rel=0.03)


def test_log_ratio_identical_pair_has_zero_se_and_few_pairs_none():
    a = np.random.default_rng(3).uniform(0.3, 3.7, 17) * 1e3
    assert stats.log_ratio(a, a.copy()) == LogRatio(0.0, 0.0, 17)
    one = stats.log_ratio([2.0, np.nan], [1.0, 4.0])
    assert one.n == 1 and one.estimate == pytest.approx(math.log(2)) and math.isnan(one.se)
    empty = stats.log_ratio([np.nan], [1.0])
    assert empty.n == 0 and math.isnan(empty.estimate) and math.isnan(empty.se)
    with pytest.raises(ValueError, match="paired"):
        stats.log_ratio([1.0, 2.0], [1.0])


# --- benjamini_hochberg ----------------------------------------------------------------------


def test_benjamini_hochberg_hand_worked():
    # Four hypotheses (the NaN is none): sorted 0.01 0.04 0.045 0.9 times m / rank =
    # 0.04 0.08 0.06 0.9; the running minimum from the top makes 0.08 into 0.06.
    adjusted = stats.benjamini_hochberg([0.045, np.nan, 0.01, 0.9, 0.04])
    np.testing.assert_allclose(adjusted, [0.06, np.nan, 0.04, 0.9, 0.06], rtol=1e-14)


def test_benjamini_hochberg_matches_statsmodels():
    p = np.random.default_rng(5).uniform(0, 0.2, 40) ** 2
    p[[3, 17]] = np.nan
    expected = np.full_like(p, np.nan)
    expected[~np.isnan(p)] = multipletests(p[~np.isnan(p)], method="fdr_bh")[1]
    np.testing.assert_allclose(stats.benjamini_hochberg(p), expected, rtol=1e-12)
    assert math.isnan(stats.benjamini_hochberg([np.nan])[0])  # NaN in, NaN out
    assert stats.benjamini_hochberg([]).shape == (0,)


# --- equivalence_p ---------------------------------------------------------------------------


def test_equivalence_p_tiny_consistent_shift_within_margin():
    base = np.random.default_rng(11).uniform(50, 150, 20)
    noise = np.random.default_rng(12).normal(0, 0.01, 20)
    assert stats.equivalence_p(base + 0.02 + noise, base, margin=0.1) < 0.05


def test_equivalence_p_shift_larger_than_margin():
    base = np.random.default_rng(11).uniform(50, 150, 20)
    noise = np.random.default_rng(12).normal(0, 0.01, 20)
    assert stats.equivalence_p(base + 0.2 + noise, base, margin=0.1) > 0.05
    assert stats.equivalence_p(base - 0.2 + noise, base, margin=0.1) > 0.05


def test_equivalence_p_is_the_larger_one_sided_p():
    # By hand: differences d (NaN pair dropped), t = (mean d -+ margin) / (sd / sqrt n), df 4.
    d = np.array([0.05, 0.15, -0.02, 0.1, 0.08])
    b = np.array([3.0, 4.0, 5.0, 6.0, 7.0])
    se = d.std(ddof=1) / math.sqrt(5)
    lower = sps.t.sf((d.mean() + 0.2) / se, 4)
    upper = sps.t.cdf((d.mean() - 0.2) / se, 4)
    p = stats.equivalence_p(np.append(b + d, np.nan), np.append(b, 1.0), margin=0.2)
    assert p == pytest.approx(max(lower, upper), rel=1e-10)
    assert 1e-4 < p < 0.05


def test_equivalence_p_constant_difference_and_edges():
    b = np.array([1.0, 2.0, 4.0])
    assert stats.equivalence_p(b + 0.5, b, margin=1.0) == 0.0
    assert stats.equivalence_p(b + 2.0, b, margin=1.0) == 1.0
    assert math.isnan(stats.equivalence_p([1.0, np.nan], [2.0, 3.0], margin=1.0))
    with pytest.raises(ValueError, match="positive"):
        stats.equivalence_p(b, b, margin=0.0)


# --- sign_test -------------------------------------------------------------------------------


def test_sign_test_nine_of_ten():
    # P(9 or more of 10, or 1 or fewer) = 2 (1 + 10) / 2^10.
    values = [0.3] * 9 + [-0.1] + [0.0, 0.0, np.nan]
    assert stats.sign_test(values) == SignTest(9, 1, 2, pytest.approx(22 / 1024, rel=1e-12))
    assert stats.sign_test([-1.0] * 9 + [1.0]).p == pytest.approx(22 / 1024, rel=1e-12)
    assert math.isnan(stats.sign_test([0.0, np.nan]).p)


# --- meta_analysis ---------------------------------------------------------------------------
# (REML and the Knapp-Hartung intervals against metafor: tests/test_stats_pooling.py.)

# Kacker (2004)'s nine measurements, with R metafor's results as statsmodels' test suite holds
# them (statsmodels/stats/tests/results/results_meta.py: exk1_metafor): Cochran's Q does not
# depend on the estimator of tau2.
KACKER_EFFECTS = np.array([61.00, 61.40, 62.21, 62.30, 62.34, 62.60, 62.70, 62.84, 65.90])
KACKER_VARIANCES = np.array(
    [0.2025, 1.2100, 0.0900, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225]
)
KACKER_Q, KACKER_Q_P = 24.801897741835, 0.00167935146372742
KACKER_I2 = 0.67744403741711  # (Q - 8) / Q: metafor's I^2 for DL


def test_meta_analysis_cochrans_q_against_metafor():
    meta = stats.meta_analysis(KACKER_EFFECTS, np.sqrt(KACKER_VARIANCES))
    assert meta.k == 9 and meta.zero_se == 0
    assert meta.q == pytest.approx(KACKER_Q, rel=1e-10)
    assert meta.q_p == pytest.approx(KACKER_Q_P, rel=1e-8)
    # Higgins-Thompson I^2 from Q (metafor reports tau2 / (tau2 + typical variance) for REML).
    assert meta.i2 == pytest.approx(KACKER_I2, rel=1e-10)


def test_meta_analysis_equal_variances_by_hand():
    """Equal variances v: REML's score equation reduces to sum (y - m)^2 / (v + tau2) = k - 1
    (as Paule-Mandel's does), so tau2 = s^2 - v. With y = 0, 1, 5 (s^2 = 14 / 2 = 7) and v =
    0.5: tau2 = 6.5, pooled = 2, se = sqrt(7 / 3); Knapp-Hartung's q = sum w e^2 / (k - 1) =
    (14 / 7) / 2 = 1, so the CI is 2 -+ t_{2, 0.975} sqrt(7 / 3)."""
    meta = stats.meta_analysis([0.0, 1.0, 5.0], np.sqrt([0.5] * 3))
    se = math.sqrt(7 / 3)
    pi_half = t975_one_df() * math.sqrt(6.5 + 7 / 3)
    assert meta.tau2 == pytest.approx(6.5, rel=1e-12)
    assert meta.pooled == pytest.approx(2.0, rel=1e-12)
    assert (meta.se, meta.df) == (pytest.approx(se, rel=1e-12), 2)
    half = T975_TWO_DF * se
    assert (meta.ci_low, meta.ci_high) == pytest.approx((2 - half, 2 + half), rel=1e-12)
    assert (meta.pi_low, meta.pi_high) == pytest.approx((2 - pi_half, 2 + pi_half), rel=1e-12)
    assert meta.q == pytest.approx(28.0) and meta.i2 == pytest.approx(13 / 14)


def test_meta_analysis_no_heterogeneity_is_the_fixed_effect():
    """Q = (0.01 + 0.01) / 1 < 2 df: the REML score is negative at tau2 = 0, so tau2 is 0; the
    pooled mean is the fixed-effect one (0, se sqrt(1/3)) and I^2 is 0, not (Q - df) / Q < 0.
    Knapp-Hartung's q = Q / 2 = 0.01 is truncated to 1: the CI is 0 -+ t_{2, 0.975} sqrt(1/3),
    wider than the normal one, not ten times narrower."""
    meta = stats.meta_analysis([0.0, 0.1, -0.1], [1.0, 1.0, 1.0])
    assert meta.tau2 == 0.0 and meta.i2 == 0.0
    assert meta.pooled == pytest.approx(0.0, abs=1e-15)
    assert meta.se == pytest.approx(math.sqrt(1 / 3), rel=1e-12)
    assert meta.ci_high == pytest.approx(T975_TWO_DF * math.sqrt(1 / 3), rel=1e-12)
    assert meta.pi_high == pytest.approx(t975_one_df() * math.sqrt(1 / 3), rel=1e-12)


def test_meta_analysis_leaves_zero_se_series_out_and_counts_them():
    base = stats.meta_analysis(KACKER_EFFECTS, np.sqrt(KACKER_VARIANCES))
    effects = np.append(KACKER_EFFECTS, [0.0, 0.0, np.nan, 1.0])
    ses = np.append(np.sqrt(KACKER_VARIANCES), [0.0, 0.0, 0.5, np.nan])
    meta = stats.meta_analysis(effects, ses)
    assert meta == base._replace(zero_se=2)


def test_meta_analysis_few_series():
    """One series: its own normal interval (df inf). Two with equal variances 0.01: tau2 = s^2 -
    v = 0.02 - 0.01, w = 50 each, se 0.1, q = 50 (0.01 + 0.01) / 1 = 1: 0.3 -+ t_{1, 0.975} 0.1."""
    one = stats.meta_analysis([0.2], [0.1])
    assert one.k == 1 and one.pooled == 0.2 and (one.se, one.df) == (0.1, math.inf)
    assert one.ci_high == pytest.approx(0.2 + Z975 * 0.1, rel=1e-12)
    assert math.isnan(one.pi_low) and math.isnan(one.tau2)
    two = stats.meta_analysis([0.2, 0.4], [0.1, 0.1])
    assert two.k == 2 and two.df == 1 and math.isnan(two.pi_low)
    assert two.tau2 == pytest.approx(0.01, rel=1e-12)
    assert (two.ci_low, two.ci_high) == pytest.approx(
        (0.3 - t975_one_df() * 0.1, 0.3 + t975_one_df() * 0.1), rel=1e-12
    )
    none = stats.meta_analysis([0.0], [0.0])
    assert none.k == 0 and none.zero_se == 1 and math.isnan(none.pooled)


# --- rank_experiments ------------------------------------------------------------------------


# Demsar (2006), Table 5(a): two-tailed Nemenyi critical values q_0.05 for k classifiers.
DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102,
              10: 3.164}  # fmt: skip


def test_friedman_scipy_documented_example():
    """scipy.stats.friedmanchisquare's example (pulse before, immediately after and five minutes
    after exercise). Ranks by hand per subject sum to 10, 21 and 11 over 7 subjects."""
    table = pd.DataFrame(
        {
            "before": [72, 96, 88, 92, 74, 76, 82],
            "immediately_after": [120, 120, 132, 120, 101, 96, 112],
            "five_min_after": [76, 95, 104, 96, 84, 72, 76],
        }
    )
    ranks = stats.rank_experiments(table)
    assert ranks.friedman_stat == pytest.approx(10.57142857142857, rel=1e-12)
    assert ranks.friedman_p == pytest.approx(0.005063414171757498, rel=1e-10)
    expected = pd.Series({"before": 10 / 7, "immediately_after": 3.0, "five_min_after": 11 / 7})
    pd.testing.assert_series_equal(ranks.mean_ranks, expected, check_exact=False, rtol=1e-14)
    assert ranks.series == 7


def test_nemenyi_against_scikit_posthocs_published_values():
    """scikit-posthocs' test of posthoc_nemenyi_friedman (values from R's PMCMRplus
    frdAllPairsNemenyiTest) on its 3-block, 7-group table."""
    names = [f"e{i}" for i in range(7)]
    table = pd.DataFrame(
        [[4, 3, 4, 4, 5, 6, 3], [1, 2, 3, 5, 6, 7, 7], [1, 2, 6, 4, 1, 5, 1]], columns=names
    )
    lower = [
        [],
        [0.9999999],
        [0.8414506, 0.8833015],
        [0.9177741, 0.9449086, 0.9999962],
        [0.9177741, 0.9449086, 0.9999962, 1.0000000],
        [0.2147827, 0.2597539, 0.9449086, 0.8833015, 0.8833015],
        [0.9976902, 0.9991770, 0.9888953, 0.9976902, 0.9976902, 0.5511935],
    ]
    ranks = stats.rank_experiments(table)
    nemenyi = ranks.nemenyi.loc[names, names].to_numpy()
    for i, row in enumerate(lower):
        for j, p in enumerate(row):
            assert nemenyi[i, j] == pytest.approx(p, abs=1e-6)
            assert nemenyi[j, i] == pytest.approx(p, abs=1e-6)
    q_alpha = ranks.critical_difference / math.sqrt(7 * 8 / (6 * 3))
    assert q_alpha == pytest.approx(DEMSAR_Q05[7], abs=1e-3)


@pytest.mark.parametrize("k", sorted(DEMSAR_Q05))
def test_critical_difference_against_demsar_table(k):
    n = 30
    tabulated = DEMSAR_Q05[k] * math.sqrt(k * (k + 1) / (6 * n))
    assert stats.critical_difference(k, n) == pytest.approx(
        tabulated, abs=1e-3 * math.sqrt(k * (k + 1) / (6 * n))
    )


def test_rank_experiments_ranks_lowest_rmse_first_and_drops_incomplete_series():
    rng = np.random.default_rng(9)
    table = pd.DataFrame(
        {"good": rng.uniform(1, 2, 24), "fair": rng.uniform(3, 4, 24),
         "poor": rng.uniform(5, 6, 24), "worst": rng.uniform(7, 8, 24)}
    )  # fmt: skip
    table.loc[[2, 5], "fair"] = np.nan
    ranks = stats.rank_experiments(table)
    assert ranks.series == 22
    assert ranks.mean_ranks.to_dict() == {"good": 1.0, "fair": 2.0, "poor": 3.0, "worst": 4.0}
    q_alpha = ranks.critical_difference / math.sqrt(4 * 5 / (6 * 22))
    assert q_alpha == pytest.approx(DEMSAR_Q05[4], abs=1e-3)
    assert ranks.nemenyi.loc["good", "worst"] < 0.001 < ranks.nemenyi.loc["good", "fair"]
    with pytest.raises(ValueError, match="3\\+ experiments"):
        stats.rank_experiments(table[["good", "fair"]])


# --- cd_diagram ------------------------------------------------------------------------------


def test_cd_diagram_saves_a_non_blank_png_with_plain_text_names():
    # "$x^$" is broken mathtext: it draws only because names are plain text.
    table = pd.DataFrame(
        {"stateful": [1.0, 2.0, 3.0, 1.5], "$x^$": [2.0, 2.5, 3.5, 2.5],
         "stateless_shuffle": [3.0, 3.0, 4.0, 3.5]}
    )  # fmt: skip
    figure = plots.cd_diagram(stats.rank_experiments(table), "M3 monthly: $ranks$")
    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(io.BytesIO(buffer.getvalue()), format="png")[..., :3]
    dark = (pixels.mean(axis=-1) < 0.5).mean()
    assert pixels.std() > 0.05 and 0.001 < dark < 0.5
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any("$x^$" in t for t in texts)
    assert "CD = 1.66" in texts  # 2.343 sqrt(3 * 4 / (6 * 4)) for 3 experiments, 4 series
