"""The output folder's declared table schemas (statelab.layout): one declaration that the
writers check before writing and the report reads back through."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from statelab import layout
from statelab.outputs.tables import write_table

TABLE = layout.Table("t.csv", (("n", "int"), ("x", "float"), ("ok", "bool"), ("s", "str"),
                               ("needed", "count")), index="key")  # fmt: skip


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"n": [1, 2], "x": [0.5, np.nan], "ok": [True, False], "s": ["a", ""],
         "needed": [3, pd.NA], "extra": ["kept", "too"]},
        index=pd.Index(["E1", "E2"], name="key"),
    )  # fmt: skip


def test_a_table_written_reads_back_through_the_same_declaration(tmp_path):
    path = write_table(tmp_path, TABLE, frame())
    read = layout.check(TABLE, pd.read_csv(path, index_col=0))
    assert list(read["key"]) == ["E1", "E2"]  # the index is a column of the checked copy
    assert read["n"].dtype == np.int64 and read["ok"].dtype == bool
    assert read["x"].isna().tolist() == [False, True]
    assert read["needed"].tolist()[0] == 3 and pd.isna(read["needed"].tolist()[1])


def test_checking_never_changes_what_is_written(tmp_path):
    given = frame()
    write_table(tmp_path, TABLE, given)
    assert (tmp_path / "t.csv").read_text() == given.to_csv()
    pd.testing.assert_frame_equal(given, frame())  # the frame itself is untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["x", "s"]), "lacks column(s) x, s"),
        (lambda f: f.assign(n=["one", "two"]), "is not of its kind"),
        (lambda f: f.assign(n=[1.0, np.nan]), "is not of its kind"),  # an int column with a gap
        (lambda f: f.assign(ok=["yes", "maybe"]), "is not of its kind"),
    ],
)
def test_a_table_that_breaks_its_schema_is_refused_in_one_line(tmp_path, change, message):
    with pytest.raises(layout.SchemaMismatch, match=re.escape(message)) as raised:
        write_table(tmp_path, TABLE, change(frame()))
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "t.csv").exists()  # nothing written


def test_an_unnamed_index_is_the_empty_column():
    table = layout.Table("u.csv", (("repeats", "int"),), index="")
    read = layout.check(table, pd.DataFrame({"repeats": [5, 10]}))
    assert list(read[""]) == [0, 1]


def test_the_shampoo_verdicts_share_the_studys_verdict_schema():
    assert layout.REFERENCE_TABLE.columns == layout.VERDICTS_TABLE.columns
    assert layout.REFERENCE_TABLE.name == layout.REFERENCE
