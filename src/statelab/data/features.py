"""Features of a series, the moderators of the meta-regression "which series does state help?".

Every feature is computed from the series' training part only (its last ``test_size`` values
are never read), so nothing leaks from the test months into a model that predicts them.

Most follow Hyndman's tsfeatures (R), on the training values standardised to mean 0 and
standard deviation 1 as tsfeatures does by default (``scale = TRUE``), so that spikiness,
linearity and curvature do not grow with the series' units:

- ``trend_strength`` and ``seasonal_strength``: max(0, 1 - Var(R) / Var(T + R)) and
  max(0, 1 - Var(R) / Var(S + R)) from an STL decomposition into trend T, seasonal S and
  remainder R (Wang, Smith and Hyndman, 2006; Hyndman and Athanasopoulos, FPP3 section 4.3);
- ``spikiness``: the variance of the leave-one-out variances of the remainder;
- ``linearity`` and ``curvature``: the coefficients of the trend component regressed on
  orthonormal polynomials of time of degree 1 and 2 (R's ``poly``);
- ``diff_acf1`` and ``diff_acf_seasonal``: the autocorrelation of the differenced series at
  lag 1 and at the seasonal lag;
- ``spectral_entropy``: the Shannon entropy of the normalised periodogram, on a scale from 0
  (all power at one frequency, a sine) to 1 (a flat spectrum, white noise).

And three of statelab's own: ``variation`` (the coefficient of variation, standard deviation
over the absolute mean, of the values as given), ``persistence_error`` (the one-step
persistence forecast's RMSE over the training values' standard deviation: near 0 where the
next value is the last one, about sqrt(2) for white noise; scale-free, and it is the baseline
the LSTM has to beat) and ``acf_timescale`` (catch22's first 1/e crossing of the
autocorrelation function: how many steps the series remembers, which is what state could
carry).

**Missing features.** A feature that does not apply is NaN, never a made-up value: the
seasonal ones (``seasonal_strength``, ``diff_acf_seasonal``) where the frequency is 1 (yearly
data, M3's "other"), unknown (a CSV file) or the training part holds no more than two whole
seasons (the rule of R's ``forecast::mstl``, which tsfeatures uses: with two, each
cycle-subseries has two points and the seasonal smoother absorbs everything, so both
strengths read 1); a strength whose component and remainder are both round-off (a straight
line has no seasonal strength, not 0 or 1); an autocorrelation where the differenced series
is constant (a straight line). Without the seasons the trend comes from a non-seasonal
smoother (below), as in tsfeatures.
A model handles them by **per-frequency models**: one meta-regression for each frequency,
in which the seasonal features enter only where the frequency is above 1, and a series
missing one of its model's features (too short for the seasons) is left out of that model
and counted. Not an indicator with a filled-in 0: a 0 would claim "no seasonality" where
seasonality was never measured, and the indicator would repeat the frequency.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pycatch22
from scipy import signal, stats
from statsmodels.nonparametric.smoothers_lowess import lowess
from statsmodels.tsa.seasonal import STL
from statsmodels.tsa.stattools import acf

from statelab.data import catalog
from statelab.errors import StatelabError

# A variance this small on the standardised scale (variance 1) is float64 round-off: values
# of size 1 carry errors of about 1e-16, variances of about 1e-32.
_ROUND_OFF = 1e-20


class Features(NamedTuple):
    """The features of one series' training part (NaN where one does not apply)."""

    length: int  # training values
    frequency: int | None  # the seasonal period the collection records; None: unknown
    domain: str  # the competition's category; "" where none is recorded
    trend_strength: float
    seasonal_strength: float
    diff_acf1: float
    diff_acf_seasonal: float
    spectral_entropy: float
    spikiness: float
    linearity: float
    curvature: float
    variation: float
    persistence_error: float
    acf_timescale: float


class _Decomposition(NamedTuple):
    trend: np.ndarray
    seasonal: np.ndarray | None  # None: not seasonal (no frequency, or too few seasons)
    remainder: np.ndarray


