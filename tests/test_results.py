"""Per-repeat results (statelab.execution.results): failed repeats are NaN and counted apart, subset
keeps every per-repeat array aligned, the frame and the study's CSV, Timings addition, and
the versions a result records. Results are built by hand, so every expected number is known."""

from __future__ import annotations

import csv
import io
import math
import platform
from importlib import metadata

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.data.dataset import prepare
from statelab.engine.lstm import LSTMWeights
from statelab.execution.results import (
    Provenance,
    Results,
    Timings,
    describe_with_failures,
    versions,
)
from statelab.spec import Spec

REASON = "training loss not finite from epoch 2"


def made(rmse, failures, with_extras=True) -> Results:
    """N repeats (repeat indices 10, 11, ...) with forecasts k + t and weights filled with k."""
    n = len(rmse)
    spec = Spec(epochs=3)
    dataset = prepare(statelab.shampoo(), spec)
    k = np.arange(n, dtype=float)[:, None]
    shapes = ((1, 4), (1, 4), (4,), (1, 1), (1,))  # Keras layout, 1 unit, 1 lag
    weights = LSTMWeights(  # array i of repeat j is filled with 10 * i + j
        *(np.stack([np.full(shape, 10.0 * i + j) for j in range(n)]) for i, shape in enumerate(shapes))
    )  # fmt: skip
    return Results(
        name="stateful",
        spec=spec,
        series="sales",
        data_hash="abc",
        seed=7,
        repeats=np.arange(10, 10 + n),
        rmse=np.array(rmse, dtype=float),
        relative_rmse=np.array(rmse, dtype=float) / 136.761,
        mase=np.array(rmse, dtype=float) / 100,
        forecasts=k + np.arange(12.0),
        forecasts_scaled=(k + np.arange(12.0)) / 100,
        final_loss=np.arange(n) * 0.5,
        failures=np.array(failures, dtype=object),
        dataset=dataset,
        persistence_rmse=136.761,
        provenance=Provenance(versions=(versions(),), devices=("cpu",)),
        losses=(k + np.arange(3.0)) if with_extras else None,
        loss_epochs=np.arange(1, 4) if with_extras else None,
        weights=weights if with_extras else None,
    )


def test_a_failed_repeat_has_no_rmse_whatever_it_was_given():
    result = made([100.0, 5.0, 120.0], ["", REASON, ""])
    assert result.failed.tolist() == [False, True, False]
    assert result.rmse[0] == 100.0 and math.isnan(result.rmse[1]) and result.rmse[2] == 120.0
    # every score of a failed repeat is NaN, none of a finished one
    assert np.isnan(result.relative_rmse).tolist() == [False, True, False]
    assert np.isnan(result.mase).tolist() == [False, True, False]
    assert result.mase[2] == 1.2 and result.relative_rmse[0] == 100.0 / 136.761


def test_summary_averages_the_finished_repeats_and_counts_failures_apart():
    result = made([100.0, 5.0, 120.0, 110.0], ["", REASON, "", ""])
    summary = result.summary()
    assert summary.name == "stateful"
    assert list(summary.index) == ["count", "mean", "std", "min", "25%", "50%", "75%", "max",
                                   "failed"]  # fmt: skip
    assert summary["count"] == 3 and summary["failed"] == 1
    assert summary["mean"] == 110.0  # (100 + 120 + 110) / 3: the failed 5.0 is not in it
    assert summary["std"] == 10.0
    assert summary["min"] == 100.0 and summary["max"] == 120.0 and summary["50%"] == 110.0


def test_describe_with_failures_counts_nans_only():
    described = describe_with_failures(pd.Series([1.0, np.nan, 3.0, np.nan]))
    assert described["count"] == 2 and described["failed"] == 2 and described["mean"] == 2.0
    assert describe_with_failures(pd.Series([4.0, 6.0]))["failed"] == 0
    everything_failed = describe_with_failures(pd.Series([np.nan, np.nan]))
    assert everything_failed["count"] == 0 and everything_failed["failed"] == 2


