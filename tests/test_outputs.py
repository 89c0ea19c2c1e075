"""A reproduced study's files (statelab.outputs.study): the describe table with its ``failed``
row, column labels, the verdict lines, study.json's provenance, and write_study writing
exactly the files statelab.layout names, each agreeing with the Reproduction it writes."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab import layout
from statelab.outputs.study import file_names, format_verdicts, provenance, write_study
from statelab.spec import PRESETS
from statelab.studies import study
from statelab.studies.study import COMPARISONS, describe, label

REPEATS, POOL = 3, 5
REASON = "training loss not finite from epoch 2"
PNG = b"\x89PNG\r\n\x1a\n"
# the store and its SQLite companions (and the lock file, in versions that make one)
STORE_FILES = {layout.STORE, f"{layout.STORE}-wal", f"{layout.STORE}-shm", ".statelab.lock"}


def expected_files() -> set[str]:
    names = {layout.experiment_csv(name) for name in PRESETS}
    for comparison in COMPARISONS:
        key = comparison.key
        names |= {layout.table_csv(key), layout.table_txt(key), layout.box_plot(key)}
    return names | {
        layout.VERDICTS, layout.SE_CURVE, layout.POWER, layout.SERIES_PLOT,
        layout.FORECASTS_PLOT, layout.SE_CURVE_PLOT, layout.STUDY_JSON,
    }  # fmt: skip


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    settings = statelab.StudySettings(
        repeats=REPEATS, pool=POOL, setup=statelab.Setup(epochs=3), seed=1
    )
    outcome = statelab.reproduce(settings, out=out)
    assert isinstance(outcome.result, study.Reproduction)
    return out, outcome


def comparison(key: str) -> study.Comparison:
    return next(c for c in COMPARISONS if c.key == key)


def test_describe_counts_failed_repeats_apart():
    table = describe({"a": [10.0, np.nan, 30.0], "b": [1.0, 2.0, 3.0, 6.0]})
    assert list(table.columns) == ["a", "b"]
    assert list(table.index) == ["count", "mean", "std", "min", "25%", "50%", "75%", "max",
                                 "failed"]  # fmt: skip
    assert table.loc["count", "a"] == 2 and table.loc["failed", "a"] == 1
    assert table.loc["mean", "a"] == 20.0  # the NaN is not averaged in
    assert table.loc["count", "b"] == 4 and table.loc["failed", "b"] == 0
    assert table.loc["mean", "b"] == 3.0 and table.loc["max", "b"] == 6.0


def test_label_uses_the_study_names_in_the_resets_comparison_only():
    resets = comparison("resets")
    assert [label(n, resets) for n in resets.experiments] == [
        "noseed_1", "noseed_2", "noseed_3", "seed_1", "seed_2", "seed_3",
    ]  # fmt: skip
    assert label("stateful", comparison("a_vs_a")) == "stateful"
    assert label("stateful", comparison("stateful_vs_stateless")) == "stateful"
    assert label("stateless_batch12", comparison("batch12")) == "stateless_batch12"


def verdict_row(claim, verdict, explanation="", **numbers):
    row = dict.fromkeys(
        ("mean_difference", "ci_low", "ci_high", "wilcoxon_p", "welch_p", "mann_whitney_p",
         "holm_p", "cohens_d", "cliffs_delta"),
        float("nan"),
    )  # fmt: skip
    row.update(numbers)
    return {"claim": claim, "verdict": verdict, "explanation": explanation, **row}


def test_format_verdicts_writes_one_line_per_expectation():
    # E1 as README.md prints it; an identical pair; a pair with too few repeats to test.
    verdicts = pd.DataFrame(
        [
            verdict_row(
                "stateful beats stateless",
                "contradicted",
                mean_difference=5.98,
                ci_low=5.19,
                ci_high=7.04,
                wilcoxon_p=2.1e-50,
                welch_p=1.9e-34,
                mann_whitney_p=1.5e-63,
                holm_p=8.3e-50,
                cohens_d=0.84,
                cliffs_delta=0.61,
            ),
            verdict_row("same at batch 12", "identical", ci_low=float("nan")),
            verdict_row(
                "resetting helps",
                "no detectable difference",
                explanation="too few finished repeats to test (1 of a, 1 of b)",
            ),
            verdict_row(
                "seeding helps",
                "supported",
                mean_difference=-1.584,
                ci_low=-2.061,
                ci_high=-1.25,
                wilcoxon_p=0.0004,
                welch_p=0.5,
                mann_whitney_p=0.123456,
                holm_p=0.0012,
                cohens_d=-0.19,
                cliffs_delta=-0.094,
            ),
        ],  # fmt: skip
        index=pd.Index(["E1", "E3", "E4", "E5"], name="expectation"),
    )
    assert format_verdicts(verdicts).split("\n") == [
        "E1 stateful beats stateless: CONTRADICTED (diff +5.98 [+5.19, +7.04], Wilcoxon "
        "p=2.1e-50, Welch p=1.9e-34, Mann-Whitney p=1.5e-63, Holm p=8.3e-50, d=+0.84, "
        "Cliff's delta=+0.61)",
        "E3 same at batch 12: IDENTICAL (identical repeat by repeat; no test run)",
        "E4 resetting helps: NO DETECTABLE DIFFERENCE (too few finished repeats to test "
        "(1 of a, 1 of b))",
        "E5 seeding helps: SUPPORTED (diff -1.58 [-2.06, -1.25], Wilcoxon p=0.0004, Welch "
        "p=0.5, Mann-Whitney p=0.12, Holm p=0.0012, d=-0.19, Cliff's delta=-0.09)",
    ]


def test_write_study_writes_exactly_the_files_layout_names(outcome):
    out, done = outcome
    written = [path.name for path in done.files]
    assert len(written) == len(set(written))  # each once
    assert set(written) == expected_files()
    # the names execute() checks before any work starts are the ones written
    assert sorted(file_names(list(PRESETS))) == sorted(written)
    assert all(path.parent == out for path in done.files)
    # the files live in the set's folder, each name a link to it; nothing else in the folder
    # but the store (no temporaries left behind)
    live = os.readlink(out / layout.OUTPUTS)
    assert set(os.listdir(out / live)) == expected_files()
    assert all(os.readlink(out / name) == f"{layout.OUTPUTS}/{name}" for name in written)
    assert {p.name for p in out.iterdir()} - STORE_FILES == {
        *expected_files(), layout.OUTPUTS, live
    }  # fmt: skip
    assert layout.REPORT not in written  # that is `statelab report`'s


def test_experiment_files_hold_the_study_repeats_only(outcome):
    out, done = outcome
    for name, result in done.result.results.items():
        frame = pd.read_csv(out / layout.experiment_csv(name))
        assert list(frame.columns) == ["results"]
        assert len(frame) == REPEATS  # the pool experiment ran 5, its file holds 3
        np.testing.assert_array_equal(frame["results"].to_numpy(), result.rmse, err_msg=name)
    assert len(done.result.pool) == POOL


def test_tables_agree_with_the_returned_reproduction_and_the_rmses(outcome):
    out, done = outcome
    results = done.result.results
    for c in COMPARISONS:
        table = done.result.tables[c.key]
        assert list(table.columns) == [label(n, c) for n in c.experiments]
        read = pd.read_csv(out / layout.table_csv(c.key), index_col=0)
        pd.testing.assert_frame_equal(read, table, check_exact=True, check_names=False)
        assert (out / layout.table_txt(c.key)).read_text() == table.to_string() + "\n"
        for name in c.experiments:
            column = table[label(name, c)]
            rmse = results[name].rmse
            assert column["count"] == REPEATS and column["failed"] == 0
            assert math.isclose(column["mean"], float(np.mean(rmse)), rel_tol=1e-12)
            assert column["min"] == rmse.min() and column["max"] == rmse.max()


def test_verdicts_se_curve_and_power_files_agree_with_the_reproduction(outcome):
    out, done = outcome
    verdicts = pd.read_csv(out / layout.VERDICTS, index_col=0)
    assert list(verdicts.index) == ["E1", "E2", "E3", "E4", "E5", "E6"]
    pd.testing.assert_frame_equal(
        verdicts, done.result.verdicts, check_dtype=False, check_names=False
    )
    assert verdicts.loc["E3", "verdict"] == "identical"  # the batch-12 pair, repeat by repeat
    lines = format_verdicts(done.result.verdicts).split("\n")
    assert [line.split(" ")[0] for line in lines] == list(verdicts.index)
    for name, frame in ((layout.SE_CURVE, done.result.se_curve),
                        (layout.POWER, done.result.power)):  # fmt: skip
        pd.testing.assert_frame_equal(
            pd.read_csv(out / name, index_col=0), frame, check_dtype=False, check_names=False
        )
    assert done.result.se_curve["repeats"].tolist() == [POOL]


def test_figures_are_pngs(outcome):
    out, done = outcome
    for path in done.files:
        if path.suffix == ".png":
            data = path.read_bytes()
            assert data.startswith(PNG) and len(data) > 5_000, path.name


def test_study_json_is_the_provenance_of_the_returned_study(outcome):
    out, done = outcome
    written = json.loads((out / layout.STUDY_JSON).read_text())
    assert written == json.loads(json.dumps(provenance(done.result)))
    assert set(written) == {"seed", "repeats", "pool", "versions", "device", "persistence_rmse",
                            "margin", "series", "experiments"}  # fmt: skip
    assert written["margin"] == 0.01
    assert written["seed"] == 1 and written["repeats"] == REPEATS
    assert written["pool"] == {"experiment": "stateful", "repeats": POOL}
    assert round(written["persistence_rmse"], 3) == 136.761
    assert written["series"]["values"] == statelab.shampoo().to_list()
    assert written["series"]["index"][0] == "1901-01" and len(written["series"]["index"]) == 36
    assert written["series"]["name"] == "shampoo"
    assert written["versions"] == dict(statelab.execution.results.versions())
    assert list(written["experiments"]) == list(PRESETS)
    for name, entry in written["experiments"].items():
        result = done.result.results[name]
        assert set(entry) == {"settings", "settings_hash", "seed_stream", "failed", "versions",
                              "devices", "timings"}  # fmt: skip
        assert entry["settings"] == result.spec.to_dict() and entry["settings"]["epochs"] == 3
        assert entry["settings_hash"] == result.spec.digest()
        assert entry["failed"] == 0
        assert set(entry["timings"]) == {"compile_s", "run_s", "cache_hits"}
    assert written["experiments"]["stateful2"]["seed_stream"] == 1
    assert written["experiments"]["stateful"]["seed_stream"] == 0


def test_a_failed_repeat_is_an_empty_cell_and_counted_in_every_output(outcome, tmp_path):
    _, done = outcome
    reproduction = done.result
    results = dict(reproduction.results)
    stateless = results["stateless"]
    results["stateless"] = dataclasses.replace(
        stateless, failures=np.array(["", REASON, ""], dtype=object)
    )
    reproduction = study.analyse(reproduction.series, results, reproduction.pool,
                                 reproduction.settings)  # fmt: skip
    files = write_study(reproduction, tmp_path)
    assert {p.name for p in files} == expected_files()
    with open(tmp_path / layout.experiment_csv("stateless")) as handle:
        cells = list(csv.reader(handle))
    assert cells[0] == ["results"] and cells[2] == [""] and len(cells) == 1 + REPEATS
    assert float(cells[1][0]) == stateless.rmse[0] and float(cells[3][0]) == stateless.rmse[2]
    table = reproduction.tables["stateful_vs_stateless"]
    assert table.loc["failed", "stateless"] == 1 and table.loc["count", "stateless"] == 2
    assert math.isclose(
        table.loc["mean", "stateless"], (stateless.rmse[0] + stateless.rmse[2]) / 2, rel_tol=1e-12
    )
    assert table.loc["failed", "stateful"] == 0
    read = pd.read_csv(tmp_path / layout.table_csv("stateful_vs_stateless"), index_col=0)
    assert read.loc["failed", "stateless"] == 1
    written = json.loads((tmp_path / layout.STUDY_JSON).read_text())
    assert written["experiments"]["stateless"]["failed"] == 1
    assert written["experiments"]["stateful"]["failed"] == 0
    assert reproduction.verdicts.loc["E1", "n_b"] == 2  # stateless: 2 finished repeats


def test_an_underflowed_p_value_reads_below_1e_300_never_zero(outcome):
    _, done = outcome
    verdicts = done.result.verdicts.copy()
    verdicts["verdict"] = "supported"
    verdicts[["wilcoxon_p", "welch_p", "mann_whitney_p", "holm_p"]] = [0.0, 0.0, 3e-7, 0.0]
    lines = format_verdicts(verdicts).split("\n")
    assert (
        "Wilcoxon p < 1e-300, Welch p < 1e-300, Mann-Whitney p=3e-07, Holm p < 1e-300" in lines[0]
    )
    assert "p=0," not in format_verdicts(verdicts)
