"""The command line: help everywhere, study-format output, one-line errors with status 2."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from statelab.cli import app, main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_every_command_has_help_text(capsys):
    import typer.main

    group = typer.main.get_command(app)
    assert len(group.commands) >= 2
    for name, command in group.commands.items():
        assert command.help and command.help.strip(), name
        code, out, _ = run_cli(capsys, name, "--help")
        assert code == 0 and "Usage" in out


def test_every_command_that_takes_data_documents_long_lists_and_names_files(capsys):
    import typer.main

    group = typer.main.get_command(app)
    taking = {
        name: next(option.help for option in command.params if option.name == "data")
        for name, command in group.commands.items()
        if any(option.name == "data" for option in command.params)
    }
    assert set(taking) >= {"run", "reproduce", "generalise"}
    assert taking.pop("advise").startswith("One series")  # advice is for one series alone
    for name, text in taking.items():
        assert "any length" in text and "@FILE: the names in a text file, one a line" in text
        code, out, _ = run_cli(capsys, name, "--help")
        assert code == 0 and "@FILE" in out, name


def test_run_prints_repeats_persistence_and_summary_and_writes_the_study_csv(capsys, tmp_path):
    out_file = tmp_path / "experiment_x.csv"
    code, out, err = run_cli(
        capsys, "run", "stateless", "--epochs", "3", "--repeats", "3", "--out", str(out_file)
    )
    assert code == 0, err
    assert "1) Test RMSE:" in out and "3) Test RMSE:" in out
    assert "Persistence RMSE: 136.761" in out
    for row in ("count", "mean", "std", "min", "25%", "50%", "75%", "max"):
        assert row in out
    frame = pd.read_csv(out_file)
    assert list(frame.columns) == ["results"] and len(frame) == 3
    assert frame["results"].between(0, 1e4).all()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--epochs", "0"], "epochs must be"),
        (["run", "--repeats", "0", "--epochs", "1"], "repeats must be"),
        (["run", "--batch-size", "0"], "batch-size must be"),
        (["run", "--batch-size", "4", "--forecast", "batched", "--epochs", "1"], "divide"),
        (["run", "--data", "/no/such/file.csv"], "not found"),
        (["run", "nosuchpreset"], "unknown preset"),
        (["run", "--epochs", "many"], "--epochs"),
        (["run", "--profile", "keras1"], "profile"),
        (["run", "--epochs", "1", "--out", "/no/such/folder/x.csv"], "does not exist"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_gets_one_line_and_status_2(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("statelab: error:"), err
    assert message in lines[0]


def test_bad_data_file_from_a_real_process(tmp_path):
    """The installed entry point, end to end: no traceback, status 2."""
    bad = tmp_path / "bad.csv"
    bad.write_text("date,value\n2020-01,1\n2020-02,oops\n")
    process = subprocess.run(
        [sys.executable, "-m", "statelab", "run", "--data", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert "line 3: non-numeric value 'oops'" in process.stderr


def test_a_failed_run_leaves_an_existing_results_file_intact(capsys, tmp_path):
    out_file = tmp_path / "experiment_stateful.csv"
    out_file.write_text("results\n1.0\n")
    code, _, _ = run_cli(capsys, "run", "--epochs", "0", "--out", str(out_file))
    assert code == 2
    assert out_file.read_text() == "results\n1.0\n"
