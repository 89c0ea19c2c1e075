"""The verdicts are stable: two master seeds at the default repeats agree (1000 epochs)."""

from __future__ import annotations

import statelab
from statelab import stats, study


def test_verdicts_agree_across_two_master_seeds_at_the_default_repeats():
    verdicts = []
    for seed in (1, 2):
        ran = study.run_study(statelab.shampoo(), repeats=study.DEFAULT_REPEATS, seed=seed, pool=0)
        table = stats.expectation_table({n: r.rmse for n, r in ran.results.items()}, seed=seed)
        verdicts.append(table["verdict"])
    assert verdicts[0].to_dict() == verdicts[1].to_dict()
    assert verdicts[0]["E3"] == "identical"
