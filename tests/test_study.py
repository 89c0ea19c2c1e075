"""`statelab reproduce` and `statelab compare`, end to end with few epochs and repeats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from statelab.cli import main
from statelab.execution.runner import SHUFFLE_APART_LANES, run_tasks
from statelab.spec import PRESETS, Setup
from statelab.studies import study
from statelab.studies.study import COMPARISONS, label


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def assert_png(path, min_size=(300, 200)):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert (
            image.format == "PNG" and image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        )
        # not blank: a plot has more than a couple of colours
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 5


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "reproduce",
                "--repeats",
                "3",
                "--epochs",
                "4",
                "--seed",
                "2",
                "--out",
                str(out),
                "--quiet",
            ]
        )
    assert exit_info.value.code == 0
    return out


def test_reproduce_writes_every_results_file_in_the_study_format(reproduced):
    for name in PRESETS:
        frame = pd.read_csv(reproduced / f"experiment_{name}.csv")
        assert list(frame.columns) == ["results"] and len(frame) == 3
        assert (frame["results"] > 0).all()


def test_reproduce_writes_the_four_tables_and_box_plots(reproduced):
    for comparison in COMPARISONS:
        table = pd.read_csv(reproduced / f"table_{comparison.key}.csv", index_col=0)
        assert list(table.index) == [
            "count",
            "mean",
            "std",
            "min",
            "25%",
            "50%",
            "75%",
            "max",
            "failed",
        ]
        assert list(table.columns) == [label(n, comparison) for n in comparison.experiments]
        for name in comparison.experiments:
            rmse = pd.read_csv(reproduced / f"experiment_{name}.csv")["results"]
            assert table.loc["mean", label(name, comparison)] == pytest.approx(rmse.mean())
        assert (reproduced / f"table_{comparison.key}.txt").read_text().startswith(" ")
        assert_png(reproduced / f"box_{comparison.key}.png")
    resets = pd.read_csv(reproduced / "table_resets.csv", index_col=0)
    assert list(resets.columns) == [
        "noseed_1",
        "noseed_2",
        "noseed_3",
        "seed_1",
        "seed_2",
        "seed_3",
    ]


def test_reproduce_draws_the_series_and_the_forecasts(reproduced):
    assert_png(reproduced / "series.png")
    assert_png(reproduced / "forecasts.png")


def test_reproduce_prints_the_tables(capsys, tmp_path):
    code, out, _ = cli(
        capsys, "reproduce", "--repeats", "2", "--pool", "4", "--epochs", "2", "--out",
        str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0
    for comparison in COMPARISONS:
        assert comparison.title in out
    assert "noseed_3" in out and "Persistence RMSE: 136.761" in out
    for key in ("E1", "E2", "E3", "E4", "E5", "E6"):
        assert f"\n{key} " in out
    assert "E3 stateful and stateless give the same results at batch size 12: IDENTICAL" in out
    assert "24 repeats planned: 24 run now" in out  # 11 x 2, and 2 more of stateful's pool


def test_experiments_of_the_same_shape_share_one_compiled_call():
    plan = study.study_plan(study.StudySettings(repeats=3, pool=0, setup=Setup(epochs=2), seed=1))
    ran = {r.name: r for r in run_tasks(plan.tasks, seed=1)}
    batch12 = {"stateful_batch12", "stateless_batch12"}
    calls = {r.provenance.call for r in ran.values()}
    assert len(calls) == 2
    assert len({ran[n].provenance.call for n in batch12}) == 1
    # the nine batch-1 experiments' 3 repeats each share one call: 27 lanes, padded to 8s
    assert {ran[n].provenance.lanes for n in ran if n not in batch12} == {32}
    assert {ran[n].provenance.lanes for n in batch12} == {8}  # 6 lanes, padded to 8


def test_a_large_call_runs_its_shuffling_lanes_apart_with_the_same_results():
    """From SHUFFLE_APART_LANES lanes, stateless_shuffle runs in a call of its own (a call
    draws permutations for all its lanes once any shuffles); its repeats are the same bits
    as in the small, shared call above."""
    repeats = -(-SHUFFLE_APART_LANES // 9)  # nine batch-1 experiments: just enough lanes
    plan = study.study_plan(study.StudySettings(repeats=repeats, pool=0, setup=Setup(epochs=2), seed=1))  # fmt: skip
    ran = {r.name: r for r in run_tasks(plan.tasks, seed=1)}
    apart = {"stateful_batch12", "stateless_batch12", "stateless_shuffle"}
    assert len({r.provenance.call for r in ran.values()}) == 3
    assert len({ran[n].provenance.call for n in ran if n not in apart}) == 1
    assert ran["stateless_shuffle"].provenance.lanes == -(-repeats // 8) * 8
    small = study.study_plan(study.StudySettings(repeats=3, pool=0, setup=Setup(epochs=2), seed=1))
    shared = {r.name: r for r in run_tasks(small.tasks, seed=1)}
    for name in ("stateless_shuffle", "stateful"):
        assert np.array_equal(ran[name].forecasts_scaled[:3], shared[name].forecasts_scaled)


def test_compare_reads_results_files_and_draws_a_box_plot(capsys, reproduced, tmp_path):
    plot = tmp_path / "box.png"
    files = [str(reproduced / f"experiment_{n}.csv") for n in ("stateful", "stateless")]
    code, out, err = cli(capsys, "compare", *files, "--plot", str(plot))
    assert code == 0, err
    assert "stateful" in out and "stateless" in out and "mean" in out
    assert_png(plot)


def test_reproduce_refuses_a_file_as_its_folder(capsys, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, _, err = cli(capsys, "reproduce", "--repeats", "2", "--epochs", "1", "--out", str(target))
    assert code == 2 and "is a file" in err
    assert target.read_text() == "keep me"
