"""The command line: parse arguments, call one library function, print, and turn library
errors into one-line messages with exit status 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from statelab.errors import StatelabError

app = typer.Typer(
    help="How the way an LSTM keeps and resets its state changes its forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Repeats = Annotated[int, typer.Option(help="Repeats (independent initial weights) per experiment.")]
Seed = Annotated[int, typer.Option(help="Master seed: repeat k draws from (seed, k).")]
Data = Annotated[
    Path | None, typer.Option(help="A CSV file: dates in the first column, values after.")
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
    repeats: Repeats = 10,
    seed: Seed = 1,
    data: Data = None,
    value_column: ValueColumn = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the results CSV (the study's format) here.")
    ] = None,
) -> None:
    """Run one experiment and print each repeat's RMSE, the persistence RMSE and a summary."""
    import statelab
    from statelab.files import write_atomic

    settings = _settings(
        stateful=stateful, batch_size=batch_size, shuffle=shuffle, epochs=epochs,
        neurons=neurons, lags=lags, learning_rate=learning_rate, train_window=train_window,
        reset_after_epoch=reset_after_epoch, reset_after_prediction=reset_after_prediction,
        seed_state=seed_state, forecast=forecast, profile=profile,
    )  # fmt: skip
    if out is not None and not out.parent.is_dir():
        raise StatelabError(f"cannot write {out}: folder {out.parent} does not exist")
    if out is not None and out.is_dir():
        raise StatelabError(f"cannot write {out}: it is a folder; give a file name")
    results = statelab.run(
        preset, data=data, repeats=repeats, seed=seed, value_column=value_column, **settings
    )
    for repeat, error, failure in zip(results.repeats, results.rmse, results.failures, strict=True):
        typer.echo(
            f"{repeat + 1}) Test RMSE: {error:.3f}"
            if not failure
            else f"{repeat + 1}) FAILED: {failure}"
        )
    typer.echo(f"Persistence RMSE: {results.persistence_rmse:.3f}")
    typer.echo(results.summary().to_frame().to_string())
    if out is not None:
        write_atomic(out, lambda path: results.study_csv().to_csv(path, index=False))
        typer.echo(f"wrote {out}")


