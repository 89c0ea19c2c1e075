"""The command line: parse arguments, call one library function, print, and turn library
errors into one-line messages with exit status 2."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from statelab import defaults
from statelab.errors import Interrupted, StatelabError
from statelab.execution import interrupts

app = typer.Typer(
    help="How the way an LSTM keeps and resets its state changes its forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Repeats = Annotated[int, typer.Option(help="Repeats (independent initial weights) per experiment.")]
Seed = Annotated[int, typer.Option(help="Master seed: repeat k draws from (seed, k).")]
# How --data names series from a file, in the help of every command that takes --data.
NAMES_FILE_HELP = "@FILE: the names in a text file, one a line (blank lines, # comments ignored)"
Data = Annotated[
    str | None,
    typer.Option(
        help="shampoo (default), a collection's series (m3:N1402), a slice (m3/monthly; "
        "`statelab datasets` lists them), a list of any length (m3:N1402,m3:N1403), "
        f"a CSV file, or {NAMES_FILE_HELP}."
    ),
]
TestSize = Annotated[
    int | None,
    typer.Option(help="Test rows (default: the collection's horizon; 12 for Shampoo or a CSV)."),
]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
Chunk = Annotated[
    int | None,
    typer.Option(
        help="Several series: repeat indices per chunk, the unit of work, storage and resume "
        "(default: about 4,096 lanes a chunk)."
    ),
]
Keep = Annotated[
    str | None, typer.Option(help="Also store: weights (trained), loss (curves), or weights,loss.")
]
Workers = Annotated[
    int | None, typer.Option(help="Run chunks on a new local Dask cluster of N processes.")
]
Cluster = Annotated[
    str | None, typer.Option(help="Run chunks on the Dask scheduler at this address.")
]
Margin = Annotated[
    float,
    typer.Option(
        help="Equivalence margin, a share of each series' persistence RMSE (0.01: 1%): a "
        "difference in mean RMSE within it is reported as practically equivalent."
    ),
]
ValueColumn = Annotated[
    str | None, typer.Option(help="The CSV column to forecast (default: first numeric).")
]


def _settings(**given: object) -> dict[str, object]:
    """The settings the user gave; the rest come from the preset or the default spec."""
    return {name: value for name, value in given.items() if value is not None}


@app.command()
def run(
    preset: Annotated[
        str | None, typer.Argument(help="A preset (`statelab presets`); flags override it.")
    ] = None,
    stateful: Annotated[
        bool | None, typer.Option("--stateful/--stateless", help="Carry state between batches.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per batch.")] = None,
    shuffle: Annotated[
        bool | None, typer.Option("--shuffle/--no-shuffle", help="Shuffle rows every epoch.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (study: 1000).")] = None,
    neurons: Annotated[int | None, typer.Option(help="LSTM units.")] = None,
    lags: Annotated[int | None, typer.Option(help="Previous differences used as input.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Adam's learning rate.")] = None,
    train_window: Annotated[
        int | None, typer.Option(help="Train on the last N rows before the test only.")
    ] = None,
    reset_after_epoch: Annotated[
        bool | None,
        typer.Option(
            "--reset-after-epoch/--no-reset-after-epoch", help="Stateful: reset per epoch."
        ),
    ] = None,
    reset_after_prediction: Annotated[
        bool | None,
        typer.Option(
            "--reset-after-prediction/--no-reset-after-prediction",
            help="Stateful: reset after every forecast.",
        ),
    ] = None,
    seed_state: Annotated[
        bool | None,
        typer.Option("--seed-state/--no-seed-state", help="Run the training rows before the test."),
    ] = None,
    forecast: Annotated[
        str | None, typer.Option(help="one-step, or batched (all test rows per batch).")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="keras3 (default) or keras2017 (the study's Keras).")
    ] = None,
    repeats: Repeats = defaults.RUN_REPEATS,
    seed: Seed = 1,
    data: Data = None,
    value_column: ValueColumn = None,
    test_size: TestSize = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="One series: the results CSV (the study's format). Several: the folder for "
            "the store, results.csv and skipped.csv (default: results)."
        ),
    ] = None,
    chunk: Chunk = None,
    keep: Keep = None,
    workers: Workers = None,
    cluster: Cluster = None,
    quiet: Quiet = False,
) -> None:
    """Run one experiment and print each repeat's RMSE, the persistence RMSE and a summary.
    On several series (a slice such as m3/monthly): every series in shared compiled calls,
    through the store (resumable), with per-series RMSE, relative RMSE and MASE."""
    from statelab import commands
    from statelab.execution import pipeline
    from statelab.studies import slice as runs

    settings = _settings(
        stateful=stateful, batch_size=batch_size, shuffle=shuffle, epochs=epochs,
        neurons=neurons, lags=lags, learning_rate=learning_rate, train_window=train_window,
        reset_after_epoch=reset_after_epoch, reset_after_prediction=reset_after_prediction,
        seed_state=seed_state, forecast=forecast, profile=profile,
    )  # fmt: skip
    execution = pipeline.Execution(chunk=chunk, workers=workers, cluster=cluster, keep=keep)
    with _Progress(quiet) as progress:
        ran = commands.run(preset, settings, data, value_column, test_size, repeats, seed, out,
                           execution, progress)  # fmt: skip
    if isinstance(ran, commands.ManySeries):
        for line in runs.summary_lines(ran.outcome.result):
            typer.echo(line)
        _echo_filled(ran.outcome, keep)
        typer.echo(f"wrote {len(ran.outcome.files)} files to {out or defaults.OUT}")
        return
    results = ran.results
    for repeat, error, failure in zip(results.repeats, results.rmse, results.failures, strict=True):
        typer.echo(
            f"{repeat + 1}) Test RMSE: {error:.3f}"
            if not failure
            else f"{repeat + 1}) FAILED: {failure}"
        )
    typer.echo(f"Persistence RMSE: {results.persistence_rmse:.3f}")
    typer.echo(results.summary().to_frame().to_string())
    if ran.written is not None:
        typer.echo(f"wrote {out}")


def _echo_filled(outcome, keep: str | None = None) -> None:
    filled, timings = outcome.filled, outcome.filled.timings
    if keep and filled.run < filled.planned:
        typer.echo(
            f"\nnote: --keep {keep} applies to the repeats run now; the "
            f"{filled.planned - filled.run} already in the store keep what they were stored with"
        )
    typer.echo(
        f"\n{filled.planned} repeats planned: {filled.run} run now in {filled.chunks} chunk(s), "
        f"{filled.planned - filled.run} already in the store; {outcome.fill_s:.2f} s of wall time "
        f"training and storing them (the compiled calls, summed over calls that overlap on the "
        f"cores: compile {timings.compile_s:.2f} s ({timings.cache_hits} from the compilation "
        f"cache), run {timings.run_s:.2f} s), {outcome.outputs_s:.2f} s writing the outputs"
    )


class _Progress:
    """Rich progress bars: chunks of the study, and epochs of the compiled call running in
    this process. Silent with --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.bar = None
        if not quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), "left", TimeRemainingColumn(), transient=True,
                console=Console(stderr=True),
            )  # fmt: skip
        self.chunk_task = self.epoch_task = None
        self.started, self.lanes = time.perf_counter(), 0

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def chunks(self, done: int, total: int, lanes: int, series: int) -> None:
        if self.bar is None:
            return
        if self.chunk_task is None:
            self.chunk_task = self.bar.add_task("chunks", total=total)
        self.lanes += lanes
        rate = self.lanes / max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(
            self.chunk_task, completed=done, total=total,
            description=f"chunks ({series:,} series done, {rate:,.0f} lanes/s)",
        )  # fmt: skip

    def epochs(self, done: int, total: int, lanes: int) -> None:
        if self.bar is None:
            return
        if self.epoch_task is None:
            self.epoch_task = self.bar.add_task("epochs", total=total)
        if done <= self.bar.tasks[self.epoch_task].completed:
            self.bar.reset(self.epoch_task, total=total)
        self.bar.update(self.epoch_task, completed=done, description=f"epochs ({lanes} lanes)")

    def stage(self, label: str, lanes: int, seconds: float) -> None:
        """A line above the bars as each level of --vary is stored."""
        if self.bar is None:
            return
        rate = lanes / max(seconds, 1e-9)
        self.bar.console.print(f"{label}: {lanes:,} repeats in {_duration(seconds)} "
                               f"({rate:,.0f} repeats/s)", highlight=False)  # fmt: skip


