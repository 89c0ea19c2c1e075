"""The Shampoo study as data: the eleven presets, the study's four comparisons, its plan
(statelab.execution.plan), and the study read back from the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from statelab.errors import StatelabError
from statelab.execution import plan as plan_module
from statelab.execution.plan import Plan
from statelab.execution.results import Results
from statelab.execution.runner import MAX_REPEATS, repeat_indices
from statelab.spec import PRESETS


class Comparison(NamedTuple):
    key: str
    title: str
    experiments: tuple[str, ...]


COMPARISONS = (
    Comparison("a_vs_a", "A vs A: two independent runs of stateful", ("stateful", "stateful2")),
    Comparison(
        "stateful_vs_stateless",
        "Stateful vs stateless (batch 1)",
        ("stateful", "stateless", "stateless_shuffle"),
    ),
    Comparison(
        "batch12",
        "Stateful vs stateless at batch size 12",
        ("stateful_batch12", "stateless_batch12"),
    ),
    Comparison(
        "resets",
        "When the state is reset and seeded",
        (
            "stateful",
            "stateful_reset_test",
            "stateful_noreset",
            "stateful_seed_train",
            "stateful_seed_train_resets",
            "stateful_seed_train_no_resets",
        ),
    ),
)


# The A-vs-A pool: repeats of `stateful` behind the standard-error curve.
POOL_EXPERIMENT = "stateful"
POWER_DIFFERENCES = (1.0, 2.0, 5.0, 10.0)


class Study(NamedTuple):
    """A study read back from the store."""

    series: pd.Series
    results: dict[str, Results]  # the eleven experiments, `repeats` each
    pool: np.ndarray  # (P,) RMSEs of POOL_EXPERIMENT over repeats 0..P-1


def plan(
    series: pd.Series,
    repeats: int,
    pool: int,
    settings: Mapping[str, object],
    seed: int,
    test_size: int = 12,
) -> Plan:
    """The eleven presets on one series (``settings`` override every one), each with the
    repeats the study needs: ``repeats`` each, and ``pool`` for the pool experiment."""
    count = len(repeat_indices(repeats))
    if count < 2:
        raise StatelabError(
            "the study's statistics need at least 2 repeats: use --repeats 2 or more"
        )
    if not 0 <= pool <= MAX_REPEATS:
        raise StatelabError(f"--pool must be a whole number from 0 to {MAX_REPEATS:,}, got {pool}")
    experiments = [
        (name, preset.spec.replace(**settings),
         max(count, pool) if name == POOL_EXPERIMENT else count)
        for name, preset in PRESETS.items()
    ]  # fmt: skip
    return plan_module.plan(experiments, [series], [test_size], seed)


def assemble(plan: Plan, loaded: Sequence[Results]) -> Study:
    """The study from its tasks' results: the first ``plan.repeats`` of every experiment,
    and the pool experiment's whole pool."""
    by_name = {result.name: result for result in loaded}
    pool = by_name[POOL_EXPERIMENT].rmse
    trimmed = {name: r.subset(r.repeats < plan.repeats) for name, r in by_name.items()}
    return Study(next(iter(plan.series.values())), trimmed, pool)
