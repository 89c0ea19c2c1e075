"""Which series does state help? The generalisation's per-series log ratios
(statelab.studies.generalise) regressed on the series' features (statelab.data.features), per
expectation: a random-effects meta-regression (statelab.stats.meta_regression, REML and
Knapp-Hartung) with the coefficients, Holm across the features, the share of tau2 they
explain, a line in plain words, and an honest out-of-sample check against the pooled mean.

Missing features are handled as the features module says, by **per-frequency models**: one
meta-regression for each frequency among the series, the seasonal features left out where the
frequency is 1 or unknown, and a series missing one of its model's features (too short for
the seasons) left out of that model and counted.

The moderators are standardised (mean 0, SD 1 over the series fitted), so each coefficient
is the change in the log ratio per SD of its feature and the coefficients compare with each
other; the intercept is the log ratio on a series of average features. A model keeps the
series it was fitted on (``Fitted``) for its partial-effect figures (``partial_effects``),
which show each feature that matters on its own scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import layout
from statelab.data import catalog
from statelab.data.features import collection_features
from statelab.errors import StatelabError
from statelab.execution.plan import Plan
from statelab.execution.results import Results
from statelab.stats import (
    ALPHA,
    EXPECTATIONS,
    Expectation,
    MetaRegression,
    Prediction,
    holm,
    meta_regression,
    predict,
)
from statelab.stats.metaregression import usable
from statelab.studies.generalise import (
    Collection,
    Generalisation,
    GeneraliseSettings,
    analyse_generalisation,
    select_series,
)

# Per feature a moderator may be: the words for series where it is high, and where it is low.
WORDS = {
    "length": ("long", "short"),
    "trend_strength": ("strongly trending", "weakly trending"),
    "seasonal_strength": ("strongly seasonal", "weakly seasonal"),
    "diff_acf1": ("momentum-driven", "mean-reverting"),
    "diff_acf_seasonal": ("seasonally persistent", "seasonally changing"),
    "spectral_entropy": ("irregular", "regular"),
    "variation": ("volatile", "steady"),
    "persistence_error": ("noisy", "smooth"),
}  # fmt: skip
# Few, and far apart in what they measure: how much data, trend, seasons, noise. With a few
# hundred series per frequency, four coefficients leave the tests their power.
DEFAULT_MODERATORS = ("length", "trend_strength", "seasonal_strength", "persistence_error")
# Undefined where the frequency is 1 or unknown: left out of those frequencies' models.
SEASONAL = ("seasonal_strength", "diff_acf_seasonal")


class OutOfSample(NamedTuple):
    """The model fitted on a seeded random half of the series, checked on the other half."""

    fitted: int  # series in the half fitted
    held_out: int  # series predicted
    coverage: float  # share of held-out log ratios inside their 95% prediction intervals
    rmse: float  # of the held-out log ratios about the features' predictions
    baseline_coverage: float  # the same for the pooled mean for everyone (intercept only)
    baseline_rmse: float

    @property
    def beats_baseline(self) -> bool:
        return self.rmse < self.baseline_rmse


class Scale(NamedTuple):
    """The mean and SD (over the series fitted) that standardise each moderator."""

    mean: pd.Series
    sd: pd.Series

    @classmethod
    def of(cls, values: pd.DataFrame) -> Scale:
        return cls(values.mean(), values.std(ddof=1))

    def standardised(self, values: pd.DataFrame) -> pd.DataFrame:
        return (values - self.mean) / self.sd


class Fitted(NamedTuple):
    """The series a model was fitted on, as its partial-effect figures need them."""

    values: pd.DataFrame  # the moderators on their own scales, a row per series (its name)
    log_ratio: np.ndarray
    log_ratio_se: np.ndarray
    scale: Scale  # what standardised ``values`` for the fit


class PartialEffect(NamedTuple):
    """One moderator's partial effect in a model: the predicted ratio better/worse against
    the feature on its own scale, the other moderators held at their mean (0 standardised),
    with the series as their partial residuals. Every ratio is exp of the log-ratio scale."""

    feature: str
    holm_p: float
    at: np.ndarray  # the feature's values where the curve is drawn
    ratio: np.ndarray  # the predicted ratio there
    ci_low: np.ndarray  # its 95% confidence interval (the prediction's SE, no tau2)
    ci_high: np.ndarray
    pi_low: np.ndarray  # its 95% prediction interval for a new series' true ratio (with tau2)
    pi_high: np.ndarray
    values: np.ndarray  # the fitted series' values of the feature
    partial: np.ndarray  # their partial residuals: exp(log ratio - the other moderators' terms)


class Model(NamedTuple):
    """One expectation's meta-regression on the series of one frequency."""

    expectation: Expectation
    frequency: int | None  # the series' frequency (None: unknown)
    moderators: tuple[str, ...]  # the features in the model, standardised
    dropped: tuple[str, ...]  # moderators asked for but left out here (seasonal, or constant)
    series: int  # series of this frequency with a log ratio
    left_out: int  # of them, missing one of the moderators
    fit: MetaRegression | None  # None: too few series (see ``words``)
    coefficients: pd.DataFrame  # per term: the fit's columns and holm_p (moderators only)
    out_of_sample: OutOfSample | None  # None: too few series to split
    words: str  # the model in plain words
    fitted: Fitted | None = None  # the series fitted (None: no fit)


