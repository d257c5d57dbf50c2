"""Grouping and partitioning by series keys: what gets rewritten, what does not, and every
result equal to DuckDB's over the plain rows (several measure names per series, a missing
dimension, both tiers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

import tsstore
from tsstore.query.serieskey import use_series_keys
from tsstore.storage.codec import SERIES_KEY, series_key_ids
from tsstore.testing import assert_results_equal, duckdb_reference

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
DB = "plant"
DIMS = ("device_id", "factory", "line")


def _rewrite(sql: str, dims=DIMS) -> tuple[str, set[str]]:
    tree = sqlglot.parse_one(sql, read="duckdb")
    keyed = use_series_keys(tree, {"m": list(dims)})
    return tree.sql("duckdb"), keyed


# ------------------------------------------------------------------------------ the rewrite
def test_group_by_every_dimension_groups_by_the_key():
    sql, keyed = _rewrite(
        "SELECT bin, device_id, factory, upper(line) AS l, avg(x) AS a FROM m AS t "
        "GROUP BY 1, 2, factory, t.line HAVING count(DISTINCT factory) > 0 AND line <> 'a' "
        "ORDER BY device_id"
    )
    assert keyed == {"m"}
    assert sql == (
        'SELECT bin, ANY_VALUE(device_id) AS "device_id", ANY_VALUE(factory) AS "factory", '
        "UPPER(ANY_VALUE(line)) AS l, AVG(x) AS a FROM m AS t GROUP BY 1, __tsstore_series "
        "HAVING COUNT(DISTINCT factory) > 0 AND ANY_VALUE(line) <> 'a' "
        "ORDER BY ANY_VALUE(device_id)"
    )


def test_partition_by_every_dimension_partitions_by_the_key():
    sql, keyed = _rewrite(
        "SELECT device_id, row_number() OVER (PARTITION BY line, measure_name, factory, "
        "device_id ORDER BY time DESC) AS rn, lag(x) OVER (PARTITION BY device_id) AS p FROM m"
    )
    assert keyed == {"m"}
    assert sql == (
        "SELECT device_id, ROW_NUMBER() OVER (PARTITION BY __tsstore_series, measure_name "
        "ORDER BY time DESC) AS rn, LAG(x) OVER (PARTITION BY device_id) AS p FROM m"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT device_id, factory, avg(x) FROM m GROUP BY 1, 2",  # not every dimension
        "SELECT device_id, factory, line, avg(x) FROM m GROUP BY ROLLUP (1, 2, 3)",
        "SELECT *, row_number() OVER (PARTITION BY device_id, factory, line) FROM m",
        "SELECT m.device_id, factory, line, count(*) FROM m JOIN n ON m.time = n.time "
        "GROUP BY 1, 2, 3",
        "SELECT device_id, factory, line, my_fn(line) FROM m GROUP BY 1, 2, 3",  # unknown fn
        "SELECT device_id, factory, line, count(*) FILTER (WHERE line = 'a') FROM m "
        "GROUP BY 1, 2, 3",
        "SELECT upper(device_id) AS line, factory, count(*) FROM m GROUP BY device_id, 2, line",
        "SELECT device_id, factory, line, sum(count(*)) OVER (PARTITION BY device_id) "
        "FROM m GROUP BY 1, 2, 3",
        "SELECT count(*), row_number() OVER (PARTITION BY device_id, factory, line) FROM m",
        "SELECT device_id, factory, line, (SELECT max(y) FROM n WHERE n.d = device_id) "
        "FROM m GROUP BY 1, 2, 3",
        "SELECT DISTINCT ON (device_id) device_id, factory, line FROM m GROUP BY 1, 2, 3",
        "SELECT device_id, factory, line, count(*) FROM m NATURAL JOIN n GROUP BY 1, 2, 3",
    ],
)
def test_what_is_not_rewritten(sql):
    before = sqlglot.parse_one(sql, read="duckdb").sql("duckdb")
    after, keyed = _rewrite(sql)
    assert (after, keyed) == (before, set())


def test_only_the_tables_given_and_a_star_elsewhere_turns_the_table_off():
    sql = "SELECT device_id, factory, line, count(*) FROM n GROUP BY 1, 2, 3"
    assert _rewrite(sql)[1] == set()  # n is not a scanned table
    sql = (
        "SELECT * FROM m WHERE time IN (SELECT max(time) FROM m GROUP BY device_id, factory, line)"
    )
    assert _rewrite(sql)[1] == set()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None]),
            st.sampled_from(["x", None]),
            st.sampled_from(["m1", "m2", None]),
        ),
        min_size=0,
        max_size=30,
    ),
    st.integers(0, 30),
)
def test_series_key_ids_are_equal_exactly_for_equal_values(rows, cut):
    """Across frames (as the tiers' key frames), ids are equal exactly when the dimension
    values are (None, NaN and a column the frame lacks are all missing; measure_name is
    not a dimension)."""
    frame = pd.DataFrame(rows, columns=["d1", "d2", "measure_name"], dtype=object)
    a, b = frame.iloc[:cut], frame.iloc[cut:].reset_index(drop=True)
    b = b.assign(d2=b["d2"].where(b["d2"].notna(), np.nan))
    if len(b) and (b["d2"].isna()).all():
        b = b.drop(columns="d2")
    ids = np.concatenate(series_key_ids([a, None, b], ["d1", "d2"]))
    values = [(r[0], r[1]) for r in rows]
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert bool(ids[i] == ids[j]) is (values[i] == values[j])
    assert set(ids.tolist()) == set(range(len(set(values))))


@pytest.mark.parametrize("values", [3, 40, 5000])
def test_series_key_ids_of_many_series(values):
    """Past a few hundred series the ids come from mixed-radix codes (renumbered before they
    could overflow: 12 columns of up to 5000 values each): still equal exactly for equal
    values."""
    rng = np.random.default_rng(values)
    columns = [f"d{i}" for i in range(12)]
    frame = pd.DataFrame(
        {c: rng.integers(0, values, 3000).astype(str).astype(object) for c in columns}
    )
    frame.iloc[::7, 3] = None
    frame = pd.concat([frame, frame.iloc[:500]], ignore_index=True)  # repeated tuples
    a, b = frame.iloc[:2000], frame.iloc[2000:].reset_index(drop=True)
    ids = np.concatenate(series_key_ids([a, b], columns))
    tuples = list(map(tuple, frame.astype(object).where(frame.notna(), None).to_numpy()))
    assert len(set(zip(tuples, ids.tolist(), strict=True))) == len(set(tuples))
    assert len(set(ids.tolist())) == len(set(tuples)) and ids.max() == len(set(tuples)) - 1


# ------------------------------------------------------------------------------ on a store
@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    times = pd.date_range(NOW - pd.Timedelta("8h"), NOW, freq="5min", inclusive="left")
    parts = []
    for d in range(6):
        for name in ("env", "mech"):
            n = len(times)
            parts.append(
                pd.DataFrame(
                    {
                        "device_id": f"d{d}",
                        "factory": f"f{d % 2}",
                        "line": None if d in (1, 4) else f"l{d % 3}",  # missing for 2 devices
                        "measure_name": name,
                        "time": times,
                        "temperature": rng.normal(20, 5, n).round(2),
                        "pressure": pd.array(
                            np.where(rng.random(n) < 0.2, np.nan, rng.normal(3, 1, n)),
                            dtype="Float64",
                        ),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def client(tmp_path_factory, frame):
    c = tsstore.connect(
        tmp_path_factory.mktemp("serieskey"),
        clock=lambda: NOW,
        database=DB,
        lifecycle_interval=None,
    )
    t = c.create_database(DB).create_table("metrics", memory_retention="3h")
    for name, rows in frame.groupby("measure_name"):
        t.write(rows.drop(columns="measure_name"), dimensions=list(DIMS), measure_name=name)
    c.run_lifecycle()  # the oldest 5 hours move to the magnetic tier
    d = t.describe()
    assert d["magnetic_rows"] > 0 and d["memory_rows"] > 0
    yield c
    c.close()


QUERIES = [
    "SELECT device_id, factory, line, avg(temperature) AS t, count(pressure) AS n FROM metrics "
    "GROUP BY device_id, factory, line",
    "SELECT bin(time, 1h) AS h, device_id, factory, line, count(*) AS n, max(pressure) AS p "
    "FROM metrics GROUP BY 1, 2, 3, 4 HAVING count(*) > 20 ORDER BY h, device_id",
    "SELECT measure_name, line, factory, device_id, sum(temperature) AS s FROM metrics "
    "WHERE time > ago(2h) GROUP BY 1, 2, 3, 4",
    "SELECT line, count(*) AS n FROM metrics GROUP BY device_id, factory, line ORDER BY line, n",
    "SELECT device_id, coalesce(line, '-') AS l, avg(temperature) / length(factory) AS x "
    "FROM metrics WHERE line IS NOT NULL GROUP BY 1, factory, line "
    "ORDER BY factory DESC, device_id",
    "SELECT device_id, temperature, time FROM (SELECT device_id, temperature, time, "
    "row_number() OVER (PARTITION BY device_id, factory, line ORDER BY time DESC, "
    "measure_name) AS rn FROM metrics WHERE measure_name = 'env') WHERE rn = 1",
    "SELECT device_id, time, measure_name, pressure - lag(pressure) OVER (PARTITION BY "
    "measure_name, line, factory, device_id ORDER BY time) AS change FROM metrics "
    "WHERE time > ago(4h)",
    "SELECT factory, avg(t) AS t FROM (SELECT device_id, factory, line, avg(temperature) AS t "
    "FROM metrics GROUP BY 1, 2, 3) GROUP BY factory",
    "SELECT device_id, factory, line, count(DISTINCT measure_name) AS names, "
    "max_by(temperature, time) AS last FROM metrics WHERE factory = 'f1' GROUP BY 1, 2, 3",
    "SELECT device_id, factory, line, avg(temperature) AS t FROM metrics WHERE time < ago(30d) "
    "GROUP BY 1, 2, 3",  # no rows
]


@pytest.mark.parametrize("sql", QUERIES)
def test_results_equal_duckdbs_over_the_rows(client, frame, sql):
    got = client.query(sql)
    assert SERIES_KEY in client.last_query_stats.duckdb_sql  # the rewrite was used
    assert SERIES_KEY not in got.columns
    want = duckdb_reference({"metrics": frame}, sql, NOW, dimensions=DIMS)
    assert_results_equal(got, want, ordered="ORDER BY" in sql.split(")")[-1])


def test_explain_names_the_keyed_scan(client):
    text = client.explain(QUERIES[0])
    assert "series key" in text and "GROUP BY __tsstore_series" in text


def test_the_scan_gives_the_key_in_both_forms(client):
    t = client.table(f"{DB}.metrics")
    for distinct in (True, False):
        scan = t.scan(series_key=True, distinct_dictionaries=distinct)
        got = pd.DataFrame(
            {
                **{d: scan.column(d).cast("string").to_pylist() for d in DIMS},
                "key": scan.column(SERIES_KEY).to_numpy(),
            }
        )
        pairs = got.drop_duplicates()
        # one key per dimension tuple (None included), one tuple per key
        assert pairs.groupby("key").ngroups == len(pairs)
        tuples = pairs[list(DIMS)].astype(object).where(pairs[list(DIMS)].notna(), None)
        assert len(set(map(tuple, tuples.to_numpy()))) == len(pairs) == 6
    assert SERIES_KEY not in t.scan().column_names
