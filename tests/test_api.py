"""The public entry points (statelab.run, experiment, load_series): presets with overrides,
settings validated at the boundary, a pandas Series given directly, and randomness that is
explicit: the same seed gives the same bits, another seed other weights, and repeat k is the
same whether it runs alone or among many."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.spec import PRESETS, Spec

EPOCHS = 3


def same_bits(a: statelab.Results, b: statelab.Results, rows_a=slice(None), rows_b=slice(None)):
    np.testing.assert_array_equal(a.forecasts_scaled[rows_a], b.forecasts_scaled[rows_b])
    np.testing.assert_array_equal(a.rmse[rows_a], b.rmse[rows_b])
    np.testing.assert_array_equal(a.final_loss[rows_a], b.final_loss[rows_b])
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x[rows_a], y[rows_b])


def test_experiment_is_a_preset_with_overrides():
    chosen = statelab.experiment("stateful_batch12", epochs=7, learning_rate=0.01)
    assert chosen.name == "stateful_batch12"
    assert chosen.spec == PRESETS["stateful_batch12"].spec.replace(epochs=7, learning_rate=0.01)
    # the preset's own settings stay unless overridden
    assert (chosen.spec.batch_size, chosen.spec.train_window, chosen.spec.forecast) == (
        12, 12, "batched",
    )  # fmt: skip
    assert PRESETS["stateful_batch12"].spec.epochs == 1000  # the preset itself is unchanged
    custom = statelab.experiment(stateful=False, lags=2)
    assert custom.name == "custom" and custom.spec == Spec(stateful=False, lags=2)
    assert statelab.experiment().spec == Spec()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: statelab.experiment("statefull"), "unknown preset 'statefull'"),
        (lambda: statelab.experiment("stateful", epochz=3), "unknown setting"),
        (lambda: statelab.experiment("stateful", epochs=0), "epochs must be a whole number >= 1"),
        (lambda: statelab.experiment(batch_size=True), "batch-size must be a whole number"),
        (lambda: statelab.experiment(profile="keras1"), "unknown profile 'keras1'"),
        (lambda: statelab.run("stateful", epochs=-1), "epochs must be"),
        (lambda: statelab.run("stateful", seed=-1, epochs=1), "seed must be a whole number"),
        (lambda: statelab.run("stateful", seed=1.5, epochs=1), "seed must be a whole number"),
        (lambda: statelab.run("stateful", repeats=0, epochs=1), "repeats must be"),
        (lambda: statelab.run("stateful", repeats=[1, 1], epochs=1), "must be distinct"),
        (lambda: statelab.run("stateful", batch_size=4, forecast="batched", epochs=1),
         "divide by the batch size"),
    ],
)  # fmt: skip
def test_bad_settings_are_one_line_errors(call, message):
    with pytest.raises(statelab.StatelabError, match=message) as raised:
        call()
    assert len(str(raised.value).splitlines()) == 1


def test_run_applies_the_preset_and_its_overrides():
    result = statelab.run("stateless", repeats=2, epochs=EPOCHS, shuffle=True, seed=3)
    assert result.name == "stateless" and result.seed == 3
    assert result.spec == PRESETS["stateless"].spec.replace(epochs=EPOCHS, shuffle=True)
    assert result.series == "shampoo" and result.repeats.tolist() == [0, 1]
    assert result.forecasts.shape == (2, 12) and result.losses.shape == (2, EPOCHS)
    assert round(result.persistence_rmse, 3) == 136.761


def test_a_series_given_directly_is_used_and_validated():
    months = pd.period_range("2001-01", periods=30, freq="M")
    values = 100 + 10 * np.sin(np.arange(30.0))
    mine = pd.Series(values, index=months, name="widgets")
    result = statelab.run("stateful", data=mine, repeats=2, epochs=EPOCHS, test_rows=6)
    assert result.series == "widgets"
    np.testing.assert_array_equal(result.dataset.test_actual, values[-6:])
    assert [str(x) for x in result.dataset.test_index] == [str(m) for m in months[-6:]]
    unnamed = statelab.load_series(pd.Series(values, index=months))
    assert unnamed.to_list() == values.tolist()
    broken = mine.copy()
    broken.iloc[4] = np.nan
    with pytest.raises(statelab.StatelabError, match="missing value"):
        statelab.run("stateful", data=broken, repeats=1, epochs=1)
    with pytest.raises(statelab.StatelabError, match="duplicate date"):
        statelab.load_series(pd.Series([1.0, 2.0], index=["2001-01", "2001-01"], name="v"))


def test_load_series_reads_the_builtin_set_and_csv_files(tmp_path):
    pd.testing.assert_series_equal(statelab.load_series(None), statelab.shampoo())
    pd.testing.assert_series_equal(statelab.load_series("shampoo"), statelab.shampoo())
    path = tmp_path / "data.csv"
    path.write_text("date,note,units,price\n2001-01,a,5,1.5\n2001-02,b,7,2.5\n2001-03,c,4,3.5\n")
    first_numeric = statelab.load_series(path)
    assert first_numeric.name == "units" and first_numeric.to_list() == [5.0, 7.0, 4.0]
    chosen = statelab.load_series(str(path), value_column="price")
    assert chosen.name == "price" and chosen.to_list() == [1.5, 2.5, 3.5]
    with pytest.raises(statelab.StatelabError, match="no column 'cost'"):
        statelab.load_series(path, value_column="cost")
    with pytest.raises(statelab.StatelabError, match="data file not found"):
        statelab.load_series(tmp_path / "missing.csv")


def test_load_series_takes_any_data_string_without_an_oserror(tmp_path, monkeypatch):
    """A list too long for a file name, a name too long for a path, and @FILE: each is
    told apart from a CSV path without raising OSError (File name too long)."""
    many = ",".join(f"m3:N{k}" for k in range(1402, 1702))  # 2,699 characters
    with pytest.raises(statelab.StatelabError, match="holds 300 series; give one"):
        statelab.load_series(many)
    with pytest.raises(statelab.StatelabError, match="cannot read the data file .*too long"):
        statelab.load_series("x" * 300 + ".csv")
    (tmp_path / "one.txt").write_text("# the documented one\nm3:N1402\n")
    assert statelab.load_series(f"@{tmp_path / 'one.txt'}").iloc[0] == 2640.0
    monkeypatch.chdir(tmp_path)  # a file named shampoo, or @one.txt, is not read as a CSV
    (tmp_path / "shampoo").write_text("t,v\n1,1\n2,2\n")
    (tmp_path / "@one.txt").write_text("t,v\n1,1\n2,2\n")
    pd.testing.assert_series_equal(statelab.load_series("shampoo"), statelab.shampoo())
    assert statelab.load_series("@one.txt").name == "m3:N1402"


def test_the_same_seed_gives_the_same_bits_and_another_seed_other_ones():
    first = statelab.run("stateless_shuffle", repeats=3, epochs=EPOCHS, seed=11)
    again = statelab.run("stateless_shuffle", repeats=3, epochs=EPOCHS, seed=11)
    same_bits(first, again)
    other = statelab.run("stateless_shuffle", repeats=3, epochs=EPOCHS, seed=12)
    for name in ("kernel", "recurrent_kernel", "dense_kernel"):  # drawn from the seed
        assert not np.array_equal(getattr(first.weights, name), getattr(other.weights, name))
    assert not np.array_equal(first.forecasts_scaled, other.forecasts_scaled)
    # repeats of one run differ from each other too
    assert len(np.unique(first.forecasts_scaled[:, 0])) == 3


def test_repeat_k_is_the_same_alone_or_among_many():
    many = statelab.run("stateful_seed_train", repeats=10, epochs=EPOCHS, seed=5)  # 2 lane blocks
    for k in (0, 3, 9):
        alone = statelab.run("stateful_seed_train", repeats=[k], epochs=EPOCHS, seed=5)
        assert alone.repeats.tolist() == [k]
        same_bits(alone, many, rows_b=slice(k, k + 1))
    picked = statelab.run("stateful_seed_train", repeats=[9, 2], epochs=EPOCHS, seed=5)
    assert picked.repeats.tolist() == [9, 2]
    same_bits(picked, many, rows_b=[9, 2])


def test_common_random_numbers_across_presets_but_not_for_the_a_vs_a_twin():
    # repeat k draws its initial weights from (seed, k): with 1 epoch the trained weights of
    # two presets that train alike on the first epoch are equal; stateful2 has its own stream.
    a = statelab.run("stateful", repeats=2, epochs=1, seed=2)
    b = statelab.run("stateful_reset_test", repeats=2, epochs=1, seed=2)
    twin = statelab.run("stateful2", repeats=2, epochs=1, seed=2)
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.weights.kernel, twin.weights.kernel)


# --- The studies from a notebook: typed results, no files ----------------------------------


def test_a_notebook_reads_the_generalisations_verdicts_and_nothing_is_written(
    tmp_path, monkeypatch
):
    work, temporary = tmp_path / "work", tmp_path / "tmp"
    work.mkdir(), temporary.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the store goes
    settings = statelab.GeneraliseSettings(
        "m3:N1402,m3:N1403", repeats=3, setup=statelab.Setup(epochs=3)
    )
    outcome = statelab.generalise(settings)
    result = outcome.result
    assert isinstance(result, statelab.studies.generalise.Generalisation)
    overall = result.across[result.across["group"] == "all"].set_index("expectation")
    assert list(overall.index) == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert set(overall["verdict"]) <= set(statelab.stats.VERDICTS)
    assert overall.loc["E3", "verdict"] == "identical"  # the batch pair, same weights
    assert set(result.per_series["series"]) == {"m3:N1402", "m3:N1403"}
    assert result.answer[0].startswith("On 2 series of m3:N1402,m3:N1403 (3 repeats")
    assert outcome.files == () and outcome.filled.run == 3 * 11 * 3  # Shampoo runs beside
    assert list(work.iterdir()) == []  # nothing in the working folder
    assert list(temporary.iterdir()) == []  # and the temporary store is gone


def test_a_notebook_reproduces_the_study_without_files_and_the_same_as_the_command(tmp_path):
    settings = statelab.StudySettings(repeats=3, pool=0, setup=statelab.Setup(epochs=3), seed=4)
    in_memory = statelab.reproduce(settings).result
    assert isinstance(in_memory, statelab.studies.study.Reproduction)
    assert list(in_memory.verdicts.index) == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert set(in_memory.tables) == {"a_vs_a", "stateful_vs_stateless", "batch12", "resets"}
    written = statelab.reproduce(settings, out=tmp_path / "study")
    assert written.files and all(p.parent == tmp_path / "study" for p in written.files)
    pd.testing.assert_frame_equal(written.result.verdicts, in_memory.verdicts)
    for name, result in in_memory.results.items():
        np.testing.assert_array_equal(written.result.results[name].rmse, result.rmse)


def test_settings_are_checked_before_anything_runs(tmp_path):
    with pytest.raises(statelab.StatelabError, match="--margin must be"):
        statelab.reproduce(statelab.StudySettings(margin=0), out=tmp_path / "x")
    with pytest.raises(statelab.StatelabError, match="at least 2 repeats"):
        statelab.generalise(statelab.GeneraliseSettings("m3:N1402,m3:N1403", repeats=1))
    assert not (tmp_path / "x").exists()