class _Progress:
    """Rich progress bars: chunks of the study, and epochs within the running chunk.
    Silent with --quiet."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.bar = None if quiet else Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), transient=True, console=Console(stderr=True),
        )  # fmt: skip
        self.chunks = self.epochs = None

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def chunk(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.chunks is None:
            self.chunks = self.bar.add_task("chunks of repeats", total=total)
        self.bar.update(self.chunks, completed=done, total=total)

    def __call__(self, done: int, total: int, lanes: int) -> None:
        """Epochs of the compiled call now running (in this process)."""
        if self.bar is None:
            return
        if self.epochs is None:
            self.epochs = self.bar.add_task("epochs", total=total)
        if done <= self.bar.tasks[self.epochs].completed:
            self.bar.reset(self.epochs, total=total)
        self.bar.update(self.epochs, completed=done, description=f"epochs ({lanes} lanes)")


@app.command()
def reproduce(
    repeats: Annotated[
        int, typer.Option(help="Repeats per experiment (the study ran 10; see the README).")
    ] = 500,
    seed: Seed = 1,
    pool: Annotated[
        int, typer.Option(help="Repeats of `stateful` behind the standard-error curve.")
    ] = 1000,
    out: Annotated[
        Path, typer.Option(help="Folder for the store, results files, tables and plots.")
    ] = Path("results"),
    epochs: Annotated[int | None, typer.Option(help="Override the study's 1000 epochs.")] = None,
    profile: Annotated[str | None, typer.Option(help="keras3 (default) or keras2017.")] = None,
    data: Data = None,
    value_column: ValueColumn = None,
    chunk: Annotated[
        int, typer.Option(help="Repeats per chunk: the unit of work, storage and resume.")
    ] = 100,
    workers: Annotated[
        int | None, typer.Option(help="Run chunks on a new local Dask cluster of N processes.")
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Run chunks on the Dask scheduler at this address.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Run all eleven experiments into the store (resuming whatever an earlier run left),
    then write experiment_NAME.csv files, the four comparison tables and box plots, the
    verdicts on E1-E6, the standard-error curve, the series and the forecast plots."""
    import statelab
    from statelab import outputs, study
    from statelab.cluster import dask_client
    from statelab.spec import check_seed
    from statelab.store import Store

    if out.exists() and not out.is_dir():
        raise StatelabError(f"--out {out} is a file; give a folder")
    series = statelab.load_series(data, value_column)
    check_seed(seed)
    experiments = study.plan(series, repeats, pool, _settings(epochs=epochs, profile=profile))
    study.chunked(experiments, chunk)  # validates --chunk before anything runs
    with dask_client(workers, cluster) as client, _Progress(quiet) as progress:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StatelabError(f"cannot create folder {out}: {error.strerror}") from None
        with Store(out) as store:
            planned = sum(len(e.repeats) for e in experiments)
            ran = study.fill_store(
                store, series, experiments, seed=seed, chunk=chunk, client=client,
                progress=None if client else progress, on_chunk=progress.chunk,
            )  # fmt: skip
            loaded = study.load_study(store, series, experiments, seed, repeats)
    reproduction = outputs.write_outputs(loaded, series, out)
    results = loaded.results
    persistence = next(iter(results.values())).persistence_rmse
    for comparison in study.COMPARISONS:
        typer.echo(f"\n{comparison.title}")
        typer.echo(reproduction.tables[comparison.key].to_string())
    typer.echo(f"\nPersistence RMSE: {persistence:.3f}")
    typer.echo(f"\nThe study's expectations ({repeats} repeats each, Holm-corrected):")
    typer.echo(outputs.format_verdicts(reproduction.verdicts))
    failed = sum(int(r.failed.sum()) for r in results.values())
    if failed:
        typer.echo(f"\n{failed} repeat(s) diverged: stored as failed, counted, not averaged in")
    typer.echo(
        f"\n{planned} repeats planned: {ran.repeats_run} run now in {ran.chunks} chunk(s), "
        f"{planned - ran.repeats_run} already in the store; "
        f"compile {ran.compile_s:.2f} s, run {ran.run_s:.2f} s"
    )
    typer.echo(f"wrote {len(reproduction.files)} files to {out}")


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
    from statelab import outputs, plots, stats

    columns = {outputs.results_name(path): outputs.read_results_file(path) for path in files}
    if len(columns) < len(files):
        raise StatelabError("two results files share a name; rename one")
    if paired and len({len(v) for v in columns.values()}) > 1:
        raise StatelabError("--paired needs the same number of rows in every file")
    typer.echo(outputs.describe(columns).to_string())
    if len(columns) >= 2:
        table = stats.pairwise_table({k: v.to_numpy() for k, v in columns.items()}, paired=paired)
        shown = ["a", "b", "mean_difference", "ci_low", "ci_high", "welch_p", "mann_whitney_p",
                 "wilcoxon_p", "holm_p", "cohens_d", "cliffs_delta", "verdict"]  # fmt: skip
        typer.echo("")
        typer.echo(table[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    plots.save(plots.box_plot(columns, "Test RMSE"), plot)
    typer.echo(f"wrote {plot}")


@app.command()
def report(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by `statelab reproduce`.")
    ] = Path("results"),
    out: Annotated[
        Path | None, typer.Option(help="The HTML file (default: FOLDER/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML report of a reproduced study (figures embedded)."""
    from statelab import report as report_module

    typer.echo(f"wrote {report_module.write(folder, out)}")


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

    try:
        code = app(args=argv, standalone_mode=False)
    except StatelabError as error:
        typer.echo(f"statelab: error: {error}", err=True)
        sys.exit(2)
    except NoArgsIsHelpError:
        sys.exit(2)  # the help has been printed
    except UsageError as error:
        message = " ".join(error.format_message().split())
        typer.echo(f"statelab: error: {message} (see --help)", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("statelab: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