def features(
    series: pd.Series, test_size: int, frequency: int | None, domain: str = ""
) -> Features:
    """The features of ``series`` without its last ``test_size`` values.

    ``frequency`` is the seasonal period (12 monthly, 4 quarterly, 1 yearly; None unknown).
    A series whose training part is too short for the study, not finite or constant is
    refused with a StatelabError.
    """
    name = series.name if series.name is not None else "the series"
    values = _training(series, test_size, name)
    _check_frequency(frequency, name)
    if values.min() == values.max():
        raise StatelabError(
            f"{name} is constant over its {len(values)} training values ({values[0]:g}); "
            "its features (strengths, autocorrelations, entropy) are undefined: give a series "
            "that varies"
        )
    # Every feature is scale-free: divided by its largest magnitude first, a series of any
    # finite size has a finite mean and spread.
    unit = values / np.abs(values).max()
    mean, sd = unit.mean(), unit.std(ddof=1)
    scaled = (unit - mean) / sd
    seasonal = frequency is not None and frequency > 1 and len(values) > 2 * frequency
    parts = _decompose(scaled, frequency if seasonal else None)
    diffs = np.diff(scaled)  # the scaled values' differences: the raw ones over sd
    linearity, curvature = _poly_coefficients(parts.trend)
    missing = parts.seasonal is None
    return Features(
        length=len(values),
        frequency=frequency,
        domain=domain,
        trend_strength=_strength(parts.trend, parts.remainder),
        seasonal_strength=np.nan if missing else _strength(parts.seasonal, parts.remainder),
        diff_acf1=_acf_at(diffs, 1),
        diff_acf_seasonal=np.nan if missing else _acf_at(diffs, frequency),
        spectral_entropy=_spectral_entropy(scaled),
        spikiness=_spikiness(parts.remainder),
        linearity=linearity,
        curvature=curvature,
        variation=float(sd / abs(mean)) if mean != 0 else np.nan,
        persistence_error=float(np.sqrt(np.mean(diffs**2))),
        # catch22 (pycatch22: its authors' C code, checked against their published outputs)
        # rather than a timescale of our own. mask_nans=False: where the crossing cannot be
        # estimated it is NaN, not catch22's stand-in at the end of the feature's range.
        acf_timescale=pycatch22.CO_FirstCrossing_acf_1e_pointOfCrossing(
            scaled.tolist(), mask_nans=False
        ),
    )


def collection_features(selection: catalog.Selection) -> pd.DataFrame:
    """One row of features per series of ``selection``, indexed by the series' names, each
    from its own training part, with the frequency its collection records
    (``catalog.frequency``) and its domain."""
    rows = [
        features(series, test_size, catalog.frequency(str(series.name)), domain)
        for series, test_size, domain in zip(
            selection.series, selection.test_size, selection.domain, strict=True
        )
    ]
    names = pd.Index([str(series.name) for series in selection.series], name="series")
    table = pd.DataFrame(rows, columns=Features._fields, index=names)
    return table.astype({"frequency": "Int64"})  # None stays missing, not a float NaN


def _training(series: pd.Series, test_size: int, name: object) -> np.ndarray:
    """The training values as float64, checked: enough of them, and finite."""
    if isinstance(test_size, bool) or not isinstance(test_size, int | np.integer):
        raise StatelabError(f"test_size must be a whole number, not {test_size!r}")
    available = len(series) - catalog.HARNESS_ROWS
    if not 0 <= test_size <= available:
        raise StatelabError(
            f"{name} has {len(series)} values, too few for features after a test of "
            f"{test_size}: the training part needs at least {catalog.HARNESS_ROWS} (as the "
            f"study does); give a test of {max(available, 0)} or fewer, or a longer series"
        )
    try:
        values = np.asarray(series.iloc[: len(series) - test_size], dtype=np.float64)
    except (TypeError, ValueError):
        raise StatelabError(f"{name} holds values that are not numbers") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise StatelabError(
            f"{name} has a non-finite value ({values[bad[0]]}) at position {bad[0] + 1} of "
            "its training part; remove or fill it"
        )
    return values