def test_subset_keeps_every_per_repeat_array_aligned():
    result = made([100.0, 5.0, 120.0, 110.0], ["", REASON, "", ""])
    keep = np.array([False, True, False, True])
    part = result.subset(keep)
    assert part.repeats.tolist() == [11, 13]
    assert math.isnan(part.rmse[0]) and part.rmse[1] == 110.0
    assert math.isnan(part.mase[0]) and part.mase[1] == 1.1
    assert math.isnan(part.relative_rmse[0]) and part.relative_rmse[1] == 110.0 / 136.761
    assert part.failures.tolist() == [REASON, ""] and part.failed.tolist() == [True, False]
    np.testing.assert_array_equal(part.forecasts[:, 0], [1.0, 3.0])
    np.testing.assert_array_equal(part.forecasts_scaled[:, 0], [0.01, 0.03])
    np.testing.assert_array_equal(part.final_loss, [0.5, 1.5])
    np.testing.assert_array_equal(part.losses[:, 0], [1.0, 3.0])
    np.testing.assert_array_equal(part.loss_epochs, [1, 2, 3])  # per epoch, not per repeat
    for i, w in enumerate(part.weights):
        assert w.shape[0] == 2
        assert (w[0] == 10 * i + 1).all() and (w[1] == 10 * i + 3).all()
    assert part.summary()["count"] == 1 and part.summary()["failed"] == 1
    # what is not per repeat is kept as it was
    assert (part.name, part.seed, part.series, part.spec) == ("stateful", 7, "sales", result.spec)
    # nothing kept: still nothing
    bare = made([1.0, 2.0], ["", ""], with_extras=False).subset(np.array([True, False]))
    assert bare.weights is None and bare.losses is None and bare.repeats.tolist() == [10]


def test_to_frame_has_a_row_per_repeat_and_a_column_per_test_month():
    result = made([100.0, 5.0], ["", REASON])
    frame = result.to_frame()
    months = [f"1903-{m:02d}" for m in range(1, 13)]
    assert list(frame.columns) == [
        "experiment", "series", "seed", "repeat", "rmse", "relative_rmse", "mase",
        "final_loss", "failure",
        *[f"forecast[{m}]" for m in months],
    ]  # fmt: skip
    assert len(frame) == 2
    assert frame["repeat"].tolist() == [10, 11] and frame["seed"].tolist() == [7, 7]
    assert frame["experiment"].tolist() == ["stateful"] * 2
    assert frame["failure"].tolist() == ["", REASON]
    assert frame["rmse"].iloc[0] == 100.0 and math.isnan(frame["rmse"].iloc[1])
    assert frame["mase"].iloc[0] == 1.0 and math.isnan(frame["mase"].iloc[1])
    assert frame["forecast[1903-12]"].tolist() == [11.0, 12.0]


def test_study_csv_leaves_a_failed_repeat_empty():
    result = made([100.5, 5.0, 120.25], ["", REASON, ""])
    text = io.StringIO()
    result.study_csv().to_csv(text, index=False)
    # one column; the failed repeat's cell is empty (pandas quotes it, "", so that the row
    # is not a blank line that readers skip)
    cells = list(csv.reader(io.StringIO(text.getvalue())))
    assert cells == [["results"], ["100.5"], [""], ["120.25"]]
    back = pd.read_csv(io.StringIO(text.getvalue()))
    assert back["results"].isna().tolist() == [False, True, False]


def test_timings_add_field_by_field():
    total = Timings(1.5, 2.0, 1) + Timings(0.25, 3.0, 2)
    assert total == Timings(1.75, 5.0, 3) and isinstance(total, Timings)
    assert sum([Timings(1.0, 2.0, 0), Timings(3.0, 4.0, 5)], Timings()) == Timings(4.0, 6.0, 5)
    assert Timings() == Timings(0.0, 0.0, 0)


def test_versions_are_sorted_by_package_and_stable():
    found = versions()
    names = [name for name, _ in found]
    assert names == sorted(names)
    assert set(names) == {"jax", "jaxlib", "numpy", "optax", "pandas", "python", "statelab"}
    assert all(isinstance(v, str) and v for _, v in found)
    as_dict = dict(found)
    assert as_dict["python"] == platform.python_version()
    assert as_dict["numpy"] == metadata.version("numpy") == np.__version__
    assert as_dict["statelab"] == metadata.version("statelab")
    assert versions() == found and hash(versions()) == hash(found)  # same every call


@pytest.mark.parametrize("keep", [np.array([True, True, True]), np.array([False, False, True])])
def test_subset_of_a_subset_is_a_subset(keep):
    result = made([1.0, 2.0, 3.0], ["", "", REASON])
    twice = result.subset(keep).subset(np.ones(keep.sum(), dtype=bool))
    np.testing.assert_array_equal(twice.repeats, result.repeats[keep])
    np.testing.assert_array_equal(twice.failed, result.failed[keep])
