"""statelab advise: the advice model made by `generalise --moderators --advice-model`, read back
only when it can be trusted, its predictions against a fit made independently and a case
worked by hand, its warnings, --run against the collection run's own per-series results, and
hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import statelab
from statelab import stats
from statelab.cli import main
from statelab.data import catalog
from statelab.data.features import collection_features, features
from statelab.engine.lstm import ENGINE_REVISION
from statelab.studies import advice
from statelab.studies.moderators import DEFAULT_MODERATORS

SAMPLE = ["--data", "m3/monthly", "--sample", "14", "--repeats", "3", "--epochs", "5"]


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`statelab ARGV` in process: exit status, stdout, stderr."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    """An advice model made the way the shipped one is, on a small sample at 5 epochs: (the
    model file, the generalisation's folder)."""
    folder = tmp_path_factory.mktemp("advice")
    model = folder / "advice.json"
    with pytest.raises(SystemExit) as done:
        main(["generalise", *SAMPLE, "--moderators", "--advice-model", str(model),
              "--out", str(folder / "run"), "--quiet"])  # fmt: skip
    assert done.value.code == 0
    return model, folder / "run"


def sample_names() -> list[str]:
    return [str(s.name) for s in catalog.sample(catalog.select("m3/monthly"), 14, 1).series]


def record_of(model: Path) -> dict:
    return json.loads(model.read_text())


def rewrite(record: dict, path: Path, seal: bool = True) -> Path:
    if seal:
        record["checksum"] = advice.checksum(record)
    path.write_text(json.dumps(record))
    return path


def test_the_model_file_holds_its_provenance(made):
    model, _ = made
    record = record_of(model)
    assert record["engine_revision"] == ENGINE_REVISION
    assert record["command"].startswith("statelab generalise --data m3/monthly --sample 14")
    assert "--advice-model" in record["command"]
    assert record["setup"] == {"epochs": 5, "neurons": 1, "lags": 1, "learning_rate": 0.001,
                               "profile": "keras3"}  # fmt: skip
    assert record["series"] == 14 and record["repeats"] == 3 and record["seed"] == 1
    assert record["identical"] == ["E3"]  # the batch pair at batch = horizon, as always
    frequencies = {fit["frequency"] for fit in record["fits"]}
    assert frequencies == {12}
    # with the seasonal feature, and the fallback without it, for each tested expectation
    shapes = sorted((f["expectation"], tuple(f["moderators"])) for f in record["fits"])
    plain = tuple(m for m in DEFAULT_MODERATORS if m != "seasonal_strength")
    assert shapes == sorted([(e, m) for e in ("E1", "E2", "E4", "E5", "E6")
                             for m in (DEFAULT_MODERATORS, plain)])  # fmt: skip
    fingerprints = {advice.fingerprint(s) for s in catalog.select(",".join(sample_names())).series}
    assert set(record["fingerprints"]) == fingerprints


def test_a_prediction_equals_a_fit_made_independently(made):
    """The model file's E6 prediction for a series outside the sample equals a meta-regression
    fitted here on the run's per_series.csv and the sample's features, standardised here."""
    model, folder = made
    table = pd.read_csv(folder / "per_series.csv")
    names = sample_names()
    feats = collection_features(catalog.select(",".join(names)))
    rows = table[table["expectation"] == "E6"].set_index("series").loc[names]
    x = feats[list(DEFAULT_MODERATORS)].astype(float)
    fit = stats.meta_regression(rows["log_ratio"], rows["log_ratio_se"], (x - x.mean()) / x.std())
    other = next(n for n in catalog.listing("m3/monthly")["name"] if n not in names)
    mine = features(*_series_and_test(other), 12)
    values = np.array([getattr(mine, m) for m in DEFAULT_MODERATORS], dtype=float)
    expected = stats.predict(fit, ((values - x.mean().to_numpy()) / x.std().to_numpy())[None, :])
    got = statelab.advise(statelab.AdviseSettings(data=other, model=model))
    e6 = got.expected[5]
    assert e6.expectation.key == "E6"
    assert e6.ratio == pytest.approx(np.exp(expected.estimate[0]), rel=1e-12)
    assert (e6.pi_low, e6.pi_high) == pytest.approx(
        (np.exp(expected.pi_low[0]), np.exp(expected.pi_high[0])), rel=1e-12
    )
    assert not any("in sample" in w for w in got.warnings)


def _series_and_test(name: str) -> tuple[pd.Series, int]:
    chosen = catalog.select(name)
    return chosen.series[0], chosen.test_size[0]


def test_a_prediction_worked_by_hand(tmp_path):
    """One moderator, length: estimate 0.1 - 0.2 z with z = (length - 30) / 10, V = diag(0.01,
    0.04), tau2 0.05, 8 df. Shampoo trains on 24 months: z = -0.6, log ratio 0.1 + 0.12 = 0.22,
    x'Vx = 0.01 + 0.36 x 0.04 = 0.0244, interval 0.22 -+ t_{0.975, 8} sqrt(0.05 + 0.0244)."""
    fit = {
        "expectation": "E1",
        "frequency": 12,
        "moderators": ["length"],
        "mean": [30.0],
        "sd": [10.0],
        "low": [20.0],
        "high": [40.0],
        "estimate": [0.1, -0.2],
        "covariance": [[0.01, 0.0], [0.0, 0.04]],
        "tau2": 0.05,
        "df": 8,
        "k": 10,
        "words": "",
    }
    record = {"kind": advice.KIND, "format": advice.FORMAT, "statelab": "0.0.1",
              "engine_revision": ENGINE_REVISION, "command": "statelab generalise ...",
              "data": "hand", "series": 10, "repeats": 3, "seed": 1,
              "setup": {"epochs": 1000, "neurons": 1, "lags": 1, "learning_rate": 0.001,
                        "profile": "keras3"},
              "versions": [], "identical": ["E3"], "fits": [fit], "fingerprints": []}  # fmt: skip
    path = rewrite(record, tmp_path / "hand.json")
    got = statelab.advise(statelab.AdviseSettings(data="shampoo", model=path))
    half = 2.306004135204166 * np.sqrt(0.05 + 0.0244)  # t_{0.975, 8} = 2.306, a t table's
    assert sps.t.ppf(0.975, 8) == pytest.approx(2.306004135204166)
    e1 = got.expected[0]
    assert e1.ratio == pytest.approx(np.exp(0.22))
    assert (e1.pi_low, e1.pi_high) == pytest.approx((np.exp(0.22 - half), np.exp(0.22 + half)))
    assert "raise RMSE by 24.6%" in e1.words  # exp(0.22) = 1.246
    assert got.expected[2].identical and got.expected[2].ratio == 1.0
    assert all("no prediction" in e.words for e in got.expected[3:])  # no fits for E4-E6
    assert got.warnings == ()  # 24 lies within 20-40; Shampoo was not fitted


def test_warnings_in_sample_and_out_of_range(made, tmp_path):
    model, _ = made
    inside = sample_names()[0]
    got = statelab.advise(statelab.AdviseSettings(data=inside, model=model))
    assert any("in sample" in w for w in got.warnings)
    # a CSV copy of the same series, with dates of its own, is recognised by its values
    series, _ = _series_and_test(inside)
    dates = pd.period_range("1990-01", periods=len(series), freq="M").astype(str)
    copy = tmp_path / "copy.csv"
    pd.DataFrame({"month": dates, "sales": series.to_numpy()}).to_csv(copy, index=False)
    got = statelab.advise(statelab.AdviseSettings(data=str(copy), model=model))
    assert got.frequency == 12  # from the monthly dates
    assert any("in sample" in w for w in got.warnings)
    # far longer than any series fitted: the advice extrapolates in length
    long = tmp_path / "long.csv"
    t = np.arange(400)
    values = 100 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, 400)
    dates = pd.period_range("1900-01", periods=400, freq="M").astype(str)
    pd.DataFrame({"month": dates, "value": values}).to_csv(long, index=False)
    got = statelab.advise(statelab.AdviseSettings(data=str(long), model=model))
    assert [w for w in got.warnings if w.startswith("its length (388)")]
    assert not any("in sample" in w for w in got.warnings)


