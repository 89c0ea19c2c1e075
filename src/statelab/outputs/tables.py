"""Write a table through its declared schema (statelab.layout): checked, then written
atomically, so no writer can write a table its reader would refuse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from statelab import layout
from statelab.files import write_atomic


def write_table(out: Path, table: layout.Table, frame: pd.DataFrame) -> Path:
    """``frame`` as ``out / table.name``, with its index when the table has one."""
    layout.check(table, frame)  # a mismatch here is statelab's bug, never the user's
    index = table.index is not None
    return write_atomic(out / table.name, lambda path: frame.to_csv(path, index=index))
