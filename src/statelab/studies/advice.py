"""What to expect on one series: the advice of `statelab advise`.

The model is the per-expectation, per-frequency meta-regression of ``generalise
--moderators`` (statelab.studies.moderators), fitted on every series of a generalisation and
kept as a small JSON file (the advice model, schema statelab.records.AdviceModelRecord): per
fit, the coefficients on the standardised features, their covariance, tau2 and the degrees of
freedom (all a prediction needs, statelab.stats.Predictor), the standardisation and the range
of every feature over the series fitted, and the fingerprints of those series' values. One
ships inside the package; ``generalise ... --moderators --advice-model FILE`` remakes it (the
command is in the file).

A model is trusted only when it is what it says it is: the schema checks its fields, a
BLAKE2b checksum of its content catches an edit, its format must be this statelab's, and its
engine revision this engine's (its predictions are of that engine's results; the ratios
``--run`` measures are of this one). A model made by a newer statelab is refused too.

For one series: its features (from its training part, statelab.data.features), then per
expectation the predicted ratio of mean RMSEs, better/worse, with its 95% prediction interval
for a new series (the interval of the true effect, metafor's; tau2 is most of its width),
warnings where a feature lies outside the range fitted (the advice extrapolates) or the series
was itself fitted (the advice is in sample), and, with the study run on the series itself,
what was measured beside what was predicted.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab import records
from statelab.data import catalog
from statelab.data.features import Features, features
from statelab.data.series import period_of_dates
from statelab.defaults import MARGIN
from statelab.engine.lstm import ENGINE_REVISION
from statelab.errors import StatelabError
from statelab.execution.plan import Plan, check_paired_repeats, make_plan
from statelab.execution.results import Results, versions
from statelab.files import lookup, shown, write_text
from statelab.spec import PRESETS, Setup
from statelab.stats import EXPECTATIONS, Expectation, Predictor, predict
from statelab.studies.generalise import Runs, Selected, at_horizon
from statelab.studies.moderators import SEASONAL, Model, Moderated, regress
from statelab.studies.study import study_verdicts

KIND = "statelab advice model"
FORMAT = 1
SHIPPED = "datasets/advice.json"  # inside the package
SETUP = ("epochs", "neurons", "lags", "learning_rate", "profile")  # statelab.spec.Setup's fields
# What each expectation's better experiment does, against its worse one, as advice says it.
ACTIONS = {
    "E1": "a stateful network (against a stateless one)",
    "E2": "not shuffling the stateless network's samples",
    "E3": "a stateful network at batch size = horizon (against a stateless one)",
    "E4": "resetting the state after every training epoch (against never)",
    "E5": "seeding the state on the training rows",
    "E6": "carrying the state through the test (against resetting it before each forecast)",
}  # fmt: skip


class Fit(NamedTuple):
    """One expectation's model on the series of one frequency, as the advice model keeps it."""

    expectation: Expectation
    frequency: int | None
    moderators: tuple[str, ...]
    mean: np.ndarray  # standardisation: (value - mean) / sd
    sd: np.ndarray
    low: np.ndarray  # each moderator's range over the series fitted
    high: np.ndarray
    predictor: Predictor
    k: int  # series fitted
    words: str  # the model in words, as generalise --moderators said it


class AdviceModel(NamedTuple):
    """An advice model read from its file and trusted."""

    path: str  # as shown
    statelab: str  # the version that made it
    engine_revision: int
    command: str  # the command that remakes it
    data: str  # the series it was fitted on, as --data named them
    series: int
    repeats: int
    seed: int
    setup: Mapping[str, object]  # epochs, neurons, lags, learning_rate, profile
    identical: frozenset[str]  # expectations identical on every series fitted
    fits: tuple[Fit, ...]
    fingerprints: frozenset[str]  # of the series fitted

    @property
    def frequencies(self) -> list[int | None]:
        return sorted({fit.frequency for fit in self.fits}, key=lambda f: (f is None, f or 0))

    def fits_for(self, key: str, frequency: int | None) -> list[Fit]:
        """The fits of one expectation at one frequency, those with the most moderators first
        (with the seasonal features, then the fallback without them)."""
        return sorted((f for f in self.fits if f.expectation.key == key
                       and f.frequency == frequency), key=lambda f: -len(f.moderators))  # fmt: skip


