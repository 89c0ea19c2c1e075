"""Random-effects meta-regression: the one estimator of the between-series variance (REML) and
the Knapp-Hartung intervals, under the meta-analysis (an intercept-only model) and the
regressions of the log ratios on moderators (settings, series features)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from statelab.defaults import ALPHA
from statelab.errors import StatelabError

COEFFICIENT_COLUMNS = ["estimate", "se", "t", "p", "ci_low", "ci_high"]


class MetaRegression(NamedTuple):
    """A random-effects meta-regression y_i = x_i' beta + u_i + e_i, u_i ~ N(0, tau2), e_i ~
    N(0, se_i^2), with REML tau2 and Knapp-Hartung inference (t on ``df``)."""

    coefficients: pd.DataFrame  # per term ("intercept", then the moderators): COEFFICIENT_COLUMNS
    k: int  # series in the fit
    df: int  # k - coefficients: the t degrees of freedom of every test and interval
    tau2: float  # residual between-series variance (REML)
    hk_q: float  # Knapp-Hartung's q, sum w e^2 / df at tau2; the covariance is scaled by max(1, q)
    i2: float  # share of the residual variation due to heterogeneity, (QE - df) / QE, at least 0
    r2: float  # share of the intercept-only model's tau2 the moderators explain (NaN: none)
    qe: float  # test of residual heterogeneity: Cochran's Q of the fixed-effect fit, chi2 on df
    qe_p: float
    f: float  # test of the moderators (every coefficient but the intercept): F(m, df)
    f_p: float
    covariance: np.ndarray  # the coefficients' Knapp-Hartung covariance, (X'WX)^-1 max(1, q)
    zero_se: int = 0  # series left out because their SE is 0 (see ``usable``)


class Usable(NamedTuple):
    keep: np.ndarray  # the rows a meta-analysis can use: finite, with SE above 0
    zero_se: int  # finite rows left out because their SE is 0


def usable(y: np.ndarray, se: np.ndarray) -> Usable:
    """Which series a random-effects model can weigh. Series with SE 0 are left out and counted:
    an identical pair (a == b repeat by repeat) has no sampling variance, so its inverse-variance
    weight would be infinite and swamp every other series; its effect is exactly 0 (or
    constant), which the sign test and the per-series verdicts report. Non-finite values (a
    series with too few finished repeats) are dropped and not counted."""
    if y.shape != se.shape:
        raise StatelabError(f"{len(y)} estimates but {len(se)} standard errors: give one of each")
    finite = np.isfinite(y) & np.isfinite(se)
    return Usable(finite & (se > 0), int(np.sum(finite & (se == 0))))


class _Weighted(NamedTuple):
    """Weighted least squares at each of several tau2 (the first axis)."""

    w: np.ndarray  # (g, k): 1 / (v + tau2)
    residuals: np.ndarray  # (g, k): y - X beta
    bread: np.ndarray  # (g, p, p): (X'WX)^-1, the model-based covariance of beta


def _weighted(y: np.ndarray, v: np.ndarray, x: np.ndarray, tau2) -> _Weighted:
    w = 1 / (v + np.reshape(tau2, (-1, 1)))
    bread = np.linalg.inv(x.T @ (w[..., None] * x))
    beta = (bread @ ((w * y) @ x)[..., None])[..., 0]
    return _Weighted(w, y - beta @ x.T, bread)


def _score(y: np.ndarray, v: np.ndarray, x: np.ndarray, tau2) -> np.ndarray:
    """The restricted log-likelihood's derivative in tau2 (times 2), y'PPy - tr(P)."""
    fit = _weighted(y, v, x, tau2)
    squared = x.T @ (fit.w[..., None] ** 2 * x)
    trace = fit.w.sum(axis=1) - np.einsum("gpq,gqp->g", fit.bread, squared)
    return np.sum((fit.w * fit.residuals) ** 2, axis=1) - trace


def _log_likelihood(y: np.ndarray, v: np.ndarray, x: np.ndarray, tau2: float) -> float:
    fit = _weighted(y, v, x, tau2)
    log_det = -np.linalg.slogdet(fit.bread[0])[1]
    return -0.5 * float(np.sum(np.log(v + tau2)) + log_det + fit.w[0] @ fit.residuals[0] ** 2)


def reml_tau2(y: np.ndarray, v: np.ndarray, x: np.ndarray) -> float:
    """The REML estimate of tau2: where the restricted log-likelihood
    -1/2 [sum log(v + tau2) + log det X'WX + e'We] is highest on [0, inf).

    Hand-written: statsmodels' meta-analysis has Paule-Mandel and DerSimonian-Laird only and
    no meta-regression, its MixedLM cannot take known sampling variances, and PyMARE (which
    has REML) adds half a second of imports (SymPy). The likelihood can have two maxima, one
    at 0 and one inside, when a few series have far smaller SEs than the rest (as series whose
    two experiments differ little do): 3 series with SE 0.002 and effects near 0 among 6 with
    SE 0.02 and effects -+0.1 fall from 0 before rising to their maximum at 0.007. So the root
    of the score is not enough, nor is Fisher scoring from one start (metafor's, which finds
    whichever maximum is nearest): every root where the score y'PPy - tr(P) (with P = W - W X
    (X'WX)^-1 X'W) falls through 0 is found by SciPy's brentq between the points of a
    geometric grid, 10 a decade from 1e-8 min(v) up to a bound past which the score is
    negative, and the best of them and 0 is taken. Beyond t = max(v_max, 2 RSS / (k - p)), RSS
    the unweighted least-squares residual sum of squares, y'PPy <= w_max^2 RSS < w_min (k - p)
    <= tr(P), so no root lies there. The score is O(k p^2) per tau2 and taken over the whole
    grid at once: P is never formed (Py = W e, tr(P) = sum w - tr((X'WX)^-1 X'W^2X))."""
    k, p = x.shape
    rss = float(np.sum((y - x @ np.linalg.lstsq(x, y, rcond=None)[0]) ** 2))
    high = 2 * max(float(v.max()), 2 * rss / (k - p))
    low = 1e-8 * float(v.min())
    grid = np.concatenate([[0.0], np.geomspace(low, high, max(2, int(10 * np.log10(high / low))))])
    scores = _score(y, v, x, grid)
    roots = [optimize.brentq(lambda t: _score(y, v, x, t)[0], grid[i], grid[i + 1],
                             xtol=4 * np.finfo(float).eps * grid[i + 1])
             for i in np.flatnonzero((scores[:-1] > 0) & (scores[1:] <= 0))]  # fmt: skip
    return float(max([0.0, *roots], key=lambda t: _log_likelihood(y, v, x, t)))


def _design(moderators, k: int) -> tuple[np.ndarray, list[str]]:
    """The intercept and the moderators' columns, with their names (a DataFrame's or Series'
    own, else x1, x2, ...)."""
    if moderators is None:
        return np.ones((k, 1)), ["intercept"]
    if isinstance(moderators, pd.Series):
        moderators = moderators.to_frame(moderators.name if moderators.name is not None else "x1")
    if isinstance(moderators, pd.DataFrame):
        names, values = [str(c) for c in moderators.columns], moderators.to_numpy(float)
    else:
        values = np.asarray(moderators, float)
        values = values.reshape(len(values), -1) if values.ndim < 2 else values
        names = [f"x{j + 1}" for j in range(values.shape[1])]
    if values.shape[0] != k:
        raise StatelabError(f"{values.shape[0]} rows of moderators for {k} estimates: give one "
                            "row per estimate")  # fmt: skip
    return np.column_stack([np.ones(k), values]), ["intercept", *names]


def meta_regression(
    estimates: Sequence[float], standard_errors: Sequence[float], moderators=None
) -> MetaRegression:
    """Random-effects meta-regression of ``estimates`` on ``moderators`` (an array of one row
    per estimate, a Series or a DataFrame; None for the intercept-only model, the meta-analysis)
    with REML tau2 and the Knapp-Hartung adjustment: the coefficients' covariance is the
    model's (X'WX)^-1 scaled by q* = max(1, q), q = sum w e^2 / (k - p), with t tests and
    intervals on k - p degrees of freedom (statsmodels' WLS at the fixed scale q*).

    REML, not Paule-Mandel, as the one estimator of tau2 for the meta-analysis and every
    meta-regression: PM does not carry over to moderators in a standard way while REML does
    (metafor's default; "approximately unbiased" in the simulations of Viechtbauer 2005,
    Veroniki et al. 2016 and Langan et al. 2019, which recommend REML or PM), and one
    estimator makes the intercept-only regression exactly the meta-analysis.

    The truncation q* = max(1, q) (metafor's test="adhoc"; test="knha" leaves q alone) keeps
    the adjustment from narrowing an interval below the model's: untruncated, q < 1 exactly
    when the series agree better than their SEs say, typically when tau2 = 0, and a pooled
    interval over 3 series then comes out narrower than the fixed-effect one.

    Rows with a non-finite estimate, SE or moderator are dropped; SE 0 rows are left out and
    counted (see ``usable``). The fit needs more usable series than coefficients."""
    y, se = np.asarray(estimates, float), np.asarray(standard_errors, float)
    x, names = _design(moderators, len(y))
    rows = usable(y, se)
    keep = rows.keep & np.isfinite(x).all(axis=1)
    y, v, x = y[keep], se[keep] ** 2, x[keep]
    k, p = x.shape
    if k <= p:
        raise StatelabError(f"a meta-regression on {p} coefficient(s) needs {p + 1} or more "
                            f"usable series, not {k}")  # fmt: skip
    if np.linalg.matrix_rank(x) < p:
        raise StatelabError(f"the moderators {', '.join(names[1:])} are collinear with each "
                            "other or the intercept on these series: drop one")  # fmt: skip
    df = k - p
    tau2 = reml_tau2(y, v, x)
    coefficients, covariance, hk_q, f, f_p = _knapp_hartung(y, v, x, tau2, names)
    fixed = _weighted(y, v, x, 0.0)
    qe = float(fixed.w[0] @ fixed.residuals[0] ** 2)
    if p > 1:
        tau2_all = reml_tau2(y, v, x[:, :1])
        r2 = max(0.0, (tau2_all - tau2) / tau2_all) if tau2_all > 0 else 0.0
    else:
        r2 = float("nan")
    return MetaRegression(
        coefficients=coefficients,
        k=k,
        df=df,
        tau2=tau2,
        hk_q=hk_q,
        i2=max(0.0, (qe - df) / qe) if qe > 0 else 0.0,
        r2=r2,
        qe=qe,
        qe_p=float(sps.chi2.sf(qe, df)),
        f=f,
        f_p=f_p,
        covariance=covariance,
        zero_se=rows.zero_se,
    )


def _knapp_hartung(y, v, x, tau2: float, names: list[str]):
    """The coefficient table, q, and the moderators' F test by statsmodels' WLS, at the weights
    1 / (v + tau2) and the covariance scale max(1, q) (statsmodels' own scale is q)."""
    from statsmodels.regression.linear_model import WLS  # 0.15 s of imports: only when fitting

    model = WLS(y, x, weights=1 / (v + tau2))
    q = float(model.fit().scale)
    fit = model.fit(cov_type="fixed scale", cov_kwds={"scale": max(1.0, q)}, use_t=True)
    ci = fit.conf_int(alpha=ALPHA)
    table = pd.DataFrame(
        {"estimate": fit.params, "se": fit.bse, "t": fit.tvalues, "p": fit.pvalues,
         "ci_low": ci[:, 0], "ci_high": ci[:, 1]},
        index=pd.Index(names, name="term"),
    )  # fmt: skip
    covariance = np.asarray(fit.cov_params())
    if x.shape[1] == 1:
        return table, covariance, q, float("nan"), float("nan")
    test = fit.f_test(np.eye(x.shape[1])[1:])
    return table, covariance, q, float(np.squeeze(test.fvalue)), float(test.pvalue)


class Prediction(NamedTuple):
    """Predicted effects at new moderators, one value per row (arrays)."""

    estimate: np.ndarray  # x' beta
    se: np.ndarray  # of the estimate: sqrt(x' V x), V the Knapp-Hartung covariance
    pi_low: np.ndarray  # 95% prediction interval: x' beta -+ t_df sqrt(tau2 + x'Vx + variance)
    pi_high: np.ndarray


class Predictor(NamedTuple):
    """What a prediction needs of a fit: kept on its own, a fitted model can be stored and
    predict later without its data (statelab advise's model file)."""

    estimate: np.ndarray  # the coefficients, intercept first
    covariance: np.ndarray  # their Knapp-Hartung covariance
    tau2: float
    df: int

    @classmethod
    def of(cls, fit: MetaRegression) -> Predictor:
        return cls(fit.coefficients["estimate"].to_numpy(float), fit.covariance, fit.tau2,
                   fit.df)  # fmt: skip


def predict(fit: MetaRegression | Predictor, moderators=None, variance=0.0) -> Prediction:
    """The effect a new series with ``moderators`` (one row per series, the columns of the
    fit's moderators in order; a 1-D array for a model of one moderator; None: the
    intercept-only model's one prediction) is predicted
    to have, with its 95% prediction interval x'b -+ t_{k-p} sqrt(tau2 + x'Vx): metafor's
    predict() for a model fitted with test="knha" (with the truncated q, as the fit is).

    ``variance`` (a scalar or one per row) is added under the root: 0 gives the interval of a
    new series' true effect, as metafor does; a series' squared SE gives the interval of its
    observed estimate, which carries its own sampling error besides. Hand-written: statsmodels'
    WLS predicts with its residual scale, not tau2 plus each series' own variance."""
    model = fit if isinstance(fit, Predictor) else Predictor.of(fit)
    terms = len(model.estimate)
    x = np.ones((1, 1)) if moderators is None else _design(moderators, len(moderators))[0]
    if x.shape[1] != terms:
        raise StatelabError(f"{x.shape[1] - 1} moderator(s) given for a model of {terms - 1}: "
                            "give one value for each of its moderators")  # fmt: skip
    estimate = x @ model.estimate
    se = np.sqrt(np.einsum("kp,pq,kq->k", x, model.covariance, x))
    half = sps.t.ppf(1 - ALPHA / 2, model.df) * np.sqrt(model.tau2 + se**2 + np.asarray(variance))
    return Prediction(estimate, se, estimate - half, estimate + half)
