"""The verdicts are stable: two master seeds at the default repeats agree (1000 epochs),
through the library call users run (`statelab.reproduce`), on a temporary store."""

from __future__ import annotations

import statelab
from statelab.defaults import STUDY_REPEATS


def test_verdicts_agree_across_two_master_seeds_at_the_default_repeats():
    verdicts = []
    for seed in (1, 2):
        settings = statelab.StudySettings(repeats=STUDY_REPEATS, pool=0, seed=seed)
        verdicts.append(statelab.reproduce(settings).result.verdicts["verdict"])
    assert verdicts[0].to_dict() == verdicts[1].to_dict()
    assert verdicts[0]["E3"] == "identical"
    # A difference near 0.07 on RMSEs near 95: within 1% of the persistence RMSE (1.37)
    assert verdicts[0]["E2"] == "practically equivalent"
