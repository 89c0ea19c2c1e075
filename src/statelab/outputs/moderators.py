"""Which series does state help -> its files: the generalisation's own (written as
`generalise` writes them), moderators.csv (a row per expectation, frequency and term: the
coefficients on the standardised features, Holm-adjusted p, the model's k, tau2 and R2),
moderators.json (the models, their out-of-sample checks and the answer in words), and per
model with a feature that matters its partial-effect figure (moderators_E6_f12.png)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from statelab import layout, records
from statelab.data import catalog
from statelab.execution.plan import Plan
from statelab.files import write_text
from statelab.outputs import generalise
from statelab.outputs.tables import write_table
from statelab.stats import EXPECTATIONS
from statelab.studies.moderators import Model, Moderated, Moderators, label, partial_effects


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_moderated` may write: a figure for every expectation at every
    frequency among the plan's series (the models are per frequency)."""
    frequencies = {catalog.frequency(name) for name in plan.series}
    figures = [layout.moderators_plot(e.key, f) for e in EXPECTATIONS
               for f in sorted(frequencies, key=lambda f: (f is None, f or 0))]  # fmt: skip
    return [*generalise.names(plan), layout.MODERATORS, layout.MODERATORS_JSON, *figures]


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _model(model: Model) -> dict:
    fit, check = model.fit, model.out_of_sample
    return {
        "expectation": model.expectation.key, "frequency": model.frequency,
        "moderators": list(model.moderators), "dropped": list(model.dropped),
        "series": model.series, "left_out": model.left_out,
        "k": None if fit is None else fit.k,
        "tau2": None if fit is None else _number(fit.tau2),
        "r2": None if fit is None else _number(fit.r2),
        "out_of_sample": None if check is None else check._asdict(),
        "words": model.words,
    }  # fmt: skip


def record(moderators: Moderators, data: str) -> dict:
    """moderators.json: the data, the seed of the halves, the moderators and every model."""
    return {
        "kind": "moderators",
        "data": data,
        "seed": moderators.seed,
        "moderators": list(moderators.moderators),
        "models": [_model(m) for m in moderators.models],
        "answer": moderators.answer,
    }


def write_moderated(result: Moderated, out: Path) -> list[Path]:
    """The generalisation's files, then :func:`write_moderators`' into ``out``."""
    files = generalise.write_generalisation(result.generalisation, out)
    return files + write_moderators(result.moderators, result.data, out)


def write_moderators(moderators: Moderators, data: str, out: Path) -> list[Path]:
    """moderators.csv, moderators.json and the partial-effect figures of ``moderators`` (of
    the collection ``data``), into ``out``: a figure per model where a feature matters, a
    panel per such feature."""
    from statelab.outputs import plots  # matplotlib: only when writing

    files = [write_table(out, layout.MODERATORS_TABLE, moderators.table)]
    made = json.loads(json.dumps(record(moderators, data), default=generalise.json_value))
    text = json.dumps(records.check(records.ModeratorsRecord, made), indent=2) + "\n"
    files.append(write_text(out / layout.MODERATORS_JSON, text))
    for model in moderators.models:
        effects = partial_effects(model)
        if effects:
            expectation = model.expectation
            figure = plots.partial_effect_plot(effects, label(expectation, model.frequency))
            name = layout.moderators_plot(expectation.key, model.frequency)
            files.append(plots.save(figure, out / name))
    return files
