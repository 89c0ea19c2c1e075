"""Bad input anywhere: one line naming the problem, exit status 2, nothing damaged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from statelab.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    err = capsys.readouterr().err
    return exit_info.value.code, err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--seed", "2147483648", "--epochs", "1"], "seed must be"),
        (["run", "--seed", "-5", "--epochs", "1"], "seed must be"),
        (["reproduce", "--seed", "3000000000"], "seed must be"),
        (["reproduce", "--repeats", "1", "--pool", "0"], "at least 2 repeats"),
        (["run", "--epochs", "100000000000000"], "at most"),
        (["run", "--neurons", "100000000"], "at most"),
        (
            ["run", "--stateless", "--batch-size", "2000", "--epochs", "1"],
            "exceeds the 22 training rows",
        ),
        (["run", "--epochs", "1", "--out", "/tmp"], "is a folder"),
        (["report", "/no/such/folder"], "no such folder"),
    ],
)
def test_one_line_errors(capsys, argv, message):
    code, err = run_cli(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--epochs", "0"), ("--neurons", "0"), ("--lags", "100"), ("--batch-size", "0"),
     ("--learning-rate", "0"), ("--train-window", "1"), ("--seed", "-5"), ("--repeats", "0"),
     ("--test-size", "0")],
)  # fmt: skip
def test_an_error_names_the_option_as_it_was_typed(capsys, option, value):
    """Found by a hostile try: some errors said "repeats must be", others "--chunk must be"."""
    code, err = run_cli(capsys, "run", "--epochs", "1", option, value)
    assert code == 2 and err.strip().startswith(f"statelab: error: {option} must be"), err


def test_compare_needs_two_finite_rmses(capsys, tmp_path):
    one = write(tmp_path, "one.csv", "results\n1.0\n")
    infinite = write(tmp_path, "inf.csv", "results\n1.0\ninf\n")
    good = write(tmp_path, "good.csv", "results\n1.0\n2.0\n")
    for bad in (one, infinite):
        code, err = run_cli(capsys, "compare", bad, good, "--plot", str(tmp_path / "p.png"))
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    other = write(tmp_path, "other.csv", "results\n1.5\n2.5\n")
    code, err = run_cli(capsys, "compare", good, other, "--plot", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_compare_reports_identical_files_as_identical(capsys, tmp_path):
    a = write(tmp_path, "a.csv", "results\n1.0\n2.0\n3.0\n")
    b = write(tmp_path, "b.csv", "results\n1.0\n2.0\n3.0\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", a, b, "--plot", str(tmp_path / "p.png")])
    assert exit_info.value.code == 0
    assert "identical" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reversed.csv", "date,v\n2020-03,1\n2020-01,2\n", "not in increasing order"),
        ("same.csv", "date,v\n2020-01,1\n2020-1,2\n", "same date"),
        ("bool.csv", "date,v\n2020-01,True\n2020-02,False\n", "True/False"),
    ],
)
def test_bad_series(capsys, tmp_path, name, content, message):
    code, err = run_cli(capsys, "run", "--epochs", "1", "--data", write(tmp_path, name, content))
    assert code == 2 and message in err, err


def test_huge_values_are_refused_not_trained_on(capsys, tmp_path):
    rows = "\n".join(f"2020-{m:02d}-01,{(-1) ** m * 1.7e308}" for m in range(1, 13))
    rows += "\n" + "\n".join(f"2021-{m:02d}-01,{(-1) ** m * 1.7e308}" for m in range(1, 13))
    code, err = run_cli(
        capsys, "run", "--epochs", "1", "--data", write(tmp_path, "huge.csv", "date,v\n" + rows)
    )
    assert code == 2 and "too large" in err, err


@pytest.mark.parametrize(
    ("name", "content"),
    [("study.json", "{}"), ("verdicts.csv", ""), ("study.json", b"\xff\xfe".decode("latin-1"))],
)
def test_report_on_a_damaged_folder(capsys, tmp_path, name, content):
    for needed in (
        "study.json",
        "verdicts.csv",
        "se_curve.csv",
        "power.csv",
        "series.png",
        "se_curve.png",
    ):
        (tmp_path / needed).write_text("x")
    (tmp_path / "verdicts.csv").write_text("expectation,claim\nE1,x\n")
    (tmp_path / name).write_text(content, encoding="latin-1")
    code, err = run_cli(capsys, "report", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "reproduce" in err, err
    assert not (tmp_path / "report.html").exists()


def test_a_column_name_with_dollar_signs_plots(capsys, tmp_path):
    rows = "\n".join(f"{2001 + m // 12}-{m % 12 + 1:02d},{100 + (m * 37) % 23}" for m in range(30))
    data = write(tmp_path, "d.csv", "date,$\\bogus$\n" + rows)
    code, err = run_cli(capsys, "reproduce", "--repeats", "2", "--pool", "0", "--epochs", "2",
                        "--data", data, "--out", str(tmp_path / "out"), "--quiet")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "out" / "series.png").stat().st_size > 1000


def test_day_first_dates_in_order_are_accepted(capsys, tmp_path):
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    rows = "\n".join(f"{d:%d/%m/%Y},{100 + (i * 37) % 23}" for i, d in enumerate(days))
    code, err = run_cli(capsys, "run", "stateless", "--epochs", "2", "--repeats", "1",
                        "--data", write(tmp_path, "eu.csv", "date,v\n" + rows))  # fmt: skip
    assert code == 0, err


def test_forecasts_too_large_for_the_series_units_count_as_failed(tmp_path):
    import statelab

    months = pd.period_range("2001-01", periods=36, freq="M")
    series = pd.Series([1e300 * (i % 3) for i in range(36)], index=months, name="big")
    result = statelab.run("stateless", data=series, epochs=2, repeats=2)
    assert result.failed.all() and "too large" in result.failures[0]
    assert result.summary()["failed"] == 2
