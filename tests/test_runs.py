"""`statelab run` on several series: shared compiled calls through the store, per-series
results, series left out with why, resumed runs, and a series' results independent of the
series beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statelab import layout
from statelab.cli import main

SLICE = "m3:N1402,m3:N2000,m3:N1500"  # 50, 126 and 84 training months: three lengths


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def run(capsys, out, data=SLICE, repeats="2", *extra):
    return cli(capsys, "run", "stateful", "--data", data, "--epochs", "3", "--repeats", repeats,
               "--out", str(out), "--quiet", *extra)  # fmt: skip


def results(out) -> pd.DataFrame:
    return pd.read_csv(out / layout.RUN_RESULTS).sort_values(["series", "repeat"])


def test_a_slice_runs_every_series_and_writes_per_series_results(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path)
    assert code == 0, err
    frame = results(tmp_path)
    assert list(frame.columns) == ["experiment", "series", "seed", "repeat", "rmse",
                                   "relative_rmse", "mase", "failure"]  # fmt: skip
    assert sorted(frame["series"].unique()) == sorted(SLICE.split(","))
    assert len(frame) == 6 and (frame["repeat"].isin([0, 1])).all()
    np.testing.assert_allclose(frame["rmse"] > 0, True)
    assert "3 series: median relative RMSE" in out and "6 run now" in out


def test_a_second_run_resumes_and_more_repeats_run_only_the_new_ones(capsys, tmp_path):
    assert run(capsys, tmp_path / "grown")[0] == 0
    code, out, _ = run(capsys, tmp_path / "grown", SLICE, "3")
    assert code == 0 and "3 run now" in out and "6 already in the store" in out
    assert run(capsys, tmp_path / "fresh", SLICE, "3")[0] == 0
    pd.testing.assert_frame_equal(results(tmp_path / "grown"), results(tmp_path / "fresh"))


def test_a_series_results_do_not_depend_on_the_series_beside_it(capsys, tmp_path):
    assert run(capsys, tmp_path / "all")[0] == 0
    assert run(capsys, tmp_path / "pair", "m3:N1402,m3:N1500")[0] == 0
    together, pair = results(tmp_path / "all"), results(tmp_path / "pair")
    for name in ("m3:N1402", "m3:N1500"):
        a = together[together["series"] == name].reset_index(drop=True)
        b = pair[pair["series"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_a_series_that_cannot_be_used_is_skipped_and_reported(capsys, tmp_path):
    flat = tmp_path / "flat.csv"
    flat.write_text("t,v\n" + "".join(f"{i},5\n" for i in range(40)))
    code, out, err = run(capsys, tmp_path / "out", f"m3:N1402,{flat}")
    assert code == 0, err
    skipped = pd.read_csv(tmp_path / "out" / layout.SKIPPED)
    assert list(skipped["series"]) == [str(flat)]
    assert "constant" in skipped["reason"][0] and f"skipped {flat}:" in out
    assert set(results(tmp_path / "out")["series"]) == {"m3:N1402"}


def test_one_collection_series_runs_in_memory_with_its_horizon(capsys, tmp_path):
    code, out, err = cli(capsys, "run", "stateless", "--data", "m3:N1402", "--epochs", "2",
                         "--repeats", "2", "--out", str(tmp_path / "r.csv"))  # fmt: skip
    assert code == 0, err
    assert "2) Test RMSE:" in out and "Persistence RMSE:" in out
    assert len(pd.read_csv(tmp_path / "r.csv")) == 2


def test_reproduce_refuses_a_slice(capsys, tmp_path):
    code, _, err = cli(capsys, "reproduce", "--data", "m3/monthly", "--out", str(tmp_path))
    assert code == 2 and "the study runs on one" in err


def test_datasets_lists_collections_and_a_slice(capsys):
    code, out, _ = cli(capsys, "datasets")
    assert code == 0 and "1428" in out and "tourism" in out and "shampoo" in out
    code, out, _ = cli(capsys, "datasets", "m3/monthly")
    assert code == 0 and "m3:N1402" in out and len(out.strip().splitlines()) == 1429
