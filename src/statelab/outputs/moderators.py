"""Which series does state help -> its files: the generalisation's own (written as
`generalise` writes them), moderators.csv (a row per expectation, frequency and term: the
coefficients on the standardised features, Holm-adjusted p, the model's k, tau2 and R2) and
moderators.json (the models, their out-of-sample checks and the answer in words)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from statelab import layout, records
from statelab.execution.plan import Plan
from statelab.files import write_text
from statelab.outputs import generalise
from statelab.outputs.tables import write_table
from statelab.studies.moderators import Model, Moderated


def names(plan: Plan) -> list[str]:
    """Every file :func:`write_moderated` may write."""
    return [*generalise.names(plan), layout.MODERATORS, layout.MODERATORS_JSON]


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


def record(result: Moderated) -> dict:
    """moderators.json: the data, the seed of the halves, the moderators and every model."""
    return {
        "kind": "moderators",
        "data": result.data,
        "seed": result.moderators.seed,
        "moderators": list(result.moderators.moderators),
        "models": [_model(m) for m in result.moderators.models],
        "answer": result.moderators.answer,
    }


def write_moderated(result: Moderated, out: Path) -> list[Path]:
    """The generalisation's files, moderators.csv and moderators.json, into ``out``."""
    files = generalise.write_generalisation(result.generalisation, out)
    files.append(write_table(out, layout.MODERATORS_TABLE, result.moderators.table))
    made = json.loads(json.dumps(record(result), default=generalise.json_value))
    text = json.dumps(records.check(records.ModeratorsRecord, made), indent=2) + "\n"
    files.append(write_text(out / layout.MODERATORS_JSON, text))
    return files