@app.command()
def reproduce(
    repeats: Annotated[
        int, typer.Option(help="Repeats per experiment (the study ran 10; see the README).")
    ] = defaults.STUDY_REPEATS,
    seed: Seed = 1,
    pool: Annotated[
        int, typer.Option(help="Repeats of `stateful` behind the standard-error curve.")
    ] = defaults.POOL,
    out: Annotated[
        Path, typer.Option(help="Folder for the store, results files, tables and plots.")
    ] = Path(defaults.OUT),
    epochs: Annotated[int | None, typer.Option(help="Override the study's 1000 epochs.")] = None,
    profile: Annotated[str | None, typer.Option(help="keras3 (default) or keras2017.")] = None,
    data: Data = None,
    value_column: ValueColumn = None,
    test_size: TestSize = None,
    chunk: Annotated[
        int, typer.Option(help="Repeat indices per chunk: the unit of work, storage and resume.")
    ] = defaults.CHUNK,
    keep: Keep = None,
    workers: Workers = None,
    cluster: Cluster = None,
    margin: Margin = defaults.MARGIN,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="FACTOR=LEVELS: run the study at each level of epochs, neurons, lags, "
            "learning-rate or profile (e.g. epochs=100,300,1000), the other factors at the "
            "study's set-up, without the pool. Repeatable: one factor at a time, or crossed "
            "with --grid."
        ),
    ] = None,
    grid: Annotated[
        bool, typer.Option("--grid", help="With --vary: every combination of the levels.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the networks to train and a rough time; run nothing."
        ),
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Run all eleven experiments into the store (resuming whatever an earlier run left),
    then write experiment_NAME.csv files, the four comparison tables and box plots, the
    verdicts on E1-E6, the standard-error curve, the series and the forecast plots. With
    --vary, the study at each level of its set-up and the effects across the levels."""
    from statelab import api
    from statelab.execution import pipeline
    from statelab.outputs import study as outputs
    from statelab.spec import Setup
    from statelab.studies import study

    settings = study.StudySettings(
        data=data, value_column=value_column, test_size=test_size, repeats=repeats, pool=pool,
        seed=seed, margin=margin, setup=Setup(epochs=epochs, profile=profile),
    )  # fmt: skip
    execution = pipeline.Execution(chunk=chunk, workers=workers, cluster=cluster, keep=keep)
    if grid and not vary:
        raise StatelabError("--grid crosses the --vary factors: give --vary twice or more")
    if vary and pool != defaults.POOL:
        raise StatelabError("--pool applies to one set-up (its standard-error curve); --vary "
                            "runs no pool: leave --pool out")  # fmt: skip
    if vary:
        _vary_study(settings, vary, grid, dry_run, out, execution, quiet)
        return
    if dry_run:
        _echo_estimate(api.estimate(settings, execution))
        return
    with _Progress(quiet) as progress:
        outcome = api.reproduce(settings, out=out, execution=execution, progress=progress)
    reproduction = outcome.result
    for comparison in study.COMPARISONS:
        typer.echo(f"\n{comparison.title}")
        typer.echo(reproduction.tables[comparison.key].to_string())
    results = reproduction.results
    typer.echo(f"\nPersistence RMSE: {reproduction.persistence_rmse:.3f}")
    repeats_each = len(next(iter(results.values())).repeats)
    typer.echo(
        f"\nThe study's expectations ({repeats_each} repeats each, Holm-corrected; a "
        f"difference within {margin:.3g} x the persistence RMSE is practically equivalent):"
    )
    typer.echo(outputs.format_verdicts(reproduction.verdicts))
    failed = sum(int(r.failed.sum()) for r in results.values())
    if failed:
        typer.echo(f"\n{failed} repeat(s) diverged: stored as failed, counted, not averaged in")
    _echo_filled(outcome, keep)
    typer.echo(f"wrote {len(outcome.files)} files to {out}")


@app.command()
def generalise(
    context: typer.Context,
    data: Annotated[
        str | None,
        typer.Option(
            help=f"The series (default {defaults.GENERALISE_DATA}): a slice, a collection, a "
            "list of series of any length, or CSV files in a list (`statelab datasets`); "
            f"or {NAMES_FILE_HELP}."
        ),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(help="Run on N series drawn at random from --data.")
    ] = None,
    sample_seed: Annotated[
        int | None, typer.Option(help="The seed of the --sample draw (default 1).")
    ] = None,
    repeats: Annotated[
        int, typer.Option(help="Repeats per experiment and series.")
    ] = defaults.GENERALISE_REPEATS,
    seed: Seed = 1,
    margin: Margin = defaults.MARGIN,
    out: Annotated[
        Path, typer.Option(help="Folder for the store, tables, figures and generalise.json.")
    ] = Path("generalised"),
    epochs: Annotated[int | None, typer.Option(help="Override the study's 1000 epochs.")] = None,
    profile: Annotated[str | None, typer.Option(help="keras3 (default) or keras2017.")] = None,
    value_column: ValueColumn = None,
    chunk_series: Annotated[
        int | None,
        typer.Option(
            help="Series per chunk (every repeat of every experiment on them): the unit of "
            "work, storage and resume (default: about 4,096 lanes a chunk)."
        ),
    ] = None,
    workers: Workers = None,
    cluster: Cluster = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="FACTOR=LEVELS: run the study at each level of epochs, neurons, lags, "
            "learning-rate or profile (e.g. epochs=100,300,1000), the other factors at the "
            "study's set-up. Repeatable: one factor at a time, or crossed with --grid."
        ),
    ] = None,
    grid: Annotated[
        bool, typer.Option("--grid", help="With --vary: every combination of the levels.")
    ] = False,
    moderators: Annotated[
        bool,
        typer.Option(
            "--moderators",
            help="Also ask which series state helps: regress each expectation's per-series "
            "log ratios on the series' features (moderators.csv, moderators.json).",
        ),
    ] = False,
    advice_model: Annotated[
        Path | None,
        typer.Option(
            help="With --moderators: also write the advice model `statelab advise` reads (the "
            "meta-regressions fitted on every series, with this command) to this file."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the networks to train and a rough time; run nothing."
        ),
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Does the study generalise? Run the eleven experiments on every series of a collection
    (and on Shampoo, for reference) into the store, resuming whatever an earlier run left;
    test E1-E6 on each series and across them (meta-analysis), rank the experiments, and
    write the tables and figures (`statelab report FOLDER` makes the HTML report)."""
    from statelab import api
    from statelab.execution import pipeline
    from statelab.spec import Setup
    from statelab.studies.generalise import GeneraliseSettings

    settings = GeneraliseSettings(
        data=data, value_column=value_column, sample=sample, sample_seed=sample_seed,
        repeats=repeats, seed=seed, margin=margin, setup=Setup(epochs=epochs, profile=profile),
    )  # fmt: skip
    execution = pipeline.Execution(series=chunk_series, workers=workers, cluster=cluster)
    if grid and not vary:
        raise StatelabError("--grid crosses the --vary factors: give --vary twice or more")
    if moderators and vary:
        raise StatelabError("--moderators applies to one set-up: drop --vary, or run the two "
                            "separately")  # fmt: skip
    if advice_model is not None and not moderators:
        raise StatelabError("--advice-model is fitted on the moderators: give --moderators too")
    if vary:
        _vary(settings, vary, grid, dry_run, out, execution, quiet)
        return
    if dry_run:
        _echo_estimate(api.estimate(settings, execution))
        return
    run = api.moderators if moderators else api.generalise
    if advice_model is not None:
        run = partial(api.advice_model, model=advice_model, command=_command_line(context))
    with _Progress(quiet) as progress:
        outcome = run(settings, out=out, execution=execution, progress=progress)
    result = outcome.result.generalisation if moderators else outcome.result
    typer.echo(result.horizon_note)
    typer.echo("")
    for line in result.answer:
        typer.echo(line)
    if moderators:
        typer.echo("\nWhich series does state help? (moderators.csv, moderators.json)")
        for line in outcome.result.moderators.answer:
            typer.echo(f"- {line}")
    if result.skipped:
        typer.echo(f"\n{len(result.skipped)} series skipped (see skipped.csv), first: "
                   f"{result.skipped[0].series}: {result.skipped[0].reason}")  # fmt: skip
    _echo_filled(outcome)
    typer.echo(f"wrote {len(outcome.files)} files to {out}; `statelab report {out}` makes the "
               "HTML report")  # fmt: skip
    if advice_model is not None:
        typer.echo(f"wrote the advice model to {advice_model}")


def _command_line(context: typer.Context) -> str:
    """The command being run, as a command line: its options that differ from their defaults,
    in the order of its help (what remakes the advice model)."""
    import shlex

    parts = ["statelab", str(context.info_name)]
    for parameter in context.command.params:
        value = context.params.get(parameter.name)
        if value is None or value == parameter.default or value in ([], ()):
            continue
        if getattr(parameter, "is_flag", False):
            parts.append(parameter.opts[0])
            continue
        for one in value if isinstance(value, list | tuple) else [value]:
            parts += [parameter.opts[0], str(one)]
    return shlex.join(parts)


def _run_vary(run, base, options: list[str], grid: bool, dry_run: bool, out: Path, execution,
              quiet: bool):  # fmt: skip
    """The settings of `--vary` (the study ``base`` at each level of ``options``), then either
    the dry-run's estimate (None) or the outcome of ``run`` (api.vary, api.reproduce_vary)."""
    from statelab import api
    from statelab.studies import setup

    settings = setup.VarySettings(base, setup.factors_from_options(options), grid)
    if dry_run:
        _echo_estimate(api.estimate(settings, execution))
        return None
    with _Progress(quiet) as progress:
        return run(settings, out=out, execution=execution, progress=progress)


def _vary(base, options: list[str], grid: bool, dry_run: bool, out: Path, execution,
          quiet: bool) -> None:  # fmt: skip
    """`generalise --vary`: the study at each level, across levels, and the files."""
    from statelab import api, layout

    outcome = _run_vary(api.vary, base, options, grid, dry_run, out, execution, quiet)
    if outcome is None:
        return
    result = outcome.result
    typer.echo(result.at_level[0].horizon_note)
    typer.echo("")
    for line in result.answer:
        typer.echo(line)
    if result.skipped:
        level, first = result.skipped[0]
        typer.echo(f"\n{len(result.skipped)} series skipped at some level (see "
                   f"{layout.VARY_SKIPPED}), first: {level}: {first.series}: "
                   f"{first.reason}")  # fmt: skip
    _echo_filled(outcome)
    typer.echo(f"wrote {len(outcome.files)} files to {out}")


def _vary_study(base, options: list[str], grid: bool, dry_run: bool, out: Path, execution,
                quiet: bool) -> None:  # fmt: skip
    """`reproduce --vary`: the study on one series at each level, across levels, the files."""
    from statelab import api, layout

    outcome = _run_vary(api.reproduce_vary, base, options, grid, dry_run, out, execution, quiet)
    if outcome is None:
        return
    result = outcome.result
    repeats = result.at_level[0].settings.repeats
    typer.echo(f"The study on {result.series} at each level ({repeats} repeats each, Holm "
               "across the six at each level; trends Holm across factors and expectations):")  # fmt: skip
    for line in result.answer:
        typer.echo(line)
    for level, skip in result.skipped:
        typer.echo(f"\nskipped --vary {level} (see {layout.VARY_STUDY_SKIPPED}): {skip.reason}")
    _echo_filled(outcome, execution.keep)
    typer.echo(f"wrote {len(outcome.files)} files to {out}")


def _echo_estimate(found) -> None:
    where = "this machine's CPU" if found.device == "cpu" else (
        f"this machine's {found.device.upper()} by a cost model fitted to one H200's figures "
        "(unmeasured)")  # fmt: skip
    typer.echo(
        f"{found.repeats:,} repeats to run, {found.networks:,} networks to train ({found.series} "
        f"series, {found.programs} compiled programs; experiments that differ only in how they "
        f"forecast share a network); roughly {_duration(found.seconds)} on {where}, less for "
        "any the store or the compilation cache already holds. Nothing was run."
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@app.command()
def advise(
    data: Annotated[
        str | None,
        typer.Option(
            help="One series: a collection's (m3:N1402), a CSV file, or shampoo (default)."
        ),
    ] = None,
    run: Annotated[
        bool,
        typer.Option(
            "--run",
            help="Also run the study on the series (at the model's set-up) and show what it "
            "measures beside what is predicted.",
        ),
    ] = False,
    value_column: ValueColumn = None,
    test_size: TestSize = None,
    frequency: Annotated[
        int | None,
        typer.Option(
            help="The seasonal period (12 monthly, 4 quarterly, 1 yearly; default: the "
            "collection's, or what a CSV's dates imply)."
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="The advice model's file (default: the one statelab ships)."),
    ] = None,
    repeats: Annotated[
        int, typer.Option(help="With --run: repeats per experiment.")
    ] = defaults.GENERALISE_REPEATS,
    seed: Seed = 1,
    quiet: Quiet = False,
) -> None:
    """What to expect on your series: from its features, the effect of each of the study's
    six choices of state on its RMSE as a model fitted on the collections predicts it, with
    a 95% prediction interval; with --run, measured on the series too."""
    from statelab import api
    from statelab.studies.advice import AdviseSettings

    settings = AdviseSettings(data=data, value_column=value_column, test_size=test_size,
                              frequency=frequency, model=model, run=run, repeats=repeats,
                              seed=seed)  # fmt: skip
    with _Progress(quiet or not run) as progress:
        advice = api.advise(settings, progress=progress)
    known = advice.model
    typer.echo(f"Advice for {advice.series} (frequency {advice.frequency}), from the model "
               f"fitted on {known.series:,} series ({known.data}; {known.repeats} repeats, "
               f"statelab {known.statelab}, engine revision {known.engine_revision}).")  # fmt: skip
    typer.echo(f"It applies to the study's networks at {advice.setup}.")
    for warning in advice.warnings:
        typer.echo(f"warning: {warning}")
    typer.echo("")
    for line in advice.lines:
        typer.echo(f"- {line}")


@app.command()
def compare(
    files: Annotated[list[Path], typer.Argument(help="Results CSVs (a 'results' column each).")],
    plot: Annotated[Path, typer.Option(help="Where to draw the box plot (PNG).")] = Path(
        "compare.png"
    ),
    paired: Annotated[
        bool,
        typer.Option(
            "--paired/--unpaired",
            help="Row k of every file came from the same initial weights (statelab reproduce).",
        ),
    ] = False,
) -> None:
    """The study's comparison script: the describe table and a box plot of results files,
    then every pair tested (Welch, Mann-Whitney, paired Wilcoxon with --paired; Holm)."""
    from statelab.outputs import compare as compare_module

    typer.echo(compare_module.format_compared(compare_module.compare(files, plot, paired)))


@app.command()
def report(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by `statelab reproduce` or `generalise`.")
    ] = Path("results"),
    out: Annotated[
        Path | None, typer.Option(help="The HTML file (default: FOLDER/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML report of a reproduced study or of a generalisation
    across series (figures embedded, no network)."""
    from statelab.files import shown
    from statelab.report.write import write

    typer.echo(f"wrote {shown(write(folder, out))}")


@app.command()
def datasets(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A collection or slice (m3, m3/monthly) to list, or any --data (a list, @FILE)."
        ),
    ] = None,
) -> None:
    """List the built-in data: each collection and period with its number of series, range
    of training lengths and test horizon; or, given a slice, its series."""
    from statelab.data import catalog

    if name is None:
        typer.echo(catalog.collections().to_string(index=False))
        typer.echo(f"\nshampoo: Shampoo Sales, 36 months, test {catalog.SHAMPOO_TEST_SIZE}")
        return
    typer.echo(catalog.listing(name).to_string(index=False))


@app.command()
def presets() -> None:
    """List the study's eleven experiments, one line each."""
    from statelab.spec import PRESETS

    width = max(map(len, PRESETS))
    for preset in PRESETS.values():
        label = "" if preset.label == preset.name else f" [{preset.label}]"
        typer.echo(f"{preset.name:<{width}}  {preset.description}{label}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage and library errors become one line on stderr and exit status 2."""
    try:  # Typer >= 0.20 vendors Click; older releases use Click itself
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # pragma: no cover
        from click.exceptions import NoArgsIsHelpError, UsageError

    interrupts.PRESSED.clear()
    try:
        code = app(args=argv, standalone_mode=False)
        if interrupts.PRESSED.is_set():  # a Ctrl-C that Python swallowed on the way
            raise KeyboardInterrupt
    except StatelabError as error:
        typer.echo(f"statelab: error: {error}", err=True)
        sys.exit(2)
    except NoArgsIsHelpError:
        sys.exit(2)  # the help has been printed
    except UsageError as error:
        message = " ".join(error.format_message().split())
        typer.echo(f"statelab: error: {message} (see --help)", err=True)
        sys.exit(2)
    except Interrupted as interrupted:
        typer.echo(
            f"statelab: interrupted; {interrupted.stored} repeats are stored, "
            "run the same command to resume",
            err=True,
        )
        sys.exit(130)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("statelab: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> None:
    """The installed command: :func:`main`, then out of the process at once. Everything
    statelab opened is closed and flushed by then; the interpreter's own teardown (JAX's
    backends and thread pools, matplotlib, SciPy) would add a few tenths of a second to
    every command, as long as a whole study at the study's own size takes to train."""
    import contextlib
    import os

    code = 0
    interrupts.install()
    try:
        main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except KeyboardInterrupt:  # between main's own handlers (its imports, say)
        print("statelab: interrupted", file=sys.stderr)
        code = 130
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)
