from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.data.dataset import prepare, rows_needed
from statelab.data.series import load
from statelab.errors import StatelabError


def test_shampoo_is_the_study_series():
    series = statelab.shampoo()
    assert len(series) == 36
    assert str(series.index[0]) == "1901-01" and str(series.index[-1]) == "1903-12"
    assert series.iloc[0] == 266.0 and series.iloc[-1] == 646.9
    study = """266.0 145.9 183.1 119.3 180.3 168.5 231.8 224.5 192.8 122.9 336.5 185.9
        194.3 149.5 210.1 273.3 191.4 287.0 226.0 303.6 289.9 421.6 264.5 342.3
        339.7 440.4 315.9 439.3 401.3 437.4 575.5 407.6 682.0 475.3 581.3 646.9"""
    assert list(series) == [float(v) for v in study.split()]


def test_shampoo_gives_every_caller_its_own_copy():
    """Read once a process: a caller that changes its series changes no one else's."""
    first = statelab.shampoo()
    first.iloc[0] = -1.0
    first.index.name = "changed"
    again = statelab.shampoo()
    assert again.iloc[0] == 266.0 and again.index.name == "month"


def test_the_study_split():
    dataset = prepare(statelab.shampoo(), statelab.Spec())
    assert dataset.train_x.shape == (22, 1) and dataset.test_x.shape == (12, 1)
    # scaled to [-1, 1] on the training rows only, per column
    assert dataset.train_x.min() == pytest.approx(-1) and dataset.train_x.max() == pytest.approx(1)
    assert dataset.train_y.min() == pytest.approx(-1) and dataset.train_y.max() == pytest.approx(1)
    assert list(dataset.test_actual) == list(statelab.shampoo().iloc[-12:])
    assert dataset.test_previous[0] == 342.3  # 1902-12 precedes the first test month


def test_batch12_fits_the_scaler_on_its_own_12_rows():
    dataset = prepare(statelab.shampoo(), statelab.PRESETS["stateful_batch12"].spec)
    assert dataset.train_x.shape == (12, 1)
    assert dataset.train_y.min() == pytest.approx(-1) and dataset.train_y.max() == pytest.approx(1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_csv_with_named_value_column(tmp_path):
    rows = "\n".join(f"2020-{m:02d},{m},{m * 2.5}" for m in range(1, 13))
    path = write(tmp_path, "date,label,value\n" + rows)
    series = load(path, "value")
    assert series.iloc[-1] == 30.0
    assert load(path).iloc[-1] == 12  # first numeric column after the dates


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", None, "empty"),
        ("date\n2020-01\n", None, "two columns"),
        ("date,v\n2020-01,1\n2020-02,abc\n", None, "non-numeric value 'abc'"),
        ("date,v\n2020-01,1\n2020-02,\n2020-03,2\n", None, "line 3: missing value"),
        ("date,v\n2020-01,1\n2020-02,inf\n", None, "infinite"),
        ("date,v\n2020-01,1\n2020-01,2\n", None, "duplicate date"),
        ("date,v\n2020-01,1\n", "w", "no column 'w'"),
        ("date,name\n2020-01,a\n", None, "no numeric column"),
    ],
)
def test_bad_csv_gets_a_clear_error(tmp_path, text, column, message):
    with pytest.raises(StatelabError, match=message):
        load(write(tmp_path, text), column)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(StatelabError, match="not found"):
        load(tmp_path / "nope.csv")
    with pytest.raises(StatelabError, match="not a file"):
        load(tmp_path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(StatelabError):
        load(path)


def test_too_short_series_says_how_many_rows_are_needed():
    spec = statelab.Spec()
    short = pd.Series(np.arange(rows_needed(spec) - 1, dtype=float))
    with pytest.raises(StatelabError, match=f"needs at least {rows_needed(spec)}"):
        prepare(short, spec)
    prepare(pd.Series(np.arange(rows_needed(spec), dtype=float) ** 1.5), spec)