class Moderators(NamedTuple):
    """The meta-regressions of every expectation (one per frequency)."""

    models: tuple[Model, ...]
    moderators: tuple[str, ...]  # the features asked for (each model says which it used)
    seed: int  # the draw of the halves fitted out of sample

    @property
    def table(self) -> pd.DataFrame:
        """A row per model and term: the coefficients, Holm-adjusted p, and the model's fit."""
        frames = [
            model.coefficients.reset_index().assign(
                expectation=model.expectation.key, frequency=model.frequency,
                k=model.fit.k, tau2=model.fit.tau2, r2=model.fit.r2)
            for model in self.models if model.fit is not None
        ]  # fmt: skip
        if not frames:
            return pd.DataFrame(columns=[name for name, _ in layout.MODERATORS_TABLE.columns])
        table = pd.concat(frames, ignore_index=True)
        return table[["expectation", "frequency", *table.columns[:-5], "k", "tau2", "r2"]]

    @property
    def answer(self) -> list[str]:
        return [model.words for model in self.models]


class Moderated(NamedTuple):
    """`generalise --moderators`: the generalisation, and which series its effects favour."""

    generalisation: Generalisation
    moderators: Moderators
    data: str  # the collection, as --data named it


def selection_features(settings: GeneraliseSettings) -> pd.DataFrame:
    """The features of the series a generalisation with ``settings`` runs on (not Shampoo,
    the reference run beside them), each from its training part."""
    selected = select_series(settings)
    n = len(selected.names)
    domains = tuple(selected.domain[name] for name in selected.names)
    selection = catalog.Selection(selected.name, selected.series[:n], selected.test_sizes[:n],
                                  domains)  # fmt: skip
    return collection_features(selection)


def analyse_moderated(
    plan: Plan, loaded: Sequence[Results], collection: Collection, features: pd.DataFrame
) -> Moderated:
    """The generalisation of the plan's results, then its moderators (the halves out of
    sample drawn with the plan's seed)."""
    result = analyse_generalisation(plan, loaded, collection)
    return Moderated(result, analyse_moderators(result, features, seed=plan.seed),
                     collection.name)  # fmt: skip


def _moderators_at(frequency: int | None, moderators: Sequence[str]) -> tuple[str, ...]:
    seasonal = frequency is not None and frequency > 1
    return tuple(m for m in moderators if seasonal or m not in SEASONAL)


def analyse_moderators(
    result: Generalisation,
    features: pd.DataFrame,
    moderators: Sequence[str] = DEFAULT_MODERATORS,
    seed: int = 1,
) -> Moderators:
    """Per expectation and frequency, the meta-regression of the per-series log ratios of
    ``result`` on ``moderators``, features of ``features`` (``collection_features`` of the
    same selection: a row per series, with its frequency), and its out-of-sample check on a
    random half drawn with ``seed``."""
    return regress(result.per_series, features, moderators, seed)