# ---------------------------------------------------------------- making and reading the model


def fingerprint(series: pd.Series) -> str:
    """A series' values (training and test), hashed without its dates or name: a CSV copy of a
    collection's series has the same fingerprint."""
    return hashlib.sha256(series.to_numpy(np.float64).tobytes()).hexdigest()[:16]


def checksum(record: Mapping[str, object]) -> str:
    """BLAKE2b (8 bytes) of the record's content without its checksum, in canonical JSON."""
    content = {key: value for key, value in record.items() if key != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def model_record(
    result: Moderated, features: pd.DataFrame, selected: Selected, command: str
) -> dict:
    """The advice model of a ``generalise --moderators`` result: every fitted model, and for
    each seasonal frequency the models without the seasonal features besides (the fallback
    for a series too short for its seasons, such as Shampoo's 24 training months), with what
    made it (``command``, which remakes it). ``features`` are those the moderators were
    regressed on; ``selected`` holds the generalisation's series (fingerprinted)."""
    generalisation = result.generalisation
    plain = [m for m in result.moderators.moderators if m not in SEASONAL]
    fallback = regress(generalisation.per_series, features, plain, result.moderators.seed)
    seasonal = {m.frequency for m in result.moderators.models if m.frequency not in (None, 1)}
    models = [*result.moderators.models,
              *(m for m in fallback.models if m.frequency in seasonal)]  # fmt: skip
    by_name = {str(s.name): s for s in selected.series}
    fitted = sorted({name for m in models if m.fit is not None for name in m.fitted.values.index})
    fits = [_fit_record(model) for model in models if model.fit is not None]
    per_series = generalisation.per_series
    identical = [e.key for e in EXPECTATIONS
                 if per_series.loc[per_series["expectation"] == e.key, "identical"].all()]  # fmt: skip
    first = next(iter(generalisation.specs.values()))  # the set-up is every experiment's
    setup = {key: first[key] for key in SETUP}
    record = {
        "kind": KIND, "format": FORMAT, "statelab": _statelab_version(),
        "engine_revision": ENGINE_REVISION, "command": command, "data": result.data,
        "series": int(per_series["series"].nunique()), "repeats": generalisation.repeats,
        "seed": generalisation.seed, "setup": setup,
        "versions": [dict(v) for v in generalisation.provenance.versions],
        "identical": identical, "fits": fits,
        "fingerprints": sorted({fingerprint(by_name[name]) for name in fitted}),
    }  # fmt: skip
    record["checksum"] = checksum(record)
    return record


def _fit_record(model: Model) -> dict:
    values, scale = model.fitted.values[list(model.moderators)], model.fitted.scale
    return {
        "expectation": model.expectation.key, "frequency": model.frequency,
        "moderators": list(model.moderators),
        "mean": scale.mean[list(model.moderators)].tolist(),
        "sd": scale.sd[list(model.moderators)].tolist(),
        "low": values.min().tolist(), "high": values.max().tolist(),
        "estimate": model.fit.coefficients["estimate"].tolist(),
        "covariance": np.asarray(model.fit.covariance).tolist(),
        "tau2": float(model.fit.tau2), "df": int(model.fit.df), "k": int(model.fit.k),
        "words": model.words,
    }  # fmt: skip


def write_model(record: Mapping[str, object], path: str | Path) -> Path:
    """The advice model's file (written whole or not at all)."""
    checked = records.check(records.AdviceModelRecord, dict(record))
    return write_text(path, json.dumps(checked, indent=1, allow_nan=False) + "\n")


def shipped_model() -> Path:
    """The advice model that ships inside the package."""
    return Path(str(resources.files("statelab").joinpath(SHIPPED)))


def load_model(path: str | Path | None = None) -> AdviceModel:
    """The advice model in ``path`` (None: the one shipped), checked and trusted, or a
    StatelabError in one line that says why not and how to remake it."""
    path = shipped_model() if path is None else Path(path)
    where = shown(path)
    found = lookup(path, f"cannot read the advice model {where}")
    if found is None:
        raise StatelabError(f"advice model not found: {where} (give --model FILE, or reinstall "
                            "statelab for the one it ships)")  # fmt: skip
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StatelabError(f"cannot read the advice model {where}: {first}") from None
    try:
        records.check(records.AdviceModelRecord, record)
    except records.RecordMismatch as error:
        raise StatelabError(f"{where} is not a statelab advice model: {error}") from None
    remake = f"remake it with `{record['command']}`"
    if record["kind"] != KIND or record["format"] != FORMAT:
        raise StatelabError(f"{where} is an advice model of another format ({record['kind']!r}, "
                            f"format {record['format']}); this statelab reads format {FORMAT}: "
                            f"{remake}")  # fmt: skip
    if checksum(record) != record["checksum"]:
        raise StatelabError(f"{where} was changed after it was made (its checksum does not "
                            f"match), so its advice cannot be trusted: {remake}")  # fmt: skip
    if record["engine_revision"] != ENGINE_REVISION:
        raise StatelabError(f"{where} was fitted on results of engine revision "
                            f"{record['engine_revision']}, and this statelab's engine is revision "
                            f"{ENGINE_REVISION}: {remake}")  # fmt: skip
    if _version(record["statelab"]) > _version(_statelab_version()):
        raise StatelabError(f"{where} was made by statelab {record['statelab']}, newer than this "
                            f"one ({_statelab_version()}): upgrade statelab, or {remake}")  # fmt: skip
    return _model(record, where)


def _statelab_version() -> str:
    return dict(versions())["statelab"]


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _model(record: dict, where: str) -> AdviceModel:
    by_key = {e.key: e for e in EXPECTATIONS}
    fits = []
    for i, fit in enumerate(record["fits"]):
        m = len(fit["moderators"])
        p = m + 1
        shapes = [len(fit[k]) == m for k in ("mean", "sd", "low", "high")]
        square = len(fit["covariance"]) == p and all(len(row) == p for row in fit["covariance"])
        if fit["expectation"] not in by_key or not all(shapes) or len(fit["estimate"]) != p \
                or not square or fit["df"] < 1 or min(fit["sd"], default=1) <= 0:  # fmt: skip
            raise StatelabError(f"{where} is not a statelab advice model: fit {i} "
                                f"({fit['expectation']}, frequency {fit['frequency']}) does not "
                                "hold one value per moderator")  # fmt: skip
        fits.append(Fit(
            by_key[fit["expectation"]], fit["frequency"], tuple(fit["moderators"]),
            np.array(fit["mean"]), np.array(fit["sd"]), np.array(fit["low"]),
            np.array(fit["high"]),
            Predictor(np.array(fit["estimate"]), np.array(fit["covariance"], dtype=float),
                      float(fit["tau2"]), int(fit["df"])),
            int(fit["k"]), fit["words"]))  # fmt: skip
    return AdviceModel(
        where, record["statelab"], record["engine_revision"], record["command"],
        record["data"], record["series"], record["repeats"], record["seed"], record["setup"],
        frozenset(record["identical"]), tuple(fits), frozenset(record["fingerprints"]),
    )  # fmt: skip


# ---------------------------------------------------------------- advice on one series


@dataclass(frozen=True)
class AdviseSettings:
    """What `statelab advise` is asked."""

    data: str | None = None  # one series, as --data names it (None: Shampoo Sales)
    value_column: str | None = None  # for a CSV file
    test_size: int | None = None  # its test rows (None: the collection's horizon; 12)
    frequency: int | None = None  # the seasonal period; None: the collection's, or the dates'
    model: str | Path | None = None  # the advice model's file; None: the one shipped
    run: bool = False  # also run the study on the series and show what it measures
    repeats: int = 30  # with run: repeats per experiment
    seed: int = 1  # with run: the master seed


class Expected(NamedTuple):
    """One expectation on the series: predicted, and (with --run) measured."""

    expectation: Expectation
    ratio: float  # predicted ratio of mean RMSEs, better/worse (NaN: identical, or no fit)
    pi_low: float  # its 95% prediction interval
    pi_high: float
    identical: bool  # the two experiments were identical on every series fitted
    measured_ratio: float | None  # with --run: the ratio on the series itself
    measured_verdict: str | None  # and its verdict (generalise's rule)
    words: str


class Advice(NamedTuple):
    """What to expect on one series."""

    series: str
    frequency: int | None
    features: Features
    model: AdviceModel
    expected: tuple[Expected, ...]
    warnings: tuple[str, ...]

    @property
    def setup(self) -> str:
        s = self.model.setup
        return (f"{s['epochs']} epochs, neurons {s['neurons']}, lags {s['lags']}, learning rate "
                f"{s['learning_rate']:g}, profile {s['profile']}")  # fmt: skip

    @property
    def lines(self) -> list[str]:
        """The advice in plain words."""
        return [e.words for e in self.expected]


class Chosen(NamedTuple):
    """The one series advice is asked for."""

    series: pd.Series
    test_size: int
    frequency: int | None
    domain: str


def choose(settings: AdviseSettings) -> Chosen:
    """The series ``settings.data`` names (exactly one), its test size and frequency."""
    selection = catalog.select(settings.data, settings.value_column, settings.test_size)
    if len(selection.series) != 1:
        raise StatelabError(f"advise takes one series; --data names {len(selection.series)}: "
                            "give one, such as m3:N1402 or FILE.csv")  # fmt: skip
    series = selection.series[0]
    frequency = settings.frequency
    if frequency is None:
        frequency = catalog.frequency(str(series.name))
    if frequency is None:
        frequency = period_of_dates(series.index)
    if frequency is None:
        raise StatelabError(f"cannot tell the frequency of {series.name} from its dates: give "
                            "--frequency 12 (monthly), 4 (quarterly) or 1 (yearly)")  # fmt: skip
    return Chosen(series, selection.test_size[0], frequency, selection.domain[0])


def advise_on(model: AdviceModel, chosen: Chosen) -> Advice:
    """The advice of ``model`` for the chosen series (nothing run)."""
    name = str(chosen.series.name)
    mine = features(chosen.series, chosen.test_size, chosen.frequency, chosen.domain)
    if not any(fit.frequency == chosen.frequency for fit in model.fits):
        known = ", ".join(str(f) for f in model.frequencies)
        raise StatelabError(f"the advice model has no fits for frequency {chosen.frequency} (it "
                            f"knows {known}): give --frequency one of those if it fits the "
                            "series")  # fmt: skip
    warnings = []
    if fingerprint(chosen.series) in model.fingerprints:
        warnings.append(f"{name} was among the {model.series:,} series the model was fitted on, so "
                        "its advice is in sample: the model has seen this series' own results")  # fmt: skip
    outside = {}
    expected = []
    for expectation in EXPECTATIONS:
        if expectation.key in model.identical:
            expected.append(_identical(expectation, model))
            continue
        fits = model.fits_for(expectation.key, chosen.frequency)
        usable = [f for f in fits if all(np.isfinite(float(getattr(mine, m)))
                                         for m in f.moderators)]  # fmt: skip
        if not usable:
            why = ("too few series" if not fits else "the series' " + ", ".join(
                m for m in fits[-1].moderators if not np.isfinite(float(getattr(mine, m))))
                + " is undefined")  # fmt: skip
            expected.append(Expected(expectation, math.nan, math.nan, math.nan, False, None, None,
                                     f"{expectation.key}: no prediction at frequency "
                                     f"{chosen.frequency} ({why})"))  # fmt: skip
            continue
        fit = usable[0]
        values = np.array([float(getattr(mine, m)) for m in fit.moderators])
        for m, v, lo, hi in zip(fit.moderators, values, fit.low, fit.high, strict=True):
            if not lo <= v <= hi:
                outside[m] = (v, lo, hi)
        shown = predict(fit.predictor, ((values - fit.mean) / fit.sd)[None, :])
        ratio, low, high = (float(np.exp(x[0])) for x in (shown.estimate, shown.pi_low,
                                                           shown.pi_high))  # fmt: skip
        words = _predicted_words(expectation, ratio, low, high)
        if fit is not fits[0]:
            left = [m for m in fits[0].moderators if m not in fit.moderators]
            words += (f", from the model without {', '.join(left)} (undefined on this series: "
                      "too short for its seasons)")  # fmt: skip
        expected.append(Expected(expectation, ratio, low, high, False, None, None, words))
    for m, (v, lo, hi) in outside.items():
        warnings.append(f"its {m} ({v:.4g}) lies outside the range the model was fitted on "
                        f"({lo:.4g} to {hi:.4g} for frequency {chosen.frequency}): the advice "
                        "extrapolates")  # fmt: skip
    return Advice(name, chosen.frequency, mine, model, tuple(expected), tuple(warnings))


def _identical(expectation: Expectation, model: AdviceModel) -> Expected:
    return Expected(expectation, 1.0, 1.0, 1.0, True, None, None,
                    f"{expectation.key}: {ACTIONS[expectation.key]} gives the same results, "
                    f"repeat by repeat, on every one of the {model.series:,} series the model was "
                    "fitted on: expect no difference")  # fmt: skip


def _change(ratio: float) -> str:
    return f"cut RMSE by {1 - ratio:.1%}" if ratio <= 1 else f"raise RMSE by {ratio - 1:.1%}"


def _predicted_words(expectation: Expectation, ratio: float, low: float, high: float) -> str:
    return (f"{expectation.key}: {ACTIONS[expectation.key]} is predicted to {_change(ratio)} "
            f"(ratio {expectation.better}/{expectation.worse} {ratio:.3f}, 95% prediction "
            f"interval {low:.3f} to {high:.3f})")  # fmt: skip


class Measured(NamedTuple):
    """The study run on the series itself (--run): its verdicts on E1-E6."""

    series: str
    verdicts: pd.DataFrame  # statelab.stats.expectation_table: indexed by expectation


def run_plan(settings: AdviseSettings, model: AdviceModel, chosen: Chosen) -> Plan:
    """The eleven experiments on the chosen series at the model's set-up, as `generalise` ran
    them on the collections (the batch-12 pair at batch size = the series' horizon),
    ``settings.repeats`` each; repeat k of every experiment starts from the same weights."""
    check_paired_repeats(settings.repeats)
    setup = Setup(**{key: model.setup[key] for key in SETUP})
    experiments = [(name, setup.apply(p.spec), settings.repeats) for name, p in PRESETS.items()]
    return make_plan(experiments, [chosen.series], [chosen.test_size], settings.seed,
                     adapt=at_horizon)  # fmt: skip


def analyse_run(plan: Plan, loaded: Sequence[Results]) -> Measured:
    """The study's verdicts on the series (Holm across the six, as `reproduce` gives them),
    the margin the collections' (MARGIN x the series' persistence RMSE)."""
    (name,) = plan.series
    runs = Runs.of(plan, loaded)
    return Measured(name, study_verdicts(runs.by_series[name], MARGIN))


def measured(advice: Advice, run: Measured) -> Advice:
    """``advice`` with what the study run on the series measured beside each prediction: the
    ratio of mean RMSEs and the verdict."""
    out = []
    for e in advice.expected:
        row = run.verdicts.loc[e.expectation.key]
        ratio = float(np.exp(row["log_ratio"]))
        verdict = str(row["verdict"])
        said = (f"measured on the series: {_change(ratio)} (ratio {ratio:.3f}), {verdict}"
                if verdict != "identical" else "measured on the series: identical, repeat by "
                "repeat")  # fmt: skip
        out.append(e._replace(measured_ratio=ratio, measured_verdict=verdict,
                              words=f"{e.words}; {said}"))  # fmt: skip
    return advice._replace(expected=tuple(out))