def _check_frequency(frequency: int | None, name: object) -> None:
    if frequency is None:
        return
    if isinstance(frequency, bool) or not isinstance(frequency, int | np.integer) or frequency < 1:
        raise StatelabError(
            f"the frequency of {name} must be a whole number of at least 1 (12 monthly, 4 "
            f"quarterly, 1 yearly), not {frequency!r}"
        )


def _decompose(scaled: np.ndarray, period: int | None) -> _Decomposition:
    """Trend, seasonal and remainder: statsmodels' STL (Cleveland et al., 1990, the
    decomposition Hyndman's definitions are written for; its defaults, non-robust as in
    tsfeatures) given a period; otherwise trend and remainder alone."""
    if period is not None:
        fit = STL(scaled, period=period).fit()
        return _Decomposition(fit.trend, fit.seasonal, fit.resid)
    # tsfeatures smooths a non-seasonal series with R's supsmu, which no well-kept Python
    # library has; statsmodels' lowess is the local-linear smoother STL itself is built
    # from, here non-robust (it=0) as STL is, with statsmodels' default span of 2/3.
    trend = lowess(scaled, np.arange(len(scaled), dtype=np.float64), it=0, return_sorted=False)
    return _Decomposition(trend, None, scaled - trend)


def _strength(component: np.ndarray, remainder: np.ndarray) -> float:
    """Hyndman's strength of a component: max(0, 1 - Var(R) / Var(C + R)); NaN where C + R
    is round-off on the standardised scale (variance 1), where the ratio would be noise."""
    total = np.var(component + remainder, ddof=1)
    if total < _ROUND_OFF:
        return np.nan
    return float(max(0.0, 1.0 - np.var(remainder, ddof=1) / total))


def _acf_at(diffs: np.ndarray, lag: int) -> float:
    """The sample autocorrelation at ``lag``, by statsmodels' acf (the estimator of R's acf,
    which tsfeatures uses: mean removed, divided by the lag-0 sum); NaN where it is undefined:
    a differenced series constant up to round-off (a straight line), or no longer than the
    lag."""
    if len(diffs) <= lag or np.var(diffs) < _ROUND_OFF:
        return np.nan
    return float(acf(diffs, nlags=lag)[lag])


def _spectral_entropy(scaled: np.ndarray) -> float:
    """The Shannon entropy of the normalised periodogram (scipy's, the mean removed and its
    zero frequency left out), in units of log(number of frequencies), so on [0, 1]; scipy's
    entropy normalises the density to sum 1 and takes the logarithm in that base.

    tsfeatures' ``entropy`` uses an AR spectrum (Burg) instead; the raw periodogram needs no
    order chosen and, for a sine at a Fourier frequency, puts all power in one ordinate.
    """
    _, density = signal.periodogram(scaled)
    density = density[1:]
    return float(stats.entropy(density, base=len(density)))


def _spikiness(remainder: np.ndarray) -> float:
    """tsfeatures' spikiness: the variance of the remainder's leave-one-out variances, each
    (as tsfeatures computes it) about the whole remainder's mean, which STL's is close to 0."""
    squares = (remainder - remainder.mean()) ** 2
    leave_one_out = (squares.sum() - squares) / (len(remainder) - 2)
    return float(np.var(leave_one_out, ddof=1))


def _poly_coefficients(trend: np.ndarray) -> tuple[float, float]:
    """tsfeatures' linearity and curvature: the coefficients of ``lm(trend ~ poly(t, 2))``.

    Written here because R's ``poly`` (orthonormal polynomials of time) has no counterpart in
    statsmodels or NumPy, whose polynomial fits use the plain powers, where the linear and
    quadratic coefficients mix. poly is the QR decomposition of [1, t, t^2] with each column
    signed as R signs it (by the diagonal of R); the columns are orthonormal and orthogonal to
    the intercept, so each least-squares coefficient is the column's inner product with the
    trend.
    """
    time = np.arange(len(trend), dtype=np.float64)
    q, r = np.linalg.qr(np.vander(time - time.mean(), 3, increasing=True))
    basis = q[:, 1:] * np.sign(np.diag(r)[1:])
    linearity, curvature = basis.T @ trend
    return float(linearity), float(curvature)
