"""`statelab compare`: failed repeats are kept, counted and paired by row, never skipped."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from statelab import stats
from statelab.cli import main
from statelab.errors import StatelabError
from statelab.outputs.compare import compare, dropped_pairs, read_all, read_results_file

# Row k is repeat k. a failed at rows 1 and 4, b at row 2: three complete pairs (0, 3, 5).
A = [100.0, np.nan, 102.0, 99.0, np.nan, 101.0]
B = [101.0, 103.0, np.nan, 100.5, 104.0, 103.0]


def lines(values) -> str:
    """The study's one-column format, a failed repeat as an empty line."""
    return "results\n" + "".join("\n" if np.isnan(v) else f"{float(v)!r}\n" for v in values)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        lines(A),
        lines(A).replace("\n", "\r\n"),  # Windows line endings
        lines(A).rstrip("\n"),  # no newline after the last row
        'results\n100.0\n""\n102.0\n99.0\n""\n101.0\n',  # quoted empty cells (pandas 3)
        "results\n100.0\nNaN\n102.0\n99.0\n\n101.0\n",
        "\ufeff" + lines(A),  # a byte-order mark
    ],
    ids=["blank lines", "crlf", "no final newline", "quoted empty", "nan", "bom"],
)
def test_every_row_is_kept_and_failures_are_nan(tmp_path, text):
    np.testing.assert_array_equal(read_results_file(write(tmp_path, "a.csv", text)), A)


def test_a_results_file_written_by_pandas_round_trips(tmp_path):
    path = tmp_path / "experiment_x.csv"
    pd.DataFrame({"results": A}).to_csv(path, index=False)
    np.testing.assert_array_equal(read_results_file(path), A)


def test_the_failed_row_counts_failures_and_pairs_are_by_row(tmp_path):
    a = write(tmp_path, "experiment_a.csv", lines(A))
    b = write(tmp_path, "experiment_b.csv", lines(B))
    result = compare([a, b], tmp_path / "p.png", paired=True)
    assert list(result.table.columns) == ["a", "b"]
    assert result.table.loc["failed"].tolist() == [2.0, 1.0]
    assert result.table.loc["count"].tolist() == [4.0, 5.0]
    assert result.dropped == {("a", "b"): 3}
    row = result.pairs.iloc[0]
    assert (row["n_a"], row["n_b"]) == (3, 3)
    complete = [0, 3, 5]
    difference = np.mean(np.array(A)[complete] - np.array(B)[complete])
    assert row["mean_difference"] == pytest.approx(difference)
    expected = stats.pairwise_table({"a": np.array(A), "b": np.array(B)}, paired=True)
    assert row["wilcoxon_p"] == pytest.approx(expected.iloc[0]["wilcoxon_p"], nan_ok=True)
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_unpaired_drops_each_sides_failures_alone(tmp_path):
    a = write(tmp_path, "a.csv", lines(A))
    b = write(tmp_path, "b.csv", lines(B))
    result = compare([a, b], tmp_path / "p.png")
    row = result.pairs.iloc[0]
    assert (row["n_a"], row["n_b"]) == (4, 5) and result.dropped == {}
    assert row["mean_difference"] == pytest.approx(np.nanmean(A) - np.nanmean(B))


def test_the_cli_prints_the_pairs_dropped(tmp_path, capsys):
    a = write(tmp_path, "a.csv", lines(A))
    b = write(tmp_path, "b.csv", lines(B))
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", str(a), str(b), "--paired", "--plot", str(tmp_path / "p.png")])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "a vs b: 3 pair(s) dropped because one side failed" in out
    failed = next(line for line in out.splitlines() if line.startswith("failed"))
    assert [float(x) for x in failed.split()[1:]] == [2.0, 1.0]


def test_paired_needs_the_same_number_of_rows_failures_included(tmp_path):
    a = write(tmp_path, "a.csv", lines(A))
    b = write(tmp_path, "b.csv", lines(B[:-1]))
    with pytest.raises(StatelabError, match=r"same number of rows .*a 6, b 5"):
        compare([a, b], tmp_path / "p.png", paired=True)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("results\n1.0\nabc\n2.0\n", "line 3: 'abc' is not a finite number"),
        ("results\n1.0\ninf\n2.0\n", "line 3: 'inf' is not a finite number"),
        ("results\n1.0\n1e999\n2.0\n", "line 3: '1e999' is not a finite number"),
        ("results\n1.0\nTrue\n2.0\n", "'True' is not a finite number"),
        ("results\n1.0\n\n\n", "needs at least 2 RMSEs to compare, has 1 (2 failed)"),
        ("results\n1,2\n3,4\n", "more cells than the header"),
        ("value\n1.0\n2.0\n", "no 'results' column"),
        ("", "is empty"),
    ],
)
def test_bad_results_files(tmp_path, text, message):
    with pytest.raises(StatelabError, match=re.escape(message)):
        read_results_file(write(tmp_path, "a.csv", text))


def test_a_file_given_twice_or_two_files_of_one_name(tmp_path):
    a = write(tmp_path, "a.csv", lines(A))
    (tmp_path / "other").mkdir()
    other = write(tmp_path / "other", "experiment_a.csv", lines(B))
    with pytest.raises(StatelabError, match="given twice"):
        read_all([a, tmp_path / "." / "a.csv"])
    with pytest.raises(StatelabError, match="two results files are named a"):
        read_all([a, other])


def test_the_plot_never_overwrites_a_results_file(tmp_path):
    a = write(tmp_path, "a.csv", lines(A))
    b = write(tmp_path, "b.csv", lines(B))
    with pytest.raises(StatelabError, match="would overwrite the results file"):
        compare([a, b], b)
    assert b.read_text() == lines(B)


def test_100000_rows_read_and_pair_with_every_failure_counted(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(100, 5, 100_000), rng.normal(101, 5, 100_000)
    a[::7], b[::11] = np.nan, np.nan
    big_a = write(tmp_path, "a.csv", lines(a))
    big_b = write(tmp_path, "b.csv", lines(b))
    columns = read_all([big_a, big_b])
    dropped = dropped_pairs(columns)
    result = compare([big_a], tmp_path / "p.png")
    np.testing.assert_array_equal(columns["a"], a)
    assert dropped == {("a", "b"): int((np.isnan(a) | np.isnan(b)).sum())}
    assert result.table.loc["failed", "a"] == np.isnan(a).sum()


def test_two_files_of_100000_rows_compare_paired(tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.normal(100, 5, 100_000), rng.normal(101, 5, 100_000)
    a[::13], b[5::17] = np.nan, np.nan
    paths = [write(tmp_path, "a.csv", lines(a)), write(tmp_path, "b.csv", lines(b))]
    result = compare(paths, tmp_path / "p.png", paired=True)
    complete = ~np.isnan(a) & ~np.isnan(b)
    assert result.dropped == {("a", "b"): int((~complete).sum())}
    row = result.pairs.iloc[0]
    assert row["n_a"] == complete.sum()
    assert row["mean_difference"] == pytest.approx(np.mean(a[complete] - b[complete]))
