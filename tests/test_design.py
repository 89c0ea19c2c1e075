"""docs/design.md says what the code does: its tables of the eleven experiments, the six
expectations and the words of the answer are read back here and checked against the presets,
stats.EXPECTATIONS and stats.answer, so the page cannot drift from the code unnoticed."""

from __future__ import annotations

import ast
import re

from statelab import stats
from statelab.spec import PRESETS, Spec

FOUND = ("identical", "no detectable difference", "a lower", "b lower")  # stats.finding's


def table(section: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table in ``section`` whose header row starts with ``header``,
    as lists of stripped cells (header and rule left out)."""
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def settings(cell: str) -> dict[str, object]:
    """A cell such as `seed_state=True, forecast="batched"` (or `Spec()`) as Spec fields."""
    text = cell.strip("`")
    if text == "Spec()":
        return {}
    pairs = (part.split("=", 1) for part in text.split(", "))
    return {name: ast.literal_eval(value) for name, value in pairs}


def words(answer: str) -> str:
    """The capitals an answer opens with: "HOLDS on the whole" -> "HOLDS"."""
    return re.match(r"[A-Z][A-Z ]*[A-Z]", answer).group()


def test_the_experiments_table_is_the_presets(design):
    rows = table(design[1], "experiment")
    assert len(rows) == len(PRESETS)
    for name_cell, stateful, batch, training_rows, *_, spec_cell in rows:
        name, _, label = name_cell.partition(" (")
        preset = PRESETS[name]
        assert (label.rstrip(")") or name) == preset.label
        assert Spec().replace(**settings(spec_cell)) == preset.spec, name
        assert stateful == ("yes" if preset.spec.stateful else "no")
        assert int(batch) == preset.spec.batch_size
        window = preset.spec.train_window
        assert training_rows == ("22" if window is None else f"the last {window}")
    assert [row[0].partition(" (")[0] for row in rows] == list(PRESETS)


def test_the_expectations_table_is_stats_expectations(design):
    rows = table(design[1], "| claim")
    expected = [[e.key, e.claim, e.better, e.worse] for e in stats.EXPECTATIONS]
    assert rows == expected


def test_the_answer_table_is_stats_answer(design):
    rows = table(design[5], "pooled verdict")
    assert sorted(row[0] for row in rows) == sorted(stats.VERDICTS)
    differ, same = stats.EXPECTATIONS[0], stats.EXPECTATIONS[2]
    assert not differ.same and same.same
    for verdict, words_differ, words_same in rows:
        assert words(stats.answer(differ, verdict)) == words_differ
        if words_same == "-":  # never reached: a detected difference contradicts "same"
            assert all(stats.decide(same, found, False) != verdict for found in FOUND)
        else:
            assert words(stats.answer(same, verdict)) == words_same
