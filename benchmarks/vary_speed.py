"""Networks per second at each set-up of a `--vary` run, read from its store: the engine's
scaling with epochs, neurons and lags on the run's own work (issue 17).

Every stored repeat carries the wall seconds of the compiled call that trained it (run_s,
compile_s) and how many lanes that call had; a lane's share of its call is run_s / lanes, so
the sum over a set-up's repeats is the engine time that set-up took (calls on different cores
overlap, so it is core-seconds, not wall time). Printed per set-up: networks, engine seconds,
networks per engine-second and per engine-second x epochs / 1000 (the rate at 1000 epochs, so
the epochs levels compare), compile seconds, and the ratio of each level's rate to the
study's own set-up (1000 epochs, neurons 1, lags 1).

    python benchmarks/vary_speed.py FOLDER
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pandas as pd

FACTORS = ("epochs", "neurons", "lags", "learning_rate", "profile")
STUDY = {"epochs": 1000, "neurons": 1, "lags": 1, "learning_rate": 0.001, "profile": "keras3"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    store = args.folder / "statelab.sqlite"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        rows = pd.read_sql_query(
            "SELECT r.run_s, r.compile_s, r.lanes, s.settings FROM repeats r "
            "JOIN settings s USING (settings_hash)", db)  # fmt: skip
        device = db.execute("SELECT group_concat(DISTINCT device) FROM provenance").fetchone()[0]
    settings = pd.DataFrame([json.loads(text) for text in rows["settings"]])
    rows = pd.concat([rows.drop(columns="settings"), settings[list(FACTORS)]], axis=1)
    rows["engine_s"] = rows["run_s"] / rows["lanes"]
    rows["compile_share"] = rows["compile_s"] / rows["lanes"]
    table = rows.groupby(list(FACTORS)).agg(
        networks=("engine_s", "size"), engine_s=("engine_s", "sum"),
        compile_s=("compile_share", "sum"))  # fmt: skip
    table["per_s"] = table["networks"] / table["engine_s"]
    epochs = table.index.get_level_values("epochs").to_numpy()
    table["per_s_at_1000_epochs"] = table["per_s"] * epochs / 1000
    base = table.loc[tuple(STUDY[f] for f in FACTORS), "per_s_at_1000_epochs"] \
        if tuple(STUDY[f] for f in FACTORS) in table.index else float("nan")  # fmt: skip
    table["vs_study"] = table["per_s_at_1000_epochs"] / base
    print(f"{store}: {len(rows):,} networks on {device}")
    with pd.option_context("display.width", 160, "display.float_format", "{:,.3f}".format):
        print(table.reset_index().to_string(index=False))


if __name__ == "__main__":
    main()