def test_a_series_too_short_for_its_seasons_gets_the_model_without_them(made):
    """Shampoo trains on 24 months, two seasons: its seasonal strength is undefined, so the
    advice comes from the fits without it, and says so."""
    model, _ = made
    got = statelab.advise(statelab.AdviseSettings(model=model))
    assert np.isnan(got.features.seasonal_strength)
    for e in got.expected:
        if not e.identical:
            assert np.isfinite(e.ratio) and "without seasonal_strength" in e.words


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda r: r["fits"][0].update(tau2=r["fits"][0]["tau2"] * 2), "checksum does not match"),
        (lambda r: r.update(engine_revision=ENGINE_REVISION - 1), "engine revision"),
        (lambda r: r.update(statelab="99.0.0"), "newer than this one"),
        (lambda r: r.update(format=advice.FORMAT + 1), "another format"),
        (lambda r: r["fits"][0].update(tau2="0.1"), "'fits.0.tau2' must be a number"),
        (lambda r: r["fits"][0].update(sd=[1.0]), "one value per moderator"),
        (lambda r: r.pop("command"), "'command' is missing"),
    ],
)
def test_a_model_that_cannot_be_trusted_is_refused_in_one_line(made, tmp_path, capsys, edit,
                                                                fragment):  # fmt: skip
    model, _ = made
    record = record_of(model)
    edit(record)
    sealed = "checksum" not in fragment  # a hand edit keeps the old checksum
    path = rewrite(record, tmp_path / "edited.json", seal=sealed)
    code, out, err = cli(["advise", "--model", str(path)], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    if fragment in ("checksum does not match", "engine revision", "newer than this one",
                    "another format"):  # fmt: skip
        assert record["command"] in err  # says how to remake it


def test_missing_or_damaged_model_files(tmp_path, capsys):
    code, _, err = cli(["advise", "--model", str(tmp_path / "none.json")], capsys)
    assert code == 2 and "advice model not found" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli(["advise", "--model", str(bad)], capsys)
    assert code == 2 and "cannot read the advice model" in err
    bad.write_text("[1, 2]")
    code, _, err = cli(["advise", "--model", str(bad)], capsys)
    assert code == 2 and "is not a statelab advice model: must be a JSON object" in err


def _csv(tmp_path: Path, name: str, values, dates: bool = True, column: str = "value") -> str:
    path = tmp_path / name
    index = pd.period_range("2000-01", periods=len(values), freq="M").astype(str)
    frame = pd.DataFrame({"month": index if dates else range(1, len(values) + 1),
                          column: values})  # fmt: skip
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: _csv(p, "short.csv", np.arange(14.0)), "short.csv, which has 14 values"),
        (lambda p: _csv(p, "constant.csv", np.full(60, 5.0)), "is constant"),
        (lambda p: _csv(p, "nan.csv", [1.0, 2.0, np.nan, *np.arange(60.0)]), "missing value"),
        (lambda p: _csv(p, "text.csv", ["a", "b", *["c"] * 40]), "no numeric column"),
        (
            lambda p: _csv(p, "undated.csv", np.sin(np.arange(60.0)), dates=False),
            "cannot tell the frequency",
        ),
        (lambda p: "m3/monthly", "advise takes one series"),
    ],
)
def test_hostile_series(made, tmp_path, capsys, make, fragment):
    model, _ = made
    code, out, err = cli(["advise", "--data", make(tmp_path), "--model", str(model)], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--run", "--repeats", "1"], "need at least 2 repeats"),
        (["--frequency", "-3"], "must be a whole number of at least 1"),
        (["--value-column", "nope"], "has no column 'nope'"),
    ],
)
def test_hostile_options(made, tmp_path, capsys, options, fragment):
    """Bad options are refused in one line before anything runs (--run with one repeat would
    leave nothing to pair)."""
    model, _ = made
    data = _csv(tmp_path, "ok.csv", np.sin(np.arange(60.0)) + np.arange(60.0))
    code, out, err = cli(["advise", "--data", data, "--model", str(model), *options], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_huge_values_are_advised_on_like_their_scaled_copy(made, tmp_path, capsys):
    """Features are scale-free: a series times 1e300 gets the same advice as the series."""
    model, _ = made
    values = 100 + 10 * np.sin(np.arange(80) * 2 * np.pi / 12) + np.arange(80) * 0.5
    small = statelab.advise(statelab.AdviseSettings(data=_csv(tmp_path, "s.csv", values),
                                                    model=model))  # fmt: skip
    code, out, err = cli(["advise", "--data", _csv(tmp_path, "h.csv", values * 1e300),
                          "--model", str(model)], capsys)  # fmt: skip
    assert code == 0, err
    for e in small.expected:
        if np.isfinite(e.ratio) and not e.identical:
            assert f"ratio {e.expectation.better}/{e.expectation.worse} {e.ratio:.3f}" in out


def test_frequency_option(made, tmp_path, capsys):
    model, _ = made
    undated = _csv(tmp_path, "u.csv", np.sin(np.arange(60.0)) + np.arange(60.0), dates=False)
    code, out, err = cli(["advise", "--data", undated, "--frequency", "12", "--model",
                          str(model)], capsys)  # fmt: skip
    assert code == 0 and "(frequency 12)" in out
    code, out, err = cli(["advise", "--data", undated, "--frequency", "1", "--model",
                          str(model)], capsys)  # fmt: skip
    assert code == 2 and "no fits for frequency 1 (it knows 12)" in err
    code, out, err = cli(["advise", "--data", undated, "--frequency", "0", "--model",
                          str(model)], capsys)  # fmt: skip
    assert code == 2 and "frequency" in err and len(err.strip().splitlines()) == 1


def test_advise_run_measures_what_the_collection_run_measured(made, capsys):
    """--run on a series of the sample, at the model's set-up and the same seed and repeats,
    measures the collection run's own log ratios: its lanes are independent to the bit."""
    model, folder = made
    name = sample_names()[3]
    code, out, err = cli(["advise", "--data", name, "--model", str(model), "--run",
                          "--repeats", "3", "--quiet"], capsys)  # fmt: skip
    assert code == 0, err
    table = pd.read_csv(folder / "per_series.csv").set_index(["series", "expectation"])
    lines = [line for line in out.splitlines() if line.startswith("- E")]
    assert len(lines) == 6
    for line, key in zip(lines, ("E1", "E2", "E3", "E4", "E5", "E6"), strict=True):
        ratio = np.exp(table.loc[(name, key), "log_ratio"])
        if key == "E3":
            assert "measured on the series: identical" in line
        else:
            assert f"(ratio {ratio:.3f})" in line.split("measured on the series")[1]
    assert "It applies to the study's networks at 5 epochs, neurons 1, lags 1" in out
    assert "in sample" in out


def test_advice_model_needs_the_moderators(capsys, tmp_path):
    code, _, err = cli(["generalise", *SAMPLE, "--advice-model", str(tmp_path / "m.json"),
                        "--out", str(tmp_path / "o")], capsys)  # fmt: skip
    assert code == 2 and "give --moderators too" in err
    assert not (tmp_path / "o").exists()


def test_the_shipped_model_is_trusted_and_applies_to_the_study():
    model = advice.load_model()
    assert model.engine_revision == ENGINE_REVISION
    assert dict(model.setup) == {"epochs": 1000, "neurons": 1, "lags": 1,
                                 "learning_rate": 0.001, "profile": "keras3"}  # fmt: skip
    assert model.command.startswith("statelab generalise ") and "--advice-model" in model.command
    assert set(model.frequencies) == {1, 4, 12}
    assert model.series > 5000


def test_ctrl_c_during_run_says_interrupted_and_nothing_about_resuming(made, monkeypatch, capsys):
    """--run trains in a temporary store that goes with its folder: Ctrl-C there is a plain
    interruption (exit 130), never "N repeats are stored, run the same command to resume"."""
    from statelab import api
    from statelab.errors import Interrupted
    from statelab.execution import interrupts

    def interrupted(*args, **kwargs):  # as the pipeline meets a Ctrl-C: the flag, then this
        interrupts.PRESSED.set()
        raise Interrupted(7)

    monkeypatch.setattr(api, "execute", interrupted)
    model, _ = made
    try:
        code, out, err = cli(["advise", "--data", sample_names()[0], "--model", str(model),
                              "--run", "--quiet"], capsys)  # fmt: skip
    finally:
        interrupts.PRESSED.clear()  # the flag would stop every later run in this process
    assert code == 130 and err.strip() == "statelab: interrupted"
