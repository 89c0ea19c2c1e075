"""`statelab generalise`: the plan (the eleven presets on every series, the batch-12 pair at
the horizon, Shampoo beside them), the statistics across series on tables built so that only
the right rule passes, a series' result independent of the series beside it, and the command
end to end: killed with SIGKILL midway, resumed, equal to an uninterrupted run."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import statelab
from statelab import layout, stats
from statelab.cli import main
from statelab.data import catalog
from statelab.errors import StatelabError
from statelab.execution import processes
from statelab.spec import PRESETS
from statelab.stats import Meta
from statelab.studies import generalise
from test_report import layout_problems, opened

THREE = "m3:N1402,m3:N1403,m3:N1404"


def run_cli(capsys, argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


# --- The plan --------------------------------------------------------------------------------


def test_the_batch_12_pair_runs_at_the_horizon_and_the_rest_as_they_are():
    pair = generalise.at_horizon("stateful_batch12", PRESETS["stateful_batch12"].spec, 18)
    assert (pair.batch_size, pair.train_window, pair.test_rows) == (18, 18, 18)
    other = generalise.at_horizon("stateful", PRESETS["stateful"].spec, 18)
    assert other == PRESETS["stateful"].spec.replace(test_rows=18)
    shampoo = generalise.at_horizon("stateless_batch12", PRESETS["stateless_batch12"].spec, 12)
    assert shampoo == PRESETS["stateless_batch12"].spec  # the study's own, on 12 test rows


def test_plan_runs_every_preset_on_every_series_and_shampoo_beside_them():
    settings = statelab.GeneraliseSettings(
        "m3:N1402,m3:N1403", repeats=3, setup=statelab.Setup(epochs=2), seed=7
    )
    plan, collection = generalise.generalise_plan(settings)
    assert set(plan.series) == {"m3:N1402", "m3:N1403", "shampoo"}
    assert len(plan.tasks) == 3 * 11 and plan.repeats == 3 and plan.seed == 7
    by = {(t.series, t.name): t for t in plan.tasks}
    assert by["m3:N1402", "stateful_batch12"].spec.batch_size == 18
    assert by["shampoo", "stateless_batch12"].spec.batch_size == 12
    assert all(t.spec.epochs == 2 for t in plan.tasks)
    assert collection.members == ("m3:N1402", "m3:N1403")
    assert collection.reference == "shampoo" and collection.margin == 0.01
    assert collection.train_length == {"m3:N1402": 68 - 18, "m3:N1403": 68 - 18}
    assert generalise.horizons(plan, collection.members) == [18]
    assert generalise.horizons(plan, list(plan.series)) == [12, 18]


@pytest.mark.parametrize(
    ("data", "repeats", "margin", "message"),
    [
        ("m3:N1402", 3, 0.01, "holds one series"),
        (THREE, 1, 0.01, "at least 2 repeats"),
        (THREE, 3, 0.0, "--margin must be"),
        (THREE, 3, 1.5, "--margin must be"),
        (THREE, 3, float("nan"), "--margin must be"),
    ],
)
def test_plan_refuses_what_it_cannot_compare(data, repeats, margin, message):
    with pytest.raises(StatelabError, match=message):
        generalise.generalise_plan(
            statelab.GeneraliseSettings(data, repeats=repeats, margin=margin)
        )


def test_sample_is_seeded_in_order_and_checked():
    monthly = catalog.select("m3/monthly")
    first = catalog.sample(monthly, 5, 3)
    again = catalog.sample(monthly, 5, 3)
    other = catalog.sample(monthly, 5, 4)
    names = [str(s.name) for s in first.series]
    assert names == [str(s.name) for s in again.series]
    assert names != [str(s.name) for s in other.series]
    order = [str(s.name) for s in monthly.series]
    positions = [order.index(n) for n in names]
    assert positions == sorted(positions)  # the selection's order is kept
    expected = np.sort(np.random.default_rng(3).choice(len(order), 5, replace=False))
    assert positions == list(expected)  # NumPy's draw, independently made here
    assert first.test_size == (18,) * 5 and len(first.domain) == 5
    for size in (0, len(order) + 1):
        with pytest.raises(StatelabError, match="--sample must be"):
            catalog.sample(monthly, size, 1)


# --- Across series, on tables built for each rule --------------------------------------------


def meta(low: float, high: float) -> Meta:
    return Meta(k=10, pooled=(low + high) / 2, se=(high - low) / 2 / sps.t.ppf(0.975, 9), df=9,
                ci_low=low, ci_high=high, pi_low=low - 1, pi_high=high + 1, tau2=0.1, i2=0.5,
                q=20.0, q_p=0.01)  # fmt: skip


@pytest.mark.parametrize(
    ("expectation", "ci", "identical", "expected"),
    [
        (stats.EXPECTATIONS[0], (-0.2, -0.1), False, "supported"),
        (stats.EXPECTATIONS[0], (0.1, 0.2), False, "contradicted"),
        (stats.EXPECTATIONS[0], (-0.1, 0.1), False, "no detectable difference"),
        # within log(1 -+ 0.01): too small to matter, though the CI excludes 0
        (stats.EXPECTATIONS[0], (-0.009, -0.001), False, "practically equivalent"),
        (stats.EXPECTATIONS[0], (-0.011, -0.001), False, "supported"),  # reaches past the margin
        (stats.EXPECTATIONS[0], (0.0, 0.0), True, "identical"),
        (stats.EXPECTATIONS[2], (-0.2, -0.1), False, "contradicted"),  # "same": any difference
        (stats.EXPECTATIONS[2], (-0.005, 0.005), False, "practically equivalent"),
    ],
)
def test_pooled_verdict(expectation, ci, identical, expected):
    assert stats.pooled_verdict(expectation, meta(*ci), identical, 0.01) == expected


def per_series_table(effects: dict[str, float], lengths: dict[str, int],
                     domains: dict[str, str]) -> pd.DataFrame:  # fmt: skip
    """A per-series table as generalise.per_series makes it, for E1 only being different:
    series s has log ratio effects[s] with SE 0.02 (0.002 for effects under 0.01) and a verdict
    from its sign."""
    rows = []
    for series, effect in effects.items():
        for expectation in stats.EXPECTATIONS:
            value = effect if expectation.key == "E1" else 0.0
            identical = expectation.key != "E1"
            verdict = ("identical" if identical else
                       "supported" if value < 0 else "contradicted")  # fmt: skip
            rows.append({"series": series, "domain": domains[series],
                         "train_length": lengths[series], "expectation": expectation.key,
                         "identical": identical, "log_ratio": value,
                         "log_ratio_se": 0.0 if identical else 0.02 if abs(value) > 0.01 else 0.002,
                         "verdict": verdict})  # fmt: skip
    return pd.DataFrame(rows)


def test_across_series_by_length_and_domain_finds_what_the_data_was_built_to_show():
    """Short series favour A (log ratio -0.1), long ones B (+0.1), the middle third nothing:
    only a grouping by training length that puts each series in its third gets the three
    group verdicts; domains split the series across lengths, so their effects cancel."""
    effects, lengths, domains = {}, {}, {}
    for i in range(9):
        name = f"s{i}"
        lengths[name] = 50 + 10 * i
        effects[name] = (-0.1, -0.1, -0.1, 0.001, -0.001, 0.0005, 0.1, 0.1, 0.1)[i]
        domains[name] = "MICRO" if i % 2 else "MACRO"
    table = per_series_table(effects, lengths, domains)
    result = generalise.across_series(table, margin=0.01)
    e1 = result[result["expectation"] == "E1"].set_index("label")
    assert list(e1["group"]) == ["all", "length", "length", "length", "domain", "domain"]
    assert e1.loc["short (50-70 training values)", "verdict"] == "supported"
    assert e1.loc["medium (80-100 training values)", "verdict"] == "practically equivalent"
    assert e1.loc["long (110-130 training values)", "verdict"] == "contradicted"
    assert e1.loc["all series", "verdict"] == "no detectable difference"
    assert e1.loc["all series", "n_supported"] == 4 and e1.loc["all series", "n_contradicted"] == 5
    sign = stats.sign_test(list(effects.values()))
    assert e1.loc["all series", "sign_p"] == sign.p
    assert (e1.loc["all series", "sign_lower"], e1.loc["all series", "sign_higher"]) == (4, 5)
    short = stats.meta_analysis([-0.1] * 3, [0.02] * 3)
    assert e1.loc["short (50-70 training values)", "meta_pooled"] == pytest.approx(short.pooled)
    assert e1.loc["short (50-70 training values)", "pooled_ratio"] == pytest.approx(math.exp(-0.1))
    e3 = result[(result["expectation"] == "E3") & (result["group"] == "all")].iloc[0]
    assert e3["verdict"] == "identical" and e3["n_identical"] == 9 and e3["meta_zero_se"] == 9


def test_ranking_orders_by_mean_rank_and_counts_who_beats_persistence():
    names = list(PRESETS)
    rows = []
    for s in range(4):
        for k, name in enumerate(names):  # experiment k is k-th best on every series
            relative = 0.8 + 0.05 * k + 0.01 * s
            rows.append({"series": f"s{s}", "experiment": name, "mean_rmse": relative * 10,
                         "mean_relative_rmse": relative})  # fmt: skip
    ranking = generalise.ranking(pd.DataFrame(rows), [f"s{s}" for s in range(4)])
    assert list(ranking.table.index) == names
    assert list(ranking.table["mean_rank"]) == list(range(1, 12))
    # relative RMSE 0.8 + 0.05 k + {0, .01, .02, .03}: median 0.815 + 0.05 k
    assert ranking.table["median_relative_rmse"].to_numpy() == pytest.approx(
        [0.815 + 0.05 * k for k in range(11)]
    )
    # below 1 on all four series up to k = 3, none from k = 4 (1.0 + ...)
    assert list(ranking.table["beats_persistence"]) == [1.0] * 4 + [0.0] * 7
    # Perfect agreement: Friedman's chi-square takes its largest value, n (k - 1) = 4 x 10
    assert ranking.ranks.friedman_stat == pytest.approx(40.0)
    assert ranking.ranks.friedman_p == pytest.approx(sps.chi2.sf(40.0, 10))


# --- Real runs -------------------------------------------------------------------------------

RAW = ["n_a", "n_b", "mean_a", "mean_b", "mean_difference", "ci_low", "ci_high", "welch_p",
       "mann_whitney_p", "wilcoxon_p", "cohens_d", "cliffs_delta", "identical", "primary_p",
       "log_ratio", "log_ratio_se", "margin_rmse", "equivalence_p"]  # fmt: skip


def generalised(data: str) -> generalise.Generalisation:
    """The library call a notebook makes: no folder, nothing written."""
    settings = statelab.GeneraliseSettings(data, repeats=4, setup=statelab.Setup(epochs=4), seed=5)
    return statelab.generalise(settings).result


def test_a_series_result_does_not_depend_on_the_series_beside_it():
    """m3:N1402 beside N1403, and beside N1879 (126 training values against 50, so another
    compiled length, other buckets and lane counts):
    its repeats and every statistic of its own are the same to the bit; only the adjustment
    across series (BH) may differ."""
    one = generalised("m3:N1402,m3:N1403")
    two = generalised("m3:N1402,m3:N1879")
    pick = lambda r: r.per_series[r.per_series["series"] == "m3:N1402"][RAW].reset_index(  # noqa: E731
        drop=True
    )
    pd.testing.assert_frame_equal(pick(one), pick(two), check_exact=True)
    experiments = lambda r: r.experiments[r.experiments["series"] == "m3:N1402"].reset_index(  # noqa: E731
        drop=True
    )
    pd.testing.assert_frame_equal(experiments(one), experiments(two), check_exact=True)


def test_the_statistics_made_in_worker_processes_are_the_bits_made_here(monkeypatch):
    """A collection's per-series tests run in worker processes where each worker gets
    SERIES_PER_WORKER series or more (the full M3 study's 1,428 on 2 cores); here one series
    a worker, on two, against all in this process."""
    workers = []

    def counted(calls, least, cores):
        workers.append(real(calls, least, cores))
        return workers[-1]

    real = processes.workers_for
    monkeypatch.setattr(processes, "workers_for", counted)
    monkeypatch.setattr(processes, "cpu_cores", lambda: 2)
    made = {}
    for label, least in (("here", 10**6), ("workers", 1)):
        monkeypatch.setattr(generalise, "SERIES_PER_WORKER", least)
        made[label] = generalised(THREE).per_series
    assert workers == [1, 2]
    pd.testing.assert_frame_equal(made["here"], made["workers"], check_exact=True)
    floats = made["here"].select_dtypes("float64").columns  # NaN and -0.0 to the bit too
    assert (made["here"][floats].to_numpy().view(np.uint64)
            == made["workers"][floats].to_numpy().view(np.uint64)).all()  # fmt: skip


def cli_argv(out: Path) -> list[str]:
    """Four chunks (three series and Shampoo, one a chunk), each long enough to be stopped."""
    return ["generalise", "--data", THREE, "--repeats", "3", "--epochs", "4000", "--chunk-series", "1",
            "--seed", "3", "--out", str(out), "--quiet"]  # fmt: skip


def stored(out: Path) -> pd.DataFrame:
    connection = sqlite3.connect(out / layout.STORE)
    frame = pd.read_sql("SELECT experiment, series, repeat, rmse, forecasts_scaled, final_loss "
                        "FROM repeats ORDER BY experiment, series, repeat", connection)  # fmt: skip
    connection.close()
    return frame


def test_generalise_killed_midway_resumes_to_an_uninterrupted_runs_results(tmp_path, capsys):
    whole = tmp_path / "whole"
    code, out, err = run_cli(capsys, cli_argv(whole))
    assert code == 0, err
    assert "batch size = training window = the series' test horizon (18 here" in out
    assert "On 3 series of m3:N1402,m3:N1403,m3:N1404 (3 repeats" in out
    for key in ("E1", "E2", "E3", "E4", "E5", "E6"):
        assert f"- {key} " in out
    expected = stored(whole)
    assert len(expected) == 4 * 11 * 3  # three series and Shampoo, every preset, 3 repeats

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "statelab", *cli_argv(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    count = 0
    while time.monotonic() < deadline and process.poll() is None and count == 0:
        if (killed / layout.STORE).exists():
            try:
                with sqlite3.connect(killed / layout.STORE, timeout=5) as connection:
                    count = connection.execute("SELECT COUNT(*) FROM repeats").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be stopped"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    partial = stored(killed)
    assert 0 < len(partial) < len(expected) and len(partial) % (11 * 3) == 0  # whole chunks

    code, out, err = run_cli(capsys, cli_argv(killed))
    assert code == 0, err
    assert f"{len(partial)} already in the store" in out
    resumed = stored(killed)
    assert not resumed.duplicated(["experiment", "series", "repeat"]).any()
    pd.testing.assert_frame_equal(resumed, expected)
    for name in (layout.PER_SERIES, layout.ACROSS, layout.RANKS, layout.EXPERIMENTS,
                 layout.REFERENCE):  # fmt: skip
        assert (killed / name).read_text() == (whole / name).read_text(), name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sample", "0"], "--sample must be"),
        (["--sample", "100000"], "--sample must be"),
        (["--sample-seed", "3"], "--sample-seed applies to a sample"),
        (["--margin", "0"], "--margin must be"),
        (["--margin", "2"], "--margin must be"),
        (["--data", "shampoo"], "holds one series"),
        (["--repeats", "1"], "at least 2 repeats"),
        (["--chunk-series", "0"], "--chunk-series must be"),
        (["--workers", "1", "--cluster", "tcp://127.0.0.1:1"], "not both"),
        (["--data", "m3:N9999"], "N9999"),
    ],
)
def test_bad_input_is_one_line_status_2_and_no_folder(capsys, tmp_path, argv, message):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, ["generalise", "--epochs", "2", "--out", str(out), *argv])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


# --- The report ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generalised")
    for argv in (["generalise", "--data", THREE, "--repeats", "3", "--epochs", "3", "--out",
                  str(out), "--quiet"], ["report", str(out)]):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    return out


def test_the_report_opens_with_a_summary_then_the_forest_plot_and_renders_in_chromium(reported):
    html = (reported / layout.REPORT).read_text()
    assert html.index('id="summary"') < html.index('alt="forest plot') < html.index("<details>")
    assert "batch size = training window = the series&#x27; test horizon" in html
    assert "<script" not in html.lower()
    with opened(reported / layout.REPORT) as (page, messages, requests):
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        first_heading = page.locator("h2").first.inner_text()
        rows = page.locator("#summary tr").count()
        badges = page.locator("#summary .badge").all_inner_texts()
        bars = page.locator("#summary .bar").evaluate_all(
            "bars => bars.map(b => [b.title, Array.from(b.children).map(s => s.textContent)])"
        )
        folded = page.evaluate("Array.from(document.querySelectorAll('details')).map(d => d.open)")
        answers = page.locator("details li").count()
    overall = pd.read_csv(reported / layout.ACROSS).query("group == 'all'")
    assert first_heading == "Across the series"
    assert rows == 7 and badges == list(overall["verdict"])  # E1-E6 under a header
    # Each bar: every count of the row's per-series verdicts, in the order of stats.VERDICTS.
    for (title, counts), (_, row) in zip(bars, overall.iterrows(), strict=True):
        split = [(row[f"n_{v.replace(' ', '_')}"], v) for v in (*stats.VERDICTS, "untested")]
        assert title == ", ".join(f"{n} {v}" for n, v in split if n)
        assert [int(c) for c in counts if c] == [n for n, _ in split if n]  # 3 series: all wide
    assert folded and not any(folded)  # the details are folded away
    assert answers == 7  # E1-E6 and the best rank, in words
    assert len(images) == 4 and all(done and w > 100 and h > 100 for done, w, h in images)
    assert not [m for m in messages if m[0] == "error"], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_the_generalised_page_fits_the_width_and_its_summary_the_first_screen(reported):
    assert layout_problems(reported / layout.REPORT) == []


ACROSS_HEADER = ["expectation", "claim", "group", "label", "series", "n_supported", "n_contradicted",
                 "n_practically_equivalent", "n_no_detectable_difference", "n_identical",
                 "sign_lower", "sign_higher", "sign_p", "pooled_ratio", "meta_ci_low",
                 "meta_ci_high", "meta_pi_low", "meta_pi_high", "meta_tau2", "meta_i2",
                 "verdict"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (layout.GENERALISE_JSON, "{not json", "not JSON"),
        (layout.GENERALISE_JSON, '{"data": 3}', "'data' must be a string"),
        (layout.ACROSS, "a,b\n1,2\n", "lacks column(s)"),
        (layout.ACROSS, ",".join(ACROSS_HEADER) + "\n", "holds no rows"),
        (
            layout.ACROSS,
            ",".join(ACROSS_HEADER) + "\n" + "E1,x,length,short,1" + ",0" * 7 + "," * 9 + "\n",
            "holds no row of group 'all'",
        ),
        (layout.FOREST_PLOT, "not a png", "not a PNG image"),
    ],
)
def test_a_damaged_generalise_folder_is_one_line_naming_the_file_and_the_fix(
    reported, tmp_path, capsys, name, content, message
):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(reported, folder)
    (folder / layout.REPORT).unlink()
    (folder / name).write_text(content)
    code, _, err = run_cli(capsys, ["report", str(folder)])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert name in err and message in err and "statelab generalise --out" in err
    assert not (folder / layout.REPORT).exists()


def test_underflowed_p_values_in_the_generalised_page(reported, tmp_path, capsys):
    import json
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(reported, folder)
    record = json.loads((folder / layout.GENERALISE_JSON).read_text())
    record["friedman"]["p"] = 0.0
    (folder / layout.GENERALISE_JSON).write_text(json.dumps(record))
    across = pd.read_csv(folder / layout.ACROSS)
    tested = across["sign_p"].notna()  # E3's pair is identical on every series: no sign test
    across.loc[tested, "sign_p"] = 0.0
    across.to_csv(folder / layout.ACROSS, index=False)
    code, _, err = run_cli(capsys, ["report", str(folder)])
    assert code == 0, err
    html = (folder / layout.REPORT).read_text()
    assert "Friedman chi-square" in html and "p &lt; 1e-300;" in html and "p = 0;" not in html
    assert html.count("<td>&lt; 1e-300</td>") >= int(tested.sum())


def test_series_of_several_frequencies_are_also_pooled_by_frequency():
    """A table of M3 series of three periods gets a group per frequency with exactly its
    series; one of a single period gets none (its groups are as before)."""
    from statelab.studies.generalise import groups

    names = {"m3:N0001": 1, "m3:N0002": 1, "m3:N0646": 4, "m3:N0647": 4, "m3:N1402": 12,
             "m3:N1403": 12, "m3:N1404": 12}  # fmt: skip
    table = pd.DataFrame({"series": list(names), "domain": "MICRO",
                          "train_length": range(20, 27), "expectation": "E1"})  # fmt: skip
    made = {(kind, label): set(table.loc[rows, "series"]) for kind, label, rows in groups(table)}
    assert made[("frequency", "monthly")] == {"m3:N1402", "m3:N1403", "m3:N1404"}
    assert made[("frequency", "quarterly")] == {"m3:N0646", "m3:N0647"}
    assert made[("frequency", "yearly or other")] == {"m3:N0001", "m3:N0002"}
    monthly = table[table["series"].str.startswith("m3:N14")].reset_index(drop=True)
    assert not [kind for kind, *_ in groups(monthly) if kind == "frequency"]


def test_domains_are_pooled_among_the_series_that_have_one():
    """Tourism records no domain: beside M3 series its series join no domain group, and the
    M3 series are still pooled by domain."""
    from statelab.studies.generalise import groups

    table = pd.DataFrame({"series": ["m3:N1402", "m3:N1403", "m3:N2000", "tourism:M1"],
                          "domain": ["MICRO", "MICRO", "FINANCE", ""],
                          "train_length": [50, 51, 52, 53], "expectation": "E1"})  # fmt: skip
    made = {(kind, label): set(table.loc[rows, "series"]) for kind, label, rows in groups(table)}
    assert made[("domain", "MICRO")] == {"m3:N1402", "m3:N1403"}
    assert made[("domain", "FINANCE")] == {"m3:N2000"}
    assert not [label for kind, label in made if kind == "domain" and label == ""]