def regress(
    table: pd.DataFrame,
    features: pd.DataFrame,
    moderators: Sequence[str] = DEFAULT_MODERATORS,
    seed: int = 1,
) -> Moderators:
    """:func:`analyse_moderators` on a per-series table (a row per series and expectation with
    ``series``, ``expectation``, ``log_ratio`` and ``log_ratio_se``)."""
    unknown = [m for m in moderators if m not in WORDS]
    if unknown or not moderators:
        raise StatelabError(f"unknown moderator(s) {', '.join(unknown) or '(none given)'}: "
                            f"choose from {', '.join(WORDS)}")  # fmt: skip
    missing = sorted(set(table["series"]) - set(features.index))
    if missing:
        raise StatelabError(f"no features for {len(missing)} series ({missing[0]}, ...): "
                            "compute them with collection_features of the generalisation's "
                            "selection")  # fmt: skip
    frequency = features["frequency"].astype(object).where(features["frequency"].notna(), None)
    models = []
    for expectation in EXPECTATIONS:
        mine = table[table["expectation"] == expectation.key].set_index("series")
        for value in sorted(set(frequency[mine.index]), key=lambda f: (f is None, f or 0)):
            members = frequency.index[frequency.eq(value) if value is not None
                                      else frequency.isna()].intersection(mine.index)  # fmt: skip
            models.append(_model(expectation, value, mine.loc[members], features.loc[members],
                                 moderators, seed))  # fmt: skip
    return Moderators(tuple(models), tuple(moderators), seed)


def _model(
    expectation: Expectation,
    frequency: int | None,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    asked: Sequence[str],
    seed: int,
) -> Model:
    """The model of ``rows`` (one expectation's log ratios on the series of one frequency) on
    the moderators ``asked`` that apply at ``frequency`` and vary among its series."""
    wanted = _moderators_at(frequency, asked)
    keep = usable(rows["log_ratio"].to_numpy(float), rows["log_ratio_se"].to_numpy(float)).keep
    rows, features = rows[keep], features[keep]
    complete = features[list(wanted)].notna().all(axis=1)
    values = features.loc[complete, list(wanted)].astype(float)
    rows = rows[complete]
    kept = tuple(m for m in wanted if values[m].nunique() > 1)
    dropped = tuple(m for m in asked if m not in kept)
    values = values[list(kept)]
    y, se = rows["log_ratio"].to_numpy(float), rows["log_ratio_se"].to_numpy(float)
    base = Model(expectation, frequency, kept, dropped, int(keep.sum()),
                 int((~complete).sum()), None, pd.DataFrame(), None, "")  # fmt: skip
    if len(y) < len(kept) + 3:
        few = (f"{label(expectation, frequency)}: too few series with a tested log ratio and "
               f"every feature ({len(y)} of {len(keep)}) for a model of {len(wanted)} "
               "features.")  # fmt: skip
        return base._replace(words=few)
    scale = Scale.of(values)
    try:
        fit = meta_regression(y, se, scale.standardised(values))
    except StatelabError as error:  # collinear features: said in the words, not fatal
        return base._replace(words=f"{label(expectation, frequency)}: no model, {error}.")
    coefficients = fit.coefficients.copy()
    coefficients["holm_p"] = np.concatenate([[np.nan], holm(coefficients["p"].iloc[1:])])
    model = base._replace(fit=fit, coefficients=coefficients,
                          out_of_sample=_out_of_sample(y, se, values, seed),
                          fitted=Fitted(values, y, se, scale))  # fmt: skip
    return model._replace(words=words(model))


def _out_of_sample(
    y: np.ndarray, se: np.ndarray, values: pd.DataFrame, seed: int
) -> OutOfSample | None:
    """Fit on a seeded random half, predict the other: the share of held-out log ratios inside
    their 95% prediction intervals, each widened by the held-out series' own sampling
    variance (the interval is of its observed log ratio, not of its true effect), and the
    RMSE about the predictions, for the features and for the pooled mean alone."""
    order = np.random.default_rng(seed).permutation(len(y))
    fitted, held = order[: len(y) // 2], order[len(y) // 2 :]
    train = values.iloc[fitted]
    if len(fitted) < values.shape[1] + 3 or (train.nunique() < 2).any():
        return None
    if np.linalg.matrix_rank(train.to_numpy() - train.to_numpy().mean(axis=0)) < train.shape[1]:
        return None  # collinear on the half fitted, though not on every series
    variance = se[held] ** 2
    scale = Scale.of(train)
    with_features = meta_regression(y[fitted], se[fitted], scale.standardised(train))
    shown = predict(with_features, scale.standardised(values.iloc[held]), variance)
    pooled = predict(meta_regression(y[fitted], se[fitted]), None, variance)
    return OutOfSample(len(fitted), len(held), *_checked(shown, y[held]),
                       *_checked(pooled, y[held]))  # fmt: skip


def _checked(shown: Prediction, y: np.ndarray) -> tuple[float, float]:
    """The share of ``y`` inside the prediction intervals, and the RMSE about the estimates
    (one estimate for all, the pooled mean's, is broadcast)."""
    inside = (shown.pi_low <= y) & (y <= shown.pi_high)
    return float(np.mean(inside)), float(np.sqrt(np.mean((y - shown.estimate) ** 2)))


def label(expectation: Expectation, frequency: int | None) -> str:
    """A model as its words and figure name it: "E6 (stateful/stateful_reset_test, frequency
    12)"."""
    at = "unknown frequency" if frequency is None else f"frequency {frequency}"
    return f"{expectation.key} ({expectation.better}/{expectation.worse}, {at})"


def qualifying(coefficients: pd.DataFrame) -> pd.DataFrame:
    """The moderators that matter in a model (its coefficient table, indexed by term, with
    ``t`` and ``holm_p``): those whose Holm-adjusted p is below ALPHA, the strongest (largest
    |t|) first. The one rule for the words, the figures and the report."""
    terms = coefficients.drop(index="intercept", errors="ignore")
    return terms[terms["holm_p"] < ALPHA].sort_values("t", key=np.abs, ascending=False)


def partial_effects(model: Model) -> list[PartialEffect]:
    """The partial effect of each moderator that matters (:func:`qualifying`), strongest
    first; none where the model has no fit or nothing qualifies."""
    if model.fit is None:
        return []
    return [partial_effect(model, feature) for feature in qualifying(model.coefficients).index]


def partial_effect(model: Model, feature: str, at: np.ndarray | None = None) -> PartialEffect:
    """The partial effect of ``feature`` in a fitted ``model``, drawn at the feature's values
    ``at`` (its own scale; default: 101 points across the fitted series' range). The curve
    is the model's prediction (``stats.predict``) with every other moderator at its mean; the
    confidence band is the prediction interval of the same fit without tau2 (x'b -+ t_df
    sqrt(x'Vx)), the prediction band adds tau2. A series' partial residual is its log ratio
    less the other moderators' terms, b_k z_k, so the points scatter about the curve as
    their log ratios would were the other features average."""
    fitted = model.fitted
    own = fitted.values[feature].to_numpy(float)
    at = np.linspace(own.min(), own.max(), 101) if at is None else np.asarray(at, float)
    rows = pd.DataFrame(0.0, index=range(len(at)), columns=list(model.moderators))
    rows[feature] = (at - fitted.scale.mean[feature]) / fitted.scale.sd[feature]
    band = predict(model.fit, rows)
    confidence = predict(model.fit._replace(tau2=0.0), rows)
    slopes = model.coefficients["estimate"].drop(["intercept", feature])
    others = fitted.scale.standardised(fitted.values)[slopes.index].to_numpy() @ slopes.to_numpy()
    return PartialEffect(
        feature, float(model.coefficients.loc[feature, "holm_p"]), at, np.exp(band.estimate),
        np.exp(confidence.pi_low), np.exp(confidence.pi_high), np.exp(band.pi_low),
        np.exp(band.pi_high), own, np.exp(fitted.log_ratio - others),
    )  # fmt: skip


def words(model: Model) -> str:
    """The model in plain words, from the coefficients whose Holm-adjusted p is below ALPHA:
    a negative coefficient lowers the log ratio better/worse where the feature is high, so
    the better experiment gains most on series high in it; a positive one, on series low in
    it. The strongest (largest |t|) first. None qualifying: the features do not explain the
    spread. Then the out-of-sample check, and whether the features beat the pooled mean."""
    expectation = model.expectation
    strong = qualifying(model.coefficients)
    if len(strong):
        described = ", ".join(WORDS[term][0 if row["estimate"] < 0 else 1]
                              for term, row in strong.iterrows())  # fmt: skip
        text = (f"{expectation.better} does best against {expectation.worse} on {described} "
                f"series (the features explain {model.fit.r2:.0%} of tau2)")  # fmt: skip
    else:
        text = (f"the features ({', '.join(model.moderators)}) do not explain the spread of "
                "the ratio across series (no coefficient with Holm-adjusted p < "
                f"{ALPHA:g})")  # fmt: skip
    check = model.out_of_sample
    if check is not None:
        beaten = "beat" if check.beats_baseline else "do not beat"
        text += (f". Out of sample ({check.fitted} series fitted, {check.held_out} predicted): "
                 f"the 95% prediction intervals cover {check.coverage:.0%} of the held-out log "
                 f"ratios; RMSE {check.rmse:.3f} against {check.baseline_rmse:.3f} for the pooled "
                 f"mean ({check.rmse / check.baseline_rmse - 1:+.0%}), so the features {beaten} "
                 "the pooled mean for everyone")  # fmt: skip
    return f"{label(expectation, model.frequency)}: {text}."
