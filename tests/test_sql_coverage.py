"""Timestream's SQL surface, case by case: tsstore's answer equals an independent one.

Two parts (the map of what is covered: docs/sql-coverage.md):

1. **The language matrix** (``test_language_matrix``): a few hundred hand-written Timestream
   queries, grouped by area (``select``, ``where``, ``group``, ``order``, ``distinct``, ``cte``,
   ``subquery``, ``setop``, ``case``, ``cast``, ``join``, ``time``, ``agg``, ``window``,
   ``string``, ``math``, ``null``, ``measures``, ``array``), over a store holding a multi-measure
   fleet table (both tiers, a few rows with NULL measures) and a table mixing single-measure
   records (``measure_name`` / ``measure_value::<type>``) with multi-measure records. Each
   query's expected answer comes from DuckDB running *hand-written DuckDB SQL* over the same
   rows registered as plain frames: the same text where Trino's and DuckDB's semantics agree, a
   hand-written equivalent where they differ (``bin``, ``ago``, ``date_diff``, integer
   division, ``CAST`` rounding, NULL handling of ``split_part`` ...), or a check in Python.
   tsstore's translator is never used to compute an expectation.

2. **Timestream's documented sample queries**, verbatim but for trailing whitespace (database
   and table names as in the docs), over small synthetic data of the documented schemas: the
   developer guide's "Simple queries", "Queries with time series functions"
   (``"sampleDB".DevOps``), "Queries with aggregate functions" (``"sampleDB".IoT``), the
   IoTMulti samples, the scheduled-query pattern pages' dashboard queries over
   ``"raw_data"."devops"`` (region, cell, silo, availability_zone, microservice_name,
   instance_name ...), and this project's two use-case queries. Each is checked against a
   computation in pandas. The queries using Timestream's time-series functions
   (``create_time_series``, ``interpolate_*``, ``derivative_linear``, ``integral_trapezoidal``,
   ``correlate_pearson``, ``filter``/``reduce`` over a timeseries) are a separate group,
   ``test_documented_time_series_queries``.

A case that fails because of tsstore is kept as ``xfail(strict=True)`` with the diagnosis as its
reason, so the suite stays green and the fix flips it to a failure that asks for the mark to go.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import tsstore
from tsstore.simulate import factory_fleet

NOW = pd.Timestamp("2024-06-02 00:00", tz="UTC")
DB = "industrial_monitoring_db"
NOW_SQL = "TIMESTAMPTZ '2024-06-02 00:00:00+00'"

# --------------------------------------------------------------------------------------------
# Comparing results
# --------------------------------------------------------------------------------------------

Norm = tuple[str, Any] | None


def norm(v: Any) -> Norm:
    """A value as a comparable tag: NULL and NaN alike (pandas cannot tell them apart)."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    if isinstance(v, bool | np.bool_):
        return ("b", bool(v))
    if isinstance(v, int | np.integer):
        return ("n", int(v))
    if isinstance(v, float | np.floating | decimal.Decimal):
        return ("n", float(v))
    if isinstance(v, pd.Timestamp | dt.datetime | np.datetime64):
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ("t", ts.value)
    if isinstance(v, dt.date):
        return ("d", v.isoformat())
    if isinstance(v, pd.Timedelta | dt.timedelta | np.timedelta64):
        return ("i", pd.Timedelta(v).value)
    if isinstance(v, dict):
        return ("m", tuple(sorted((str(k), norm(x)) for k, x in v.items())))
    if isinstance(v, list | tuple | np.ndarray):
        return ("a", tuple(norm(x) for x in v))
    if isinstance(v, str):
        return ("s", v)
    return ("o", repr(v))


def same(a: Norm, b: Norm) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a[0] != b[0]:
        return False
    if a[0] == "n":
        x, y = a[1], b[1]
        if isinstance(x, int) and isinstance(y, int):
            return x == y
        return x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    if a[0] in ("a", "m"):
        return len(a[1]) == len(b[1]) and all(
            same(x, y) if a[0] == "a" else (x[0] == y[0] and same(x[1], y[1]))
            for x, y in zip(a[1], b[1], strict=True)
        )
    return a == b


def sort_key(v: Norm) -> str:
    if v is None:
        return "\x00"
    tag, x = v
    if tag == "n":
        return f"n{float(x):.6e}"
    if tag == "a":
        return "a" + "|".join(sort_key(e) for e in x)
    if tag == "m":
        return "m" + "|".join(k + sort_key(e) for k, e in x)
    return f"{tag}{x}"


Rows = list[tuple[Norm, ...]]


def rows_of_frame(df: pd.DataFrame) -> Rows:
    return [tuple(norm(v) for v in row) for row in df.astype(object).itertuples(index=False)]


def rows_of_duckdb(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], Rows]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return names, [tuple(norm(v) for v in row) for row in cur.fetchall()]


def assert_rows(got: Rows, want: Rows, *, ordered: bool) -> None:
    assert len(got) == len(want), f"{len(got)} rows, expected {len(want)}"
    if not ordered:
        got = sorted(got, key=lambda r: [sort_key(v) for v in r])
        want = sorted(want, key=lambda r: [sort_key(v) for v in r])
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert len(g) == len(w)
        for j, (a, b) in enumerate(zip(g, w, strict=True)):
            assert same(a, b), f"row {i}, column {j}: got {a}, expected {b}\n got {g}\nwant {w}"


# --------------------------------------------------------------------------------------------
# The data: a multi-measure fleet (both tiers, a few NULL measures) and a mixed table
# --------------------------------------------------------------------------------------------

FLEET_COLUMNS = [
    "device_id",
    "factory",
    "measure_name",
    "time",
    "temperature",
    "pressure",
    "vibration",
    "energy",
]
HOSTS = [f"h-{i:02d}" for i in range(6)]


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    """12 machines, one reading a minute for 10 hours (times in whole ms), then m-0012: an
    hour of temperature only (its other measures are NULL)."""
    df = factory_fleet(NOW - pd.Timedelta("10h"), NOW, machines=12, interval="60s")
    df["time"] = df["time"].dt.floor("ms")
    return df


@pytest.fixture(scope="module")
def partial() -> pd.DataFrame:
    t = pd.date_range(NOW - pd.Timedelta("60min"), periods=60, freq="60s", tz="UTC")
    return pd.DataFrame(
        {
            "time": t,
            "device_id": "m-0012",
            "factory": "f-0",
            "temperature": np.round(60 + np.arange(60) * 0.25, 3),
        }
    )


def _ms(ts: pd.Timestamp) -> str:
    return str(ts.value // 10**6)


@pytest.fixture(scope="module")
def host_records() -> list[dict[str, Any]]:
    """Single-measure records (double, bigint, varchar, boolean) and multi-measure records
    (``metrics``: load, procs) of 6 hosts every 5 minutes for 3 hours, with gaps."""
    rng = np.random.default_rng(7)
    out: list[dict[str, Any]] = []
    times = pd.date_range(NOW - pd.Timedelta("3h"), NOW - pd.Timedelta("5min"), freq="5min")
    for h, host in enumerate(HOSTS):
        dims = [
            {"Name": "host", "Value": host},
            {"Name": "region", "Value": "us-east-1" if h % 2 == 0 else "eu-west-1"},
        ]
        for k, ts in enumerate(times):
            ms = _ms(ts + pd.Timedelta(seconds=h))
            if (k + h) % 7 != 0:  # gaps in cpu_user
                out.append(
                    {
                        "Dimensions": dims,
                        "MeasureName": "cpu_user",
                        "MeasureValue": repr(round(float(rng.uniform(0, 100)), 4)),
                        "Time": ms,
                    }
                )
            big = 2**53 + 1 if (h == 0 and k == 0) else int(rng.integers(0, 10**6))
            out.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "mem_free",
                    "MeasureValue": str(big),
                    "MeasureValueType": "BIGINT",
                    "Time": ms,
                }
            )
            out.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "status",
                    "MeasureValue": ["ok", "degraded", "ok", "offline"][(k * (h + 1)) % 4],
                    "MeasureValueType": "VARCHAR",
                    "Time": ms,
                }
            )
            out.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "healthy",
                    "MeasureValue": "true" if (k + h) % 3 else "false",
                    "MeasureValueType": "BOOLEAN",
                    "Time": ms,
                }
            )
            out.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "metrics",
                    "MeasureValueType": "MULTI",
                    "Time": ms,
                    "MeasureValues": [
                        {
                            "Name": "load",
                            "Value": repr(round(float(rng.uniform(0, 4)), 3)),
                            "Type": "DOUBLE",
                        },
                        {
                            "Name": "procs",
                            "Value": str(int(rng.integers(50, 300))),
                            "Type": "BIGINT",
                        },
                    ],
                }
            )
    return out


HOST_COLUMNS = [
    "host",
    "region",
    "measure_name",
    "time",
    "measure_value::double",
    "measure_value::bigint",
    "measure_value::varchar",
    "measure_value::boolean",
    "load",
    "procs",
]


def host_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as Timestream's flat model, built directly from the record dicts."""
    rows = []
    for r in records:
        dims = {d["Name"]: d["Value"] for d in r["Dimensions"]}
        row: dict[str, Any] = dict.fromkeys(HOST_COLUMNS)
        row.update(dims)
        row["measure_name"] = r["MeasureName"]
        row["time"] = pd.Timestamp(int(r["Time"]), unit="ms", tz="UTC")
        kind = r.get("MeasureValueType", "DOUBLE")
        if kind == "MULTI":
            for m in r["MeasureValues"]:
                row[m["Name"]] = float(m["Value"]) if m["Type"] == "DOUBLE" else int(m["Value"])
        elif kind == "DOUBLE":
            row["measure_value::double"] = float(r["MeasureValue"])
        elif kind == "BIGINT":
            row["measure_value::bigint"] = int(r["MeasureValue"])
        elif kind == "VARCHAR":
            row["measure_value::varchar"] = r["MeasureValue"]
        elif kind == "BOOLEAN":
            row["measure_value::boolean"] = r["MeasureValue"] == "true"
        rows.append(row)
    df = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in HOST_COLUMNS})
    for c in ("measure_value::bigint", "procs"):  # exact: never through float64
        df[c] = pd.array([r[c] for r in rows], dtype="Int64")
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["measure_value::double"] = df["measure_value::double"].astype("float64")
    df["load"] = df["load"].astype("float64")
    df["measure_value::boolean"] = df["measure_value::boolean"].astype("boolean")
    return df


@pytest.fixture(scope="module")
def client(tmp_path_factory, fleet, partial, host_records):
    path = tmp_path_factory.mktemp("coverage")
    c = tsstore.connect(path, clock=lambda: NOW, database=DB, lifecycle_interval=None)
    db = c.create_database(DB)
    t = db.create_table("machine_metrics", memory_retention="6h")
    t.write(fleet, dimensions=["device_id", "factory"])
    t.write(partial, dimensions=["device_id", "factory"])
    c.run_lifecycle()  # the oldest 4 hours move to the magnetic tier
    assert t.describe()["magnetic_rows"] > 0 and t.describe()["memory_rows"] > 0
    h = db.create_table("host_stats")
    result = h.write_records(host_records, errors="raise")
    assert result.records_ingested["Total"] == len(host_records)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ref(fleet, partial, host_records):
    """DuckDB over the same rows, as plain frames (time as TIMESTAMPTZ), plus the macros the
    hand-written expectations use."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frame = pd.concat([fleet, partial], ignore_index=True)
    frame["measure_name"] = pd.Series([None] * len(frame), dtype="string")
    frame = frame[FLEET_COLUMNS]
    frame["time"] = frame["time"].astype("datetime64[us, UTC]")
    con.register("machine_metrics", pa.Table.from_pandas(frame, preserve_index=False))
    hosts = host_frame(host_records)
    hosts["time"] = hosts["time"].astype("datetime64[us, UTC]")
    con.register("host_stats", pa.Table.from_pandas(hosts, preserve_index=False))
    con.execute(f"CREATE MACRO ts_now() AS {NOW_SQL}")
    # Timestream's bin(): floor to a multiple of the duration since 1970-01-01
    con.execute("CREATE MACRO ts_bin(t, secs) AS to_timestamp(floor(epoch(t) / secs) * secs)")
    # Trino's CAST(double AS bigint) rounds half up (DuckDB rounds half to even)
    con.execute("CREATE MACRO ts_round_cast(x) AS CAST(floor(x + 0.5) AS BIGINT)")
    # Trino's date_diff: whole units elapsed, truncated toward zero
    con.execute(
        "CREATE MACRO ts_diff_ms(a, b, unit_ms) AS "
        "CAST(trunc((epoch_ms(b) - epoch_ms(a)) / unit_ms) AS BIGINT)"
    )
    yield con
    con.close()


# --------------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    sql: str  # Timestream SQL, run by tsstore
    duck: str | None = None  # DuckDB SQL for the expectation (default: the same text)
    ordered: bool = False  # the result's order is defined (ORDER BY on unique keys)
    check: Callable[[pd.DataFrame, duckdb.DuckDBPyConnection], None] | None = None


def _dq(sql: str) -> str:
    """Quote ``measure_value::<type>`` for DuckDB, which would read it as a cast."""
    return re.sub(
        r'(?<!")\bmeasure_value::(double|bigint|varchar|boolean|timestamp)\b',
        r'"measure_value::\1"',
        sql,
    )


def case(
    area: str,
    name: str,
    sql: str,
    duck: str | None = None,
    *,
    ordered: bool = False,
    check: Callable[[pd.DataFrame, duckdb.DuckDBPyConnection], None] | None = None,
    bug: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(Case(sql, duck, ordered, check), id=f"{area}-{name}", marks=marks)


# Diagnoses of the failures found by this suite (shared by several cases).
M = "machine_metrics"
SELECT_CASES = [
    case("select", "star", f"SELECT * FROM {M}"),
    case(
        "select",
        "columns",
        f"SELECT device_id, time, temperature FROM {M} WHERE device_id = 'm-0003'",
    ),
    case(
        "select",
        "expressions",
        f"SELECT device_id, temperature * 2 + 1 AS t2, pressure / 10 AS p, -energy AS neg FROM {M}",
    ),
    case(
        "select",
        "qualified-table",
        f'SELECT count(*) AS n FROM "{DB}"."{M}"',
        f"SELECT count(*) AS n FROM {M}",
    ),
    case(
        "select",
        "qualified-unquoted",
        f"SELECT count(*) AS n FROM {DB}.{M}",
        f"SELECT count(*) AS n FROM {M}",
    ),
    case(
        "select",
        "table-alias",
        f"SELECT m.device_id, m.temperature FROM {M} AS m WHERE m.factory = 'f-1'",
    ),
    case(
        "select",
        "table-alias-no-as",
        f"SELECT m.device_id, max(m.temperature) AS t FROM {M} m GROUP BY m.device_id",
    ),
    case("select", "alias-star", f"SELECT m.* FROM {M} m WHERE m.device_id = 'm-0005'"),
    case(
        "select",
        "quoted-columns",
        f'SELECT "device_id", "temperature" AS "temp" FROM {M} WHERE "factory" = \'f-2\'',
    ),
    case(
        "select",
        "literals",
        "SELECT 1 AS one, 'a' AS s, true AS b, 1.5 AS d, DOUBLE '2.5' AS dd, BIGINT '7' AS bi",
    ),
    case("select", "null-literal", "SELECT NULL AS n, CAST(NULL AS double) AS d"),
    case(
        "select",
        "no-from-arithmetic",
        "SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b, 2.0 * 3 AS c, 10 - 4 - 3 AS d",
    ),
    case("select", "count-star", f"SELECT count(*) AS n FROM {M}"),
    case("select", "all-keyword", f"SELECT ALL factory FROM {M} WHERE device_id = 'm-0001'"),
    case(
        "select",
        "column-alias-list",
        f"SELECT d, t FROM (SELECT device_id, temperature FROM {M}) AS x(d, t) WHERE d = 'm-0002'",
    ),
    case(
        "select",
        "unaliased-names",
        f"SELECT 1 + 1, avg(temperature) FROM {M}",
        check=lambda got, ref: (
            None
            if list(got.columns) == ["_col0", "_col1"]
            else pytest.fail(f"columns {list(got.columns)}")
        ),
    ),
    case(
        "select",
        "column-keeps-name",
        f"SELECT temperature, device_id FROM {M} WHERE device_id = 'm-0004' AND time > ago(1h)",
        f"SELECT temperature, device_id FROM {M} WHERE device_id = 'm-0004' AND time > ts_now() "
        "- INTERVAL 1 HOUR",
    ),
    case(
        "select",
        "star-both-tiers-window",
        f"SELECT * FROM {M} WHERE time BETWEEN ago(7h) AND ago(5h)",
        f"SELECT * FROM {M} WHERE time BETWEEN ts_now() - INTERVAL 7 HOUR AND ts_now() - "
        "INTERVAL 5 HOUR",
    ),
]

WHERE_CASES = [
    case("where", "eq", f"SELECT device_id, time FROM {M} WHERE device_id = 'm-0007'"),
    case("where", "ne", f"SELECT count(*) AS n FROM {M} WHERE device_id <> 'm-0007'"),
    case("where", "ne-bang", f"SELECT count(*) AS n FROM {M} WHERE device_id != 'm-0007'"),
    case(
        "where",
        "lt-gt",
        f"SELECT device_id, temperature FROM {M} WHERE temperature > 77 AND pressure < 101",
    ),
    case(
        "where",
        "le-ge",
        f"SELECT count(*) AS n FROM {M} WHERE vibration >= 1.2 AND vibration <= 1.3",
    ),
    case("where", "between", f"SELECT count(*) AS n FROM {M} WHERE energy BETWEEN 35 AND 40"),
    case(
        "where", "not-between", f"SELECT count(*) AS n FROM {M} WHERE energy NOT BETWEEN 35 AND 40"
    ),
    case(
        "where",
        "in-list",
        f"SELECT device_id, count(*) AS n FROM {M} WHERE device_id IN ('m-0001', 'm-0002', 'x') "
        "GROUP BY device_id",
    ),
    case("where", "in-single", f"SELECT count(*) AS n FROM {M} WHERE factory IN ('f-3')"),
    case(
        "where", "not-in-list", f"SELECT count(*) AS n FROM {M} WHERE factory NOT IN ('f-0', 'f-1')"
    ),
    case(
        "where", "like-prefix", f"SELECT DISTINCT device_id FROM {M} WHERE device_id LIKE 'm-000%'"
    ),
    case(
        "where",
        "like-underscore",
        f"SELECT DISTINCT device_id FROM {M} WHERE device_id LIKE 'm-001_'",
    ),
    case("where", "not-like", f"SELECT DISTINCT device_id FROM {M} WHERE device_id NOT LIKE '%1'"),
    case(
        "where",
        "like-escape",
        f"SELECT DISTINCT device_id FROM {M} WHERE device_id LIKE 'm#-%' ESCAPE '#'",
    ),
    case(
        "where",
        "and-or-precedence",
        f"SELECT count(*) AS n FROM {M} WHERE factory = 'f-0' OR factory = 'f-1' AND temperature "
        "> 75",
    ),
    case(
        "where",
        "parens",
        f"SELECT count(*) AS n FROM {M} WHERE (factory = 'f-0' OR factory = 'f-1') AND "
        "temperature > 75",
    ),
    case("where", "not", f"SELECT count(*) AS n FROM {M} WHERE NOT (temperature > 70)"),
    case(
        "where",
        "or-across-columns",
        f"SELECT count(*) AS n FROM {M} WHERE device_id = 'm-0001' OR temperature > 79",
    ),
    case(
        "where", "expression", f"SELECT count(*) AS n FROM {M} WHERE temperature - pressure > -30"
    ),
    case(
        "where", "string-compare", f"SELECT DISTINCT device_id FROM {M} WHERE device_id > 'm-0008'"
    ),
    case(
        "where",
        "time-literal",
        f"SELECT count(*) AS n FROM {M} WHERE time >= TIMESTAMP '2024-06-01 20:00:00'",
        f"SELECT count(*) AS n FROM {M} WHERE time >= TIMESTAMPTZ '2024-06-01 20:00:00+00'",
    ),
    case(
        "where",
        "time-string-cast",
        f"SELECT count(*) AS n FROM {M} WHERE time < CAST('2024-06-01 16:30:00' AS timestamp)",
        f"SELECT count(*) AS n FROM {M} WHERE time < TIMESTAMPTZ '2024-06-01 16:30:00+00'",
    ),
    case(
        "where",
        "time-iso8601",
        f"SELECT count(*) AS n FROM {M} WHERE time > "
        "from_iso8601_timestamp('2024-06-01T22:15:00Z')",
        f"SELECT count(*) AS n FROM {M} WHERE time > TIMESTAMPTZ '2024-06-01 22:15:00+00'",
    ),
    case(
        "where",
        "time-between-ago-now",
        f"SELECT count(*) AS n FROM {M} WHERE time BETWEEN ago(2h) AND now()",
        f"SELECT count(*) AS n FROM {M} WHERE time BETWEEN ts_now() - INTERVAL 2 HOUR AND ts_now()",
    ),
    case(
        "where",
        "time-ago-open",
        f"SELECT count(*) AS n FROM {M} WHERE time > ago(90m)",
        f"SELECT count(*) AS n FROM {M} WHERE time > ts_now() - INTERVAL 90 MINUTE",
    ),
    case(
        "where",
        "time-now-minus",
        f"SELECT count(*) AS n FROM {M} WHERE time >= now() - 1d",
        f"SELECT count(*) AS n FROM {M} WHERE time >= ts_now() - INTERVAL 1 DAY",
    ),
    case(
        "where",
        "time-in-magnetic-only",
        f"SELECT count(*) AS n, min(time) AS lo FROM {M} WHERE time < ago(8h)",
        f"SELECT count(*) AS n, min(time) AS lo FROM {M} WHERE time < ts_now() - INTERVAL 8 HOUR",
    ),
    case(
        "where",
        "time-equality",
        f"SELECT device_id FROM {M} WHERE time = (SELECT max(time) FROM {M} WHERE device_id = "
        "'m-0003')",
    ),
    case(
        "where",
        "regexp-like",
        f"SELECT DISTINCT device_id FROM {M} WHERE regexp_like(device_id, '^m-00(0[3-5])$')",
        f"SELECT DISTINCT device_id FROM {M} WHERE regexp_matches(device_id, '^m-00(0[3-5])$')",
    ),
    case(
        "where",
        "boolean-literal",
        f"SELECT count(*) AS n FROM {M} WHERE true AND device_id = 'm-0001'",
    ),
    case("where", "false", f"SELECT count(*) AS n FROM {M} WHERE false"),
    case("where", "empty-result", f"SELECT device_id, time FROM {M} WHERE device_id = 'nope'"),
    case(
        "where",
        "dimension-and-measure",
        f"SELECT time, temperature FROM {M} WHERE device_id = 'm-0009' AND temperature > 72",
    ),
]

GROUP_CASES = [
    case(
        "group",
        "one-key",
        f"SELECT factory, count(*) AS n, avg(temperature) AS t FROM {M} GROUP BY factory",
    ),
    case(
        "group",
        "two-keys",
        f"SELECT factory, device_id, max(pressure) AS p FROM {M} GROUP BY factory, device_id",
    ),
    case(
        "group", "ordinals", f"SELECT factory, device_id, min(energy) AS e FROM {M} GROUP BY 1, 2"
    ),
    case(
        "group",
        "ordinal-expression",
        f"SELECT substr(device_id, 1, 4) AS prefix, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "group",
        "bin-1h",
        f"SELECT bin(time, 1h) AS h, count(*) AS n FROM {M} GROUP BY bin(time, 1h)",
        f"SELECT ts_bin(time, 3600) AS h, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "group",
        "bin-ordinal",
        f"SELECT device_id, bin(time, 15m) AS t, avg(temperature) AS v FROM {M} WHERE factory = "
        "'f-1' GROUP BY 1, 2",
        f"SELECT device_id, ts_bin(time, 900) AS t, avg(temperature) AS v FROM {M} WHERE factory "
        "= 'f-1' GROUP BY 1, 2",
    ),
    case("group", "no-aggregate", f"SELECT factory FROM {M} GROUP BY factory"),
    case(
        "group",
        "expression-key",
        f"SELECT temperature > 75 AS hot, count(*) AS n FROM {M} GROUP BY temperature > 75",
    ),
    case(
        "group",
        "case-key",
        "SELECT CASE WHEN vibration > 1.5 THEN 'high' ELSE 'low' END AS v, count(*) AS n FROM "
        f"{M} GROUP BY 1",
    ),
    case(
        "group",
        "having",
        f"SELECT device_id, avg(temperature) AS t FROM {M} GROUP BY device_id HAVING "
        "avg(temperature) > 70",
    ),
    case(
        "group",
        "having-count",
        f"SELECT factory, count(DISTINCT device_id) AS d FROM {M} GROUP BY factory HAVING "
        "count(*) > 1500",
    ),
    case(
        "group",
        "having-not-selected",
        f"SELECT device_id FROM {M} GROUP BY device_id HAVING max(vibration) > 1.6",
    ),
    case(
        "group",
        "having-and",
        f"SELECT device_id, min(energy) AS lo FROM {M} GROUP BY device_id HAVING min(energy) < "
        "40 AND count(*) > 100",
    ),
    case("group", "having-no-group", f"SELECT count(*) AS n FROM {M} HAVING count(*) > 0"),
    case(
        "group",
        "count-distinct",
        f"SELECT factory, count(DISTINCT device_id) AS devices FROM {M} GROUP BY factory",
    ),
    case(
        "group",
        "grouping-sets",
        f"SELECT factory, device_id, count(*) AS n FROM {M} GROUP BY GROUPING SETS ((factory), "
        "(device_id), ())",
    ),
    case(
        "group",
        "rollup",
        f"SELECT factory, device_id, count(*) AS n FROM {M} GROUP BY ROLLUP (factory, device_id)",
    ),
    case(
        "group",
        "cube",
        f"SELECT factory, bin(time, 5h) AS t, count(*) AS n FROM {M} GROUP BY CUBE (factory, "
        "bin(time, 5h))",
        f"SELECT factory, ts_bin(time, 18000) AS t, count(*) AS n FROM {M} GROUP BY CUBE "
        "(factory, ts_bin(time, 18000))",
    ),
    case(
        "group",
        "grouping-function",
        f"SELECT factory, grouping(factory) AS g, count(*) AS n FROM {M} GROUP BY ROLLUP (factory)",
    ),
    case(
        "group",
        "group-by-time",
        f"SELECT time, count(*) AS n FROM {M} WHERE factory = 'f-2' AND time > ago(30m) GROUP BY "
        "time",
        f"SELECT time, count(*) AS n FROM {M} WHERE factory = 'f-2' AND time > ts_now() - "
        "INTERVAL 30 MINUTE GROUP BY time",
    ),
    case(
        "group",
        "aggregate-of-expression",
        "SELECT device_id, avg(temperature - 70) * 2 AS x, sum(energy) / count(energy) AS mean "
        f"FROM {M} GROUP BY device_id",
    ),
    case(
        "group",
        "group-by-distinct-keyword",
        f"SELECT factory, count(*) AS n FROM {M} GROUP BY DISTINCT factory",
        f"SELECT factory, count(*) AS n FROM {M} GROUP BY factory",
    ),
]

ORDER_CASES = [
    case(
        "order",
        "asc",
        f"SELECT device_id, time FROM {M} WHERE device_id = 'm-0002' ORDER BY time",
        ordered=True,
    ),
    case(
        "order",
        "desc-limit",
        f"SELECT device_id, time, temperature FROM {M} ORDER BY time DESC, device_id LIMIT 25",
        ordered=True,
    ),
    case(
        "order",
        "two-keys",
        f"SELECT factory, device_id, count(*) AS n FROM {M} GROUP BY 1, 2 ORDER BY factory DESC, "
        "device_id ASC",
        ordered=True,
    ),
    case(
        "order",
        "ordinal",
        f"SELECT device_id, max(temperature) AS t FROM {M} GROUP BY 1 ORDER BY 2 DESC",
        ordered=True,
    ),
    case(
        "order",
        "alias",
        f"SELECT device_id, avg(energy) AS e FROM {M} GROUP BY device_id ORDER BY e",
        ordered=True,
    ),
    case(
        "order",
        "expression",
        f"SELECT device_id, time FROM {M} WHERE factory = 'f-3' AND time > ago(20m) ORDER BY "
        "abs(temperature - 70), device_id",
        f"SELECT device_id, time FROM {M} WHERE factory = 'f-3' AND time > ts_now() - INTERVAL "
        "20 MINUTE ORDER BY abs(temperature - 70), device_id",
        ordered=True,
    ),
    case(
        "order",
        "not-selected",
        f"SELECT device_id FROM {M} GROUP BY device_id ORDER BY min(time), device_id",
        ordered=True,
    ),
    case(
        "order",
        "limit",
        f"SELECT time, temperature FROM {M} WHERE device_id = 'm-0001' ORDER BY time LIMIT 5",
        ordered=True,
    ),
    case("order", "limit-0", f"SELECT time FROM {M} ORDER BY time LIMIT 0", ordered=True),
    case(
        "order",
        "limit-all",
        f"SELECT DISTINCT factory FROM {M} ORDER BY factory LIMIT ALL",
        f"SELECT DISTINCT factory FROM {M} ORDER BY factory",
        ordered=True,
    ),
    case("order", "limit-no-order", f"SELECT count(*) AS n FROM (SELECT * FROM {M} LIMIT 17)"),
    case(
        "order",
        "offset-limit",
        f"SELECT time FROM {M} WHERE device_id = 'm-0004' ORDER BY time OFFSET 10 LIMIT 5",
        f"SELECT time FROM {M} WHERE device_id = 'm-0004' ORDER BY time LIMIT 5 OFFSET 10",
        ordered=True,
    ),
    case(
        "order",
        "offset-only",
        f"SELECT time FROM {M} WHERE device_id = 'm-0004' ORDER BY time OFFSET 595",
        f"SELECT time FROM {M} WHERE device_id = 'm-0004' ORDER BY time OFFSET 595",
        ordered=True,
    ),
    case(
        "order",
        "fetch-first",
        f"SELECT time FROM {M} WHERE device_id = 'm-0005' ORDER BY time DESC FETCH FIRST 3 ROWS "
        "ONLY",
        f"SELECT time FROM {M} WHERE device_id = 'm-0005' ORDER BY time DESC LIMIT 3",
        ordered=True,
    ),
    case(
        "order",
        "nulls-first",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ago(3m) ORDER BY pressure NULLS "
        "FIRST, device_id, time",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ts_now() - INTERVAL 3 MINUTE "
        "ORDER BY pressure NULLS FIRST, device_id, time",
        ordered=True,
    ),
    case(
        "order",
        "nulls-default-asc",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ago(3m) ORDER BY pressure, "
        "device_id, time",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ts_now() - INTERVAL 3 MINUTE "
        "ORDER BY pressure NULLS LAST, device_id, time",
        ordered=True,
    ),
    case(
        "order",
        "nulls-default-desc",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ago(3m) ORDER BY pressure DESC, "
        "device_id, time",
        f"SELECT device_id, time, pressure FROM {M} WHERE time > ts_now() - INTERVAL 3 MINUTE "
        "ORDER BY pressure DESC NULLS LAST, device_id, time",
        ordered=True,
    ),
    case(
        "order",
        "subquery-top-n",
        f"SELECT device_id, t FROM (SELECT device_id, max(temperature) AS t FROM {M} GROUP BY "
        "device_id ORDER BY t DESC LIMIT 3)",
    ),
    case(
        "order",
        "by-string-desc",
        f"SELECT DISTINCT device_id FROM {M} ORDER BY device_id DESC LIMIT 4",
        ordered=True,
    ),
]

DISTINCT_CASES = [
    case("distinct", "one-column", f"SELECT DISTINCT factory FROM {M}"),
    case("distinct", "two-columns", f"SELECT DISTINCT factory, device_id FROM {M}"),
    case(
        "distinct",
        "expression",
        f"SELECT DISTINCT bin(time, 1h) AS h FROM {M}",
        f"SELECT DISTINCT ts_bin(time, 3600) AS h FROM {M}",
    ),
    case(
        "distinct",
        "order-by",
        f"SELECT DISTINCT device_id FROM {M} WHERE factory = 'f-0' ORDER BY device_id",
        ordered=True,
    ),
    case(
        "distinct",
        "count-distinct-multiple",
        f"SELECT count(DISTINCT device_id) AS d, count(DISTINCT factory) AS f FROM {M}",
    ),
    case(
        "distinct",
        "sum-distinct",
        f"SELECT sum(DISTINCT round(temperature)) AS s FROM {M} WHERE device_id = 'm-0000'",
    ),
    case("distinct", "avg-distinct", f"SELECT avg(DISTINCT floor(energy)) AS a FROM {M}"),
]

CTE_CASES = [
    case(
        "cte",
        "single",
        f"WITH hot AS (SELECT device_id, temperature FROM {M} WHERE temperature > 78) SELECT "
        "device_id, count(*) AS n FROM hot GROUP BY device_id",
    ),
    case(
        "cte",
        "chained",
        f"WITH a AS (SELECT device_id, avg(temperature) AS t FROM {M} GROUP BY device_id), b AS "
        "(SELECT avg(t) AS fleet FROM a) SELECT a.device_id, a.t - b.fleet AS delta FROM a, b",
    ),
    case(
        "cte",
        "used-twice",
        f"WITH h AS (SELECT device_id, bin(time, 1h) AS hr, avg(temperature) AS t FROM {M} GROUP "
        "BY 1, 2) SELECT x.device_id, x.hr, x.t - y.t AS d FROM h x JOIN h y ON x.device_id = "
        "y.device_id AND y.hr = x.hr - 1h",
        f"WITH h AS (SELECT device_id, ts_bin(time, 3600) AS hr, avg(temperature) AS t FROM {M} "
        "GROUP BY 1, 2) SELECT x.device_id, x.hr, x.t - y.t AS d FROM h x JOIN h y ON "
        "x.device_id = y.device_id AND y.hr = x.hr - INTERVAL 1 HOUR",
    ),
    case(
        "cte",
        "aggregate-then-filter",
        f"WITH per_device AS (SELECT device_id, count(*) AS n, max(vibration) AS v FROM {M} "
        "GROUP BY device_id) SELECT device_id FROM per_device WHERE v > 1.6 AND n > 100",
    ),
    case(
        "cte",
        "three-levels",
        f"WITH a AS (SELECT * FROM {M} WHERE factory = 'f-1'), b AS (SELECT device_id, "
        "temperature FROM a WHERE temperature > 70), c AS (SELECT device_id, count(*) AS n FROM "
        "b GROUP BY device_id) SELECT * FROM c",
    ),
    case(
        "cte",
        "shadows-table",
        f"WITH {M} AS (SELECT device_id FROM {DB}.{M} WHERE factory = 'f-2') SELECT count(*) AS "
        f"n FROM {M}",
        f"WITH x AS (SELECT device_id FROM {M} WHERE factory = 'f-2') SELECT count(*) AS n FROM x",
    ),
    case(
        "cte",
        "column-list",
        f"WITH t(d, n) AS (SELECT device_id, count(*) FROM {M} GROUP BY device_id) SELECT d, n "
        "FROM t WHERE n > 0",
    ),
    case(
        "cte",
        "in-subquery",
        f"WITH top AS (SELECT device_id FROM {M} GROUP BY device_id ORDER BY max(temperature) "
        f"DESC LIMIT 2) SELECT device_id, avg(energy) AS e FROM {M} WHERE device_id IN (SELECT "
        "device_id FROM top) GROUP BY device_id",
    ),
    case(
        "cte",
        "with-union",
        f"WITH a AS (SELECT device_id FROM {M} WHERE temperature > 79), b AS (SELECT device_id "
        f"FROM {M} WHERE vibration > 1.65) SELECT device_id FROM a UNION SELECT device_id FROM b",
    ),
]

SUBQUERY_CASES = [
    case(
        "subquery",
        "in",
        f"SELECT device_id, count(*) AS n FROM {M} WHERE device_id IN (SELECT device_id FROM {M} "
        "WHERE temperature > 79) GROUP BY device_id",
    ),
    case(
        "subquery",
        "not-in",
        f"SELECT DISTINCT device_id FROM {M} WHERE device_id NOT IN (SELECT device_id FROM {M} "
        "WHERE temperature > 79)",
    ),
    case(
        "subquery",
        "not-in-with-null",
        f"SELECT count(*) AS n FROM {M} WHERE temperature NOT IN (SELECT pressure FROM {M} WHERE "
        "device_id = 'm-0012')",
    ),
    case(
        "subquery",
        "exists-correlated",
        f"SELECT DISTINCT a.device_id FROM {M} a WHERE EXISTS (SELECT 1 FROM {M} b WHERE "
        "b.device_id = a.device_id AND b.vibration > 1.6)",
    ),
    case(
        "subquery",
        "not-exists",
        f"SELECT DISTINCT a.device_id FROM {M} a WHERE NOT EXISTS (SELECT 1 FROM {M} b WHERE "
        "b.device_id = a.device_id AND b.temperature > 78)",
    ),
    case(
        "subquery",
        "exists-uncorrelated",
        f"SELECT count(*) AS n FROM {M} WHERE EXISTS (SELECT 1 FROM {M} WHERE temperature > 79)",
    ),
    case(
        "subquery",
        "scalar-where",
        f"SELECT device_id, time FROM {M} WHERE temperature > (SELECT avg(temperature) + 1.5 * "
        f"stddev(temperature) FROM {M})",
    ),
    case(
        "subquery",
        "scalar-select",
        f"SELECT device_id, max(temperature) - (SELECT max(temperature) FROM {M}) AS below FROM "
        f"{M} GROUP BY device_id",
    ),
    case(
        "subquery",
        "scalar-correlated",
        f"SELECT a.device_id, a.time FROM {M} a WHERE a.temperature = (SELECT max(b.temperature) "
        f"FROM {M} b WHERE b.device_id = a.device_id)",
    ),
    case(
        "subquery",
        "derived-table",
        "SELECT f, avg(t) AS t FROM (SELECT factory AS f, device_id, max(temperature) AS t FROM "
        f"{M} GROUP BY 1, 2) GROUP BY f",
    ),
    case(
        "subquery",
        "derived-aliased",
        f"SELECT x.device_id, x.n FROM (SELECT device_id, count(*) AS n FROM {M} GROUP BY "
        "device_id) AS x WHERE x.n > 500",
    ),
    case(
        "subquery",
        "nested",
        f"SELECT max(n) AS m FROM (SELECT factory, count(*) AS n FROM (SELECT * FROM {M} WHERE "
        "temperature > 70) GROUP BY factory)",
    ),
    case(
        "subquery",
        "having-subquery",
        f"SELECT device_id, avg(temperature) AS t FROM {M} GROUP BY device_id HAVING "
        f"avg(temperature) > (SELECT avg(temperature) FROM {M})",
    ),
    case(
        "subquery",
        "any",
        f"SELECT DISTINCT device_id FROM {M} WHERE temperature > ANY (SELECT temperature FROM "
        f"{M} WHERE device_id = 'm-0012') AND factory = 'f-3'",
    ),
    case(
        "subquery",
        "all",
        f"SELECT device_id, time FROM {M} WHERE temperature > ALL (SELECT temperature FROM {M} "
        "WHERE device_id <> 'm-0012' AND factory = 'f-0')",
    ),
    case(
        "subquery",
        "in-select-list",
        f"SELECT device_id, device_id IN (SELECT device_id FROM {M} WHERE vibration > 1.6) AS "
        f"shaky FROM {M} GROUP BY device_id",
    ),
    case(
        "subquery",
        "scalar-no-row",
        f"SELECT (SELECT max(temperature) FROM {M} WHERE device_id = 'x') AS m",
    ),
]

SETOP_CASES = [
    case(
        "setop",
        "union",
        f"SELECT device_id FROM {M} WHERE temperature > 79 UNION SELECT device_id FROM {M} WHERE "
        "vibration > 1.65",
    ),
    case(
        "setop",
        "union-all",
        f"SELECT factory FROM {M} WHERE temperature > 79 UNION ALL SELECT factory FROM {M} WHERE "
        "vibration > 1.65",
    ),
    case(
        "setop",
        "intersect",
        f"SELECT device_id FROM {M} WHERE temperature > 77 INTERSECT SELECT device_id FROM {M} "
        "WHERE vibration > 1.5",
    ),
    case(
        "setop",
        "except",
        f"SELECT device_id FROM {M} EXCEPT SELECT device_id FROM {M} WHERE temperature > 78",
    ),
    case(
        "setop",
        "union-distinct-keyword",
        f"SELECT factory FROM {M} UNION DISTINCT SELECT factory FROM {M}",
    ),
    case(
        "setop",
        "intersect-all",
        f"SELECT factory FROM {M} WHERE temperature > 78 INTERSECT ALL SELECT factory FROM {M} "
        "WHERE vibration > 1.5",
    ),
    case(
        "setop",
        "except-all",
        f"SELECT factory FROM {M} WHERE temperature > 78 EXCEPT ALL SELECT factory FROM {M} "
        "WHERE vibration > 1.5",
    ),
    case(
        "setop",
        "union-order-limit",
        f"SELECT device_id, max(temperature) AS t FROM {M} GROUP BY 1 UNION ALL SELECT 'fleet', "
        f"max(temperature) FROM {M} ORDER BY t DESC, device_id LIMIT 3",
        ordered=True,
    ),
    case(
        "setop",
        "chain",
        f"SELECT device_id FROM {M} WHERE factory = 'f-0' UNION SELECT device_id FROM {M} WHERE "
        f"factory = 'f-1' EXCEPT SELECT device_id FROM {M} WHERE device_id = 'm-0001'",
    ),
    case(
        "setop",
        "two-tables",
        f"SELECT device_id AS name FROM {M} UNION SELECT host FROM host_stats",
    ),
    case(
        "setop",
        "parenthesized",
        f"(SELECT device_id FROM {M} WHERE factory = 'f-2') UNION (SELECT device_id FROM {M} "
        "WHERE factory = 'f-3')",
    ),
    case(
        "setop",
        "in-cte",
        f"WITH ids AS (SELECT device_id FROM {M} WHERE factory = 'f-0' UNION ALL SELECT "
        f"device_id FROM {M} WHERE factory = 'f-0') SELECT device_id, count(*) AS n FROM ids "
        "GROUP BY device_id",
    ),
]

CASE_CASES = [
    case(
        "case",
        "searched",
        "SELECT device_id, CASE WHEN temperature > 78 THEN 'hot' WHEN temperature > 70 THEN "
        f"'warm' ELSE 'ok' END AS state FROM {M} WHERE time > ago(10m)",
        "SELECT device_id, CASE WHEN temperature > 78 THEN 'hot' WHEN temperature > 70 THEN "
        f"'warm' ELSE 'ok' END AS state FROM {M} WHERE time > ts_now() - INTERVAL 10 MINUTE",
    ),
    case(
        "case",
        "simple",
        "SELECT device_id, CASE factory WHEN 'f-0' THEN 'north' WHEN 'f-1' THEN 'south' ELSE "
        f"'other' END AS area FROM {M} GROUP BY device_id, factory",
    ),
    case(
        "case",
        "no-else",
        f"SELECT device_id, CASE WHEN factory = 'f-0' THEN 1 END AS x FROM {M} GROUP BY "
        "device_id, factory",
    ),
    case(
        "case",
        "nested",
        "SELECT CASE WHEN factory IN ('f-0', 'f-1') THEN CASE WHEN temperature > 75 THEN 'a' "
        f"ELSE 'b' END ELSE 'c' END AS k, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "case",
        "pivot",
        "SELECT device_id, avg(CASE WHEN factory = 'f-0' THEN temperature END) AS t0, sum(CASE "
        f"WHEN temperature > 75 THEN 1 ELSE 0 END) AS warm FROM {M} GROUP BY device_id",
    ),
    case(
        "case",
        "if",
        f"SELECT device_id, if(max(temperature) > 80, 'hot', 'ok') AS s FROM {M} GROUP BY "
        "device_id",
        "SELECT device_id, CASE WHEN max(temperature) > 80 THEN 'hot' ELSE 'ok' END AS s FROM "
        f"{M} GROUP BY device_id",
    ),
    case(
        "case",
        "if-no-else",
        f"SELECT device_id, if(device_id = 'm-0001', 1) AS s FROM {M} GROUP BY device_id",
        f"SELECT device_id, CASE WHEN device_id = 'm-0001' THEN 1 END AS s FROM {M} GROUP BY "
        "device_id",
    ),
    case(
        "case",
        "coalesce",
        f"SELECT device_id, time, coalesce(pressure, vibration, -1.0) AS p FROM {M} WHERE time > "
        "ago(5m)",
        f"SELECT device_id, time, coalesce(pressure, vibration, -1.0) AS p FROM {M} WHERE time > "
        "ts_now() - INTERVAL 5 MINUTE",
    ),
    case(
        "case",
        "nullif",
        f"SELECT device_id, nullif(factory, 'f-0') AS f FROM {M} GROUP BY device_id, factory",
    ),
    case("case", "case-null-when", "SELECT CASE NULL WHEN NULL THEN 'eq' ELSE 'not' END AS r"),
    case(
        "case",
        "in-where",
        f"SELECT count(*) AS n FROM {M} WHERE CASE WHEN factory = 'f-0' THEN temperature > 75 "
        "ELSE temperature > 78 END",
    ),
    case(
        "case",
        "in-order-by",
        f"SELECT DISTINCT factory FROM {M} ORDER BY CASE factory WHEN 'f-2' THEN 0 ELSE 1 END, "
        "factory",
        ordered=True,
    ),
]

CAST_CASES = [
    case(
        "cast",
        "double-to-bigint",
        f"SELECT device_id, time, CAST(temperature AS bigint) AS t FROM {M} WHERE device_id IN "
        "('m-0001', 'm-0002')",
        f"SELECT device_id, time, ts_round_cast(temperature) AS t FROM {M} WHERE device_id IN "
        "('m-0001', 'm-0002')",
    ),
    case(
        "cast",
        "double-literal-to-bigint",
        "SELECT CAST(DOUBLE '2.5' AS bigint) AS a, CAST(DOUBLE '3.5' AS bigint) AS b, "
        "CAST(DOUBLE '2.4' AS bigint) AS c",
        "SELECT 3 AS a, 4 AS b, 2 AS c",
    ),
    case(
        "cast",
        "decimal-literal-to-bigint",
        "SELECT CAST(2.5 AS bigint) AS a, CAST(3.5 AS integer) AS b",
        "SELECT 3 AS a, 4 AS b",
    ),
    case(
        "cast",
        "double-to-integer",
        f"SELECT CAST(energy AS integer) AS e FROM {M} WHERE device_id = 'm-0003'",
        f"SELECT ts_round_cast(energy) AS e FROM {M} WHERE device_id = 'm-0003'",
    ),
    case(
        "cast",
        "varchar-dimension",
        f"SELECT CAST(device_id AS varchar) AS d FROM {M} GROUP BY device_id",
    ),
    case(
        "cast", "string-to-bigint", "SELECT CAST('42' AS bigint) AS a, CAST('-7' AS integer) AS b"
    ),
    case(
        "cast", "string-to-double", "SELECT CAST('3.25' AS double) AS a, CAST('1e3' AS double) AS b"
    ),
    case("cast", "int-to-double", f"SELECT CAST(count(*) AS double) / 7 AS x FROM {M}"),
    case("cast", "bigint-to-varchar", "SELECT CAST(123 AS varchar) AS a, CAST(-5 AS varchar) AS b"),
    case(
        "cast",
        "boolean",
        "SELECT CAST('true' AS boolean) AS a, CAST(true AS varchar) AS b, CAST(0 AS boolean) AS c",
    ),
    case(
        "cast",
        "try-cast-bad",
        "SELECT try_cast('abc' AS double) AS a, try_cast('12' AS bigint) AS b, try_cast('x' AS "
        "boolean) AS c",
    ),
    case(
        "cast",
        "try-cast-column",
        f"SELECT try_cast(substr(device_id, 3) AS bigint) AS n FROM {M} GROUP BY device_id",
    ),
    case(
        "cast",
        "timestamp-to-date",
        f"SELECT CAST(time AS date) AS d, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "cast", "string-to-date", "SELECT CAST('2024-06-01' AS date) AS d, DATE '2024-02-29' AS e"
    ),
    case(
        "cast",
        "string-to-timestamp",
        "SELECT CAST('2024-06-01 12:34:56.789' AS timestamp) AS t, TIMESTAMP '2024-06-01 "
        "01:02:03' AS u",
        "SELECT TIMESTAMPTZ '2024-06-01 12:34:56.789+00' AS t, TIMESTAMPTZ '2024-06-01 "
        "01:02:03+00' AS u",
    ),
    case(
        "cast",
        "timestamp-to-varchar",
        f"SELECT CAST(time AS varchar) AS s FROM {M} WHERE device_id = 'm-0001' AND time > ago(3m)",
        f"SELECT strftime(time, '%Y-%m-%d %H:%M:%S.%g') || '000000' AS s FROM {M} WHERE "
        "device_id = 'm-0001' AND time > ts_now() - INTERVAL 3 MINUTE",
    ),
    case(
        "cast",
        "decimal",
        "SELECT CAST(1.005 AS decimal(10, 2)) AS a, CAST('12.345' AS decimal(6, 3)) AS b",
    ),
    case(
        "cast",
        "double-to-decimal",
        f"SELECT device_id, CAST(max(temperature) AS decimal(10, 1)) AS t FROM {M} GROUP BY "
        "device_id",
    ),
    case(
        "cast",
        "typed-literals",
        "SELECT DOUBLE '1.25' AS a, BIGINT '12' AS b, VARCHAR 'x' AS c, BOOLEAN 'true' AS d",
        "SELECT 1.25::DOUBLE AS a, 12::BIGINT AS b, 'x' AS c, true AS d",
    ),
]

JOIN_CASES = [
    case(
        "join",
        "inner-self",
        f"SELECT a.device_id, count(*) AS n FROM {M} a JOIN {M} b ON a.device_id = b.device_id "
        "AND a.time = b.time WHERE a.factory = 'f-1' GROUP BY a.device_id",
    ),
    case(
        "join",
        "inner-keyword",
        f"SELECT a.device_id, a.time, b.temperature - a.temperature AS d FROM {M} a INNER JOIN "
        f"{M} b ON a.device_id = b.device_id AND bin(b.time, 1m) = bin(a.time, 1m) + 1m "
        "WHERE a.device_id = 'm-0002'",
        f"SELECT a.device_id, a.time, b.temperature - a.temperature AS d FROM {M} a INNER JOIN "
        f"{M} b ON a.device_id = b.device_id AND ts_bin(b.time, 60) = ts_bin(a.time, 60) + "
        "INTERVAL 1 MINUTE WHERE a.device_id = 'm-0002'",
    ),
    case(
        "join",
        "left",
        f"SELECT a.device_id, a.time, b.temperature AS hot FROM {M} a LEFT JOIN (SELECT "
        f"device_id, time, temperature FROM {M} WHERE temperature > 76) b ON a.device_id = "
        "b.device_id AND a.time = b.time WHERE a.factory = 'f-3'",
    ),
    case(
        "join",
        "left-outer-keyword",
        f"SELECT d.device_id, x.n FROM (SELECT DISTINCT device_id FROM {M}) d LEFT OUTER JOIN "
        f"(SELECT device_id, count(*) AS n FROM {M} WHERE vibration > 1.5 GROUP BY device_id) x ON "
        "d.device_id = x.device_id",
    ),
    case(
        "join",
        "right",
        f"SELECT x.n, d.device_id FROM (SELECT device_id, count(*) AS n FROM {M} WHERE vibration "
        f"> 2 GROUP BY device_id) x RIGHT JOIN (SELECT DISTINCT device_id FROM {M}) d ON "
        "d.device_id = x.device_id",
    ),
    case(
        "join",
        "full",
        f"SELECT a.device_id AS a, b.device_id AS b FROM (SELECT DISTINCT device_id FROM {M} "
        f"WHERE temperature > 78.5) a FULL OUTER JOIN (SELECT DISTINCT device_id FROM {M} WHERE "
        "vibration > 1.55) b ON a.device_id = b.device_id",
    ),
    case(
        "join",
        "full-no-outer",
        "SELECT coalesce(a.f, b.f) AS f, a.n AS hot, b.n AS shaky FROM (SELECT factory AS f, "
        f"count(*) AS n FROM {M} WHERE temperature > 78.5 GROUP BY 1) a FULL JOIN (SELECT factory "
        f"AS f, count(*) AS n FROM {M} WHERE vibration > 1.55 GROUP BY 1) b ON a.f = b.f",
    ),
    case(
        "join",
        "cross",
        f"SELECT a.factory, b.k FROM (SELECT DISTINCT factory FROM {M}) a CROSS JOIN (SELECT "
        f"DISTINCT substr(device_id, 6) AS k FROM {M} WHERE device_id < 'm-0003') b",
    ),
    case(
        "join",
        "comma",
        f"SELECT a.device_id, b.fleet_max FROM (SELECT device_id, max(temperature) AS t FROM {M} "
        f"GROUP BY 1) a, (SELECT max(temperature) AS fleet_max FROM {M}) b WHERE a.t = "
        "b.fleet_max",
    ),
    case(
        "join",
        "comma-correlating-where",
        f"SELECT a.device_id, a.time FROM {M} a, {M} b WHERE a.device_id = b.device_id AND "
        "a.time = b.time AND a.temperature > 79",
    ),
    case(
        "join",
        "using",
        f"SELECT device_id, a.n, b.m FROM (SELECT device_id, count(*) AS n FROM {M} GROUP BY 1) "
        f"a JOIN (SELECT device_id, max(energy) AS m FROM {M} GROUP BY 1) b USING (device_id)",
    ),
    case(
        "join",
        "values-table",
        f"SELECT m.factory, f.area, count(*) AS n FROM {M} m JOIN (VALUES ('f-0', 'north'), "
        "('f-1', 'south')) AS f(factory, area) ON m.factory = f.factory GROUP BY 1, 2",
    ),
    case(
        "join",
        "three-way",
        f"SELECT a.device_id, a.time FROM {M} a JOIN {M} b ON a.device_id = b.device_id AND "
        f"date_trunc('minute', b.time) = date_trunc('minute', a.time) - 1m JOIN {M} c ON "
        "a.device_id = c.device_id AND date_trunc('minute', c.time) = date_trunc('minute', "
        "a.time) - 2m WHERE a.temperature > b.temperature AND b.temperature > c.temperature AND "
        "a.device_id = 'm-0006'",
        f"SELECT a.device_id, a.time FROM {M} a JOIN {M} b ON a.device_id = b.device_id AND "
        f"ts_bin(b.time, 60) = ts_bin(a.time, 60) - INTERVAL 1 MINUTE JOIN {M} c ON a.device_id "
        "= c.device_id AND ts_bin(c.time, 60) = ts_bin(a.time, 60) - INTERVAL 2 MINUTE WHERE "
        "a.temperature > b.temperature AND b.temperature > c.temperature AND a.device_id = "
        "'m-0006'",
    ),
    case(
        "join",
        "latest-per-device",
        f"SELECT a.device_id, a.time, a.temperature FROM {M} a JOIN (SELECT device_id, max(time) "
        f"AS t FROM {M} GROUP BY device_id) b ON a.device_id = b.device_id AND a.time = b.t",
    ),
    case(
        "join",
        "non-equi",
        f"SELECT a.time, count(b.time) AS n FROM {M} a JOIN {M} b ON b.device_id = a.device_id "
        "AND b.time BETWEEN a.time - 5m AND a.time WHERE a.device_id = 'm-0008' AND a.time > "
        "ago(1h) GROUP BY a.time",
        f"SELECT a.time, count(b.time) AS n FROM {M} a JOIN {M} b ON b.device_id = a.device_id "
        "AND b.time BETWEEN a.time - INTERVAL 5 MINUTE AND a.time WHERE a.device_id = 'm-0008' "
        "AND a.time > ts_now() - INTERVAL 1 HOUR GROUP BY a.time",
    ),
    case(
        "join",
        "two-tables",
        "SELECT h.host, m.device_id FROM (SELECT DISTINCT host FROM host_stats) h CROSS JOIN "
        f"(SELECT DISTINCT device_id FROM {M} WHERE factory = 'f-0') m",
    ),
    case(
        "join",
        "self-different-filters",
        f"SELECT a.device_id, avg(a.temperature) AS recent, avg(b.temperature) AS old FROM {M} a "
        f"JOIN {M} b ON a.device_id = b.device_id AND bin(b.time, 1m) = bin(a.time, 1m) - 9h "
        "WHERE a.time > ago(1h) GROUP BY a.device_id",
        f"SELECT a.device_id, avg(a.temperature) AS recent, avg(b.temperature) AS old FROM {M} a "
        f"JOIN {M} b ON a.device_id = b.device_id AND ts_bin(b.time, 60) = ts_bin(a.time, 60) - "
        "INTERVAL 9 HOUR WHERE a.time > ts_now() - INTERVAL 1 HOUR GROUP BY a.device_id",
    ),
    case(
        "join",
        "left-null-key",
        f"SELECT a.device_id, a.time, b.device_id AS other FROM {M} a LEFT JOIN {M} b ON "
        "a.pressure = b.pressure AND a.device_id <> b.device_id WHERE a.device_id = 'm-0012'",
    ),
]

TIME_CASES = [
    case("time", "now", "SELECT now() AS t", f"SELECT {NOW_SQL} AS t"),
    case("time", "current-timestamp", "SELECT current_timestamp AS t", f"SELECT {NOW_SQL} AS t"),
    case("time", "current-date", "SELECT current_date AS d", "SELECT DATE '2024-06-02' AS d"),
    case(
        "time",
        "ago",
        "SELECT ago(1h) AS a, ago(90s) AS b, ago(1d) AS c",
        f"SELECT {NOW_SQL} - INTERVAL 1 HOUR AS a, {NOW_SQL} - INTERVAL 90 SECOND AS b, "
        f"{NOW_SQL} - INTERVAL 1 DAY AS c",
    ),
    case(
        "time",
        "ago-decimal",
        "SELECT ago(1.5h) AS a",
        f"SELECT {NOW_SQL} - INTERVAL 90 MINUTE AS a",
    ),
    case(
        "time",
        "ago-ms",
        "SELECT ago(250ms) AS a",
        f"SELECT {NOW_SQL} - INTERVAL 250 MILLISECOND AS a",
    ),
    case(
        "time",
        "duration-arith",
        "SELECT now() - 12h AS a, now() + (1h + 30m) AS b, now() - INTERVAL '12' HOUR AS c",
        f"SELECT {NOW_SQL} - INTERVAL 12 HOUR AS a, {NOW_SQL} + INTERVAL 90 MINUTE AS b, "
        f"{NOW_SQL} - INTERVAL 12 HOUR AS c",
    ),
    case(
        "time",
        "bin-30s",
        f"SELECT bin(time, 30s) AS b, count(*) AS n FROM {M} WHERE device_id = 'm-0001' GROUP BY 1",
        f"SELECT ts_bin(time, 30) AS b, count(*) AS n FROM {M} WHERE device_id = 'm-0001' GROUP "
        "BY 1",
    ),
    case(
        "time",
        "bin-1d",
        f"SELECT bin(time, 1d) AS b, count(*) AS n FROM {M} GROUP BY 1",
        f"SELECT ts_bin(time, 86400) AS b, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "time",
        "bin-7m",
        f"SELECT bin(time, 7m) AS b, avg(energy) AS e FROM {M} WHERE factory = 'f-0' GROUP BY 1",
        f"SELECT ts_bin(time, 420) AS b, avg(energy) AS e FROM {M} WHERE factory = 'f-0' GROUP "
        "BY 1",
    ),
    case(
        "time",
        "bin-now",
        "SELECT bin(now(), 10m) AS b, bin(TIMESTAMP '2024-06-01 12:34:56', 1h) AS c",
        f"SELECT {NOW_SQL} AS b, TIMESTAMPTZ '2024-06-01 12:00:00+00' AS c",
    ),
    case(
        "time",
        "bin-interval-literal",
        f"SELECT bin(time, INTERVAL '20' MINUTE) AS b, count(*) AS n FROM {M} GROUP BY 1",
        f"SELECT ts_bin(time, 1200) AS b, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "time",
        "bin-plus-offset",
        f"SELECT bin(time, 1h) + 30m AS mid, count(*) AS n FROM {M} GROUP BY 1",
        f"SELECT ts_bin(time, 3600) + INTERVAL 30 MINUTE AS mid, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "time",
        "date-trunc",
        f"SELECT date_trunc('hour', time) AS h, date_trunc('minute', time) AS m FROM {M} WHERE "
        "device_id = 'm-0003' AND time > ago(30m)",
        f"SELECT ts_bin(time, 3600) AS h, ts_bin(time, 60) AS m FROM {M} WHERE device_id = "
        "'m-0003' AND time > ts_now() - INTERVAL 30 MINUTE",
    ),
    case(
        "time",
        "date-trunc-day-month",
        "SELECT date_trunc('day', TIMESTAMP '2024-06-01 12:34:56') AS d, date_trunc('month', "
        "TIMESTAMP '2024-06-15 12:00:00') AS m, date_trunc('year', TIMESTAMP '2024-06-15 "
        "12:00:00') AS y",
        "SELECT TIMESTAMPTZ '2024-06-01 00:00:00+00' AS d, TIMESTAMPTZ '2024-06-01 00:00:00+00' "
        "AS m, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS y",
    ),
    case(
        "time",
        "date-add",
        "SELECT time, date_add('minute', 30, time) AS a, date_add('day', -1, time) AS b, "
        f"date_add('hour', 2, time) AS c FROM {M} WHERE device_id = 'm-0000' AND time > ago(5m)",
        "SELECT time, time + INTERVAL 30 MINUTE AS a, time - INTERVAL 1 DAY AS b, time + "
        f"INTERVAL 2 HOUR AS c FROM {M} WHERE device_id = 'm-0000' AND time > ts_now() - "
        "INTERVAL 5 MINUTE",
    ),
    case(
        "time",
        "date-add-month",
        "SELECT date_add('month', 1, TIMESTAMP '2024-01-31 10:00:00') AS a",
        "SELECT TIMESTAMPTZ '2024-02-29 10:00:00+00' AS a",
    ),
    case(
        "time",
        "date-diff",
        "SELECT time, date_diff('second', time, now()) AS s, date_diff('minute', time, now()) "
        f"AS m, date_diff('hour', time, now()) AS h FROM {M} WHERE device_id = 'm-0005' AND time "
        "< ago(9h)",
        "SELECT time, ts_diff_ms(time, ts_now(), 1000) AS s, ts_diff_ms(time, ts_now(), 60000) "
        f"AS m, ts_diff_ms(time, ts_now(), 3600000) AS h FROM {M} WHERE device_id = 'm-0005' AND "
        "time < ts_now() - INTERVAL 9 HOUR",
    ),
    case(
        "time",
        "date-diff-negative",
        "SELECT date_diff('hour', TIMESTAMP '2024-06-01 10:30:00', TIMESTAMP '2024-06-01 "
        "08:00:00') AS h, date_diff('day', TIMESTAMP '2024-06-01 10:00:00', TIMESTAMP "
        "'2024-06-03 09:59:59') AS d",
        "SELECT -2 AS h, 1 AS d",
    ),
    case(
        "time",
        "date-diff-millisecond",
        "SELECT date_diff('millisecond', TIMESTAMP '2024-06-01 10:00:00.250', TIMESTAMP "
        "'2024-06-01 10:00:01.000') AS ms",
        "SELECT 750 AS ms",
    ),
    case(
        "time",
        "extract",
        "SELECT time, extract(YEAR FROM time) AS y, extract(MONTH FROM time) AS mo, extract(DAY "
        "FROM time) AS d, extract(HOUR FROM time) AS h, extract(MINUTE FROM time) AS mi, "
        f"extract(SECOND FROM time) AS s FROM {M} WHERE device_id = 'm-0006' AND time > ago(10m)",
        "SELECT time, year(time) AS y, month(time) AS mo, day(time) AS d, hour(time) AS h, "
        f"minute(time) AS mi, second(time) AS s FROM {M} WHERE device_id = 'm-0006' AND time > "
        "ts_now() - INTERVAL 10 MINUTE",
    ),
    case(
        "time",
        "extract-dow-doy",
        "SELECT extract(DOW FROM TIMESTAMP '2024-06-02 10:00:00') AS dow, extract(DOY FROM "
        "TIMESTAMP '2024-06-02 10:00:00') AS doy, extract(QUARTER FROM TIMESTAMP '2024-06-02 "
        "10:00:00') AS q, extract(WEEK FROM TIMESTAMP '2024-06-02 10:00:00') AS w",
        "SELECT 7 AS dow, 154 AS doy, 2 AS q, 22 AS w",
    ),
    case(
        "time",
        "field-functions",
        "SELECT time, year(time) AS y, month(time) AS mo, day(time) AS d, hour(time) AS h, "
        f"minute(time) AS mi, second(time) AS s, millisecond(time) AS ms FROM {M} WHERE "
        "device_id = 'm-0007' AND time > ago(10m)",
        "SELECT time, year(time) AS y, month(time) AS mo, day(time) AS d, hour(time) AS h, "
        "minute(time) AS mi, second(time) AS s, CAST(epoch_ms(time) % 1000 AS BIGINT) AS ms "
        f"FROM {M} WHERE device_id = 'm-0007' AND time > ts_now() - INTERVAL 10 MINUTE",
    ),
    case(
        "time",
        "day-of-week-year",
        "SELECT day_of_week(TIMESTAMP '2024-06-02 10:00:00') AS a, dow(TIMESTAMP '2024-06-03 "
        "10:00:00') AS b, day_of_year(TIMESTAMP '2024-12-31 10:00:00') AS c, doy(TIMESTAMP "
        "'2024-01-01 00:00:00') AS d, day_of_month(TIMESTAMP '2024-02-29 00:00:00') AS e",
        "SELECT 7 AS a, 1 AS b, 366 AS c, 1 AS d, 29 AS e",
    ),
    case(
        "time",
        "week-quarter",
        "SELECT week(TIMESTAMP '2024-12-30 00:00:00') AS w, week_of_year(TIMESTAMP '2024-01-01 "
        "00:00:00') AS wy, quarter(TIMESTAMP '2024-11-01 00:00:00') AS q, year_of_week(TIMESTAMP "
        "'2024-12-30 00:00:00') AS yw",
        "SELECT 1 AS w, 1 AS wy, 4 AS q, 2025 AS yw",
    ),
    case(
        "time",
        "last-day-of-month",
        "SELECT last_day_of_month(TIMESTAMP '2024-02-10 10:00:00') AS d",
        "SELECT DATE '2024-02-29' AS d",
    ),
    case(
        "time",
        "from-milliseconds",
        "SELECT from_milliseconds(1717200000123) AS t",
        "SELECT TIMESTAMPTZ '2024-06-01 00:00:00.123+00' AS t",
    ),
    case(
        "time",
        "to-milliseconds",
        f"SELECT time, to_milliseconds(time) AS ms FROM {M} WHERE device_id = 'm-0008' AND time "
        "> ago(5m)",
        f"SELECT time, epoch_ms(time) AS ms FROM {M} WHERE device_id = 'm-0008' AND time > "
        "ts_now() - INTERVAL 5 MINUTE",
    ),
    case(
        "time",
        "ms-round-trip",
        f"SELECT count(*) AS n FROM {M} WHERE from_milliseconds(to_milliseconds(time)) = time",
        f"SELECT count(*) AS n FROM {M}",
    ),
    case(
        "time",
        "from-nanoseconds",
        "SELECT from_nanoseconds(1717200000123456789) AS t, "
        "to_nanoseconds(from_nanoseconds(1717200000123456789)) AS n",
        check=lambda got, ref: _expect_values(
            got, [pd.Timestamp(1717200000123456789, tz="UTC"), 1717200000123456789]
        ),
    ),
    case(
        "time",
        "from-unixtime",
        "SELECT from_unixtime(1717200000) AS t, to_unixtime(TIMESTAMP '2024-06-01 00:00:01.5') "
        "AS u",
        "SELECT TIMESTAMPTZ '2024-06-01 00:00:00+00' AS t, 1717200001.5 AS u",
    ),
    case(
        "time",
        "from-iso8601",
        "SELECT from_iso8601_timestamp('2024-06-01T12:00:00Z') AS a, "
        "from_iso8601_timestamp('2024-06-01T12:00:00.123+02:00') AS b, "
        "from_iso8601_date('2024-06-01') AS c",
        "SELECT TIMESTAMPTZ '2024-06-01 12:00:00+00' AS a, TIMESTAMPTZ '2024-06-01 "
        "10:00:00.123+00' AS b, DATE '2024-06-01' AS c",
    ),
    case(
        "time",
        "to-iso8601",
        "SELECT to_iso8601(TIMESTAMP '2024-06-01 12:00:00.5') AS s",
        "SELECT '2024-06-01T12:00:00.500000000Z' AS s",
    ),
    case(
        "time",
        "format-datetime",
        "SELECT time, format_datetime(time, 'yyyy-MM-dd HH:mm:ss') AS s, format_datetime(time, "
        f"'EEE, d MMM yyyy') AS d FROM {M} WHERE device_id = 'm-0009' AND time > ago(5m)",
        "SELECT time, strftime(time, '%Y-%m-%d %H:%M:%S') AS s, strftime(time, '%a, %-d %b %Y') "
        f"AS d FROM {M} WHERE device_id = 'm-0009' AND time > ts_now() - INTERVAL 5 MINUTE",
    ),
    case(
        "time",
        "date-format",
        f"SELECT time, date_format(time, '%Y-%m-%d %H:%i:%s') AS s FROM {M} WHERE device_id = "
        "'m-0009' AND time > ago(5m)",
        f"SELECT time, strftime(time, '%Y-%m-%d %H:%M:%S') AS s FROM {M} WHERE device_id = "
        "'m-0009' AND time > ts_now() - INTERVAL 5 MINUTE",
    ),
    case(
        "time",
        "date-parse",
        "SELECT date_parse('2024-06-01 12:34', '%Y-%m-%d %H:%i') AS t",
        "SELECT TIMESTAMPTZ '2024-06-01 12:34:00+00' AS t",
    ),
    case(
        "time",
        "interval-literals",
        "SELECT time + 1h AS a, time - 10m AS b, time + INTERVAL '2' DAY AS c, time + 500ms AS "
        f"d FROM {M} WHERE device_id = 'm-0010' AND time > ago(3m)",
        "SELECT time + INTERVAL 1 HOUR AS a, time - INTERVAL 10 MINUTE AS b, time + INTERVAL 2 "
        f"DAY AS c, time + INTERVAL 500 MILLISECOND AS d FROM {M} WHERE device_id = 'm-0010' AND "
        "time > ts_now() - INTERVAL 3 MINUTE",
    ),
    case(
        "time",
        "timestamp-difference",
        f"SELECT time, now() - time AS age FROM {M} WHERE device_id = 'm-0010' AND time > ago(3m)",
        f"SELECT time, ts_now() - time AS age FROM {M} WHERE device_id = 'm-0010' AND time > "
        "ts_now() - INTERVAL 3 MINUTE",
    ),
    case(
        "time",
        "interval-compare",
        f"SELECT count(*) AS n FROM {M} WHERE now() - time < 1h",
        f"SELECT count(*) AS n FROM {M} WHERE ts_now() - time < INTERVAL 1 HOUR",
    ),
    case(
        "time",
        "min-max-time",
        f"SELECT device_id, min(time) AS first, max(time) AS last FROM {M} GROUP BY device_id",
    ),
    case(
        "time",
        "time-span",
        f"SELECT device_id, max(time) - min(time) AS span FROM {M} GROUP BY device_id",
    ),
    case(
        "time",
        "parse-duration",
        "SELECT now() - parse_duration('1.5h') AS t",
        f"SELECT {NOW_SQL} - INTERVAL 90 MINUTE AS t",
    ),
    case(
        "time",
        "sequence-timestamps",
        "SELECT sequence(ago(1h), now(), 15m) AS s",
        check=lambda got, ref: _expect_values(
            got, [list(pd.date_range(NOW - pd.Timedelta("1h"), NOW, freq="15min"))]
        ),
    ),
    case("time", "current-timezone", "SELECT current_timezone() AS z", "SELECT 'UTC' AS z"),
    case(
        "time",
        "nanosecond-ago",
        "SELECT ago(50ns) AS a, now() + (1h + 50ns) AS b",
        check=lambda got, ref: _expect_values(
            got, [NOW - pd.Timedelta(50, "ns"), NOW + pd.Timedelta("1h") + pd.Timedelta(50, "ns")]
        ),
    ),
]


def _expect_values(got: pd.DataFrame, values: list[Any]) -> None:
    """One row, equal to ``values``."""
    assert len(got) == 1, got
    assert_rows(rows_of_frame(got), [tuple(norm(v) for v in values)], ordered=True)


def _membership(column: str, sql: str) -> Callable[[pd.DataFrame, duckdb.DuckDBPyConnection], None]:
    """``arbitrary()``: any value of the group will do; check it is one of them."""

    def check(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
        allowed = ref.execute(sql).fetchdf()
        assert len(got) == allowed["g"].nunique()
        for g, v in zip(got["g"], got[column], strict=True):
            assert v in set(allowed.loc[allowed["g"] == g, "v"]), (g, v)

    return check


def _histogram(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
    """A map; tsstore returns Arrow maps as lists of (key, value) pairs (pyarrow's default)."""
    want = dict(
        ref.execute(
            f"SELECT factory, count(*) FROM {M} WHERE time > ts_now() - INTERVAL 10 MINUTE GROUP "
            "BY 1"
        ).fetchall()
    )
    (h,) = got["h"]
    assert dict(h) == want


def _approx_distinct(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
    """``approx_distinct`` has a 2.3% standard error in Trino; small counts are exact."""
    want = ref.execute(
        "SELECT factory, count(DISTINCT device_id) AS d, count(DISTINCT round(temperature)) AS "
        f"t FROM {M} GROUP BY factory"
    ).fetchdf()
    merged = got.merge(want, on="factory", suffixes=("", "_exact"))
    assert len(merged) == len(want) == len(got)
    assert (merged["d"] == merged["d_exact"]).all()
    assert ((merged["t"] - merged["t_exact"]).abs() <= 0.05 * merged["t_exact"]).all()


def _trino_moments(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
    """Trino's skewness is the population (biased) moment coefficient; its kurtosis is the
    unbiased excess kurtosis."""
    x = (
        ref.execute(f"SELECT energy FROM {M} WHERE device_id = 'm-0001'")
        .fetchdf()["energy"]
        .to_numpy()
    )
    n, d = len(x), x - x.mean()
    m2, m3 = (d**2).mean(), (d**3).mean()
    skew = m3 / m2**1.5
    s2 = (d**2).sum() / (n - 1)
    kurt = n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * (d**4).sum() / s2**2 - 3 * (n - 1) ** 2 / (
        (n - 2) * (n - 3)
    )
    want = {"s": skew, "k": kurt}
    (column,) = got.columns
    assert got[column].tolist() == pytest.approx([want[column]], rel=1e-9)


AGG_CASES = [
    case(
        "agg",
        "count-star-col",
        f"SELECT count(*) AS a, count(pressure) AS b, count(temperature) AS c FROM {M}",
    ),
    case(
        "agg",
        "sum-avg-min-max",
        "SELECT device_id, sum(energy) AS s, avg(energy) AS a, min(energy) AS lo, max(energy) "
        f"AS hi FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "min-max-strings",
        f"SELECT factory, min(device_id) AS lo, max(device_id) AS hi FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "stddev-variance",
        "SELECT device_id, stddev(temperature) AS s, stddev_samp(temperature) AS ss, "
        "stddev_pop(temperature) AS sp, variance(temperature) AS v, var_samp(temperature) AS "
        f"vs, var_pop(temperature) AS vp FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "stddev-single-row",
        f"SELECT stddev(temperature) AS s, var_pop(temperature) AS v FROM {M} WHERE time = "
        f"(SELECT max(time) FROM {M} WHERE device_id = 'm-0001') AND device_id = 'm-0001'",
    ),
    case(
        "agg",
        "approx-percentile",
        "SELECT factory, approx_percentile(temperature, 0.5) AS p50, "
        "approx_percentile(temperature, 0.9) AS p90, approx_percentile(temperature, 0.99) AS "
        f"p99 FROM {M} GROUP BY factory",
        "SELECT factory, quantile_cont(temperature, 0.5) AS p50, quantile_cont(temperature, "
        f"0.9) AS p90, quantile_cont(temperature, 0.99) AS p99 FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "approx-percentile-array",
        f"SELECT approx_percentile(energy, ARRAY[0.25, 0.75]) AS q FROM {M}",
        f"SELECT quantile_cont(energy, [0.25, 0.75]) AS q FROM {M}",
    ),
    case(
        "agg",
        "approx-distinct",
        "SELECT factory, approx_distinct(device_id) AS d, approx_distinct(round(temperature)) "
        f"AS t FROM {M} GROUP BY factory",
        check=_approx_distinct,
    ),
    case(
        "agg",
        "arbitrary",
        f"SELECT factory AS g, arbitrary(device_id) AS v FROM {M} GROUP BY factory",
        check=_membership("v", f"SELECT factory AS g, device_id AS v FROM {M}"),
    ),
    case(
        "agg",
        "any-value",
        f"SELECT factory AS g, any_value(device_id) AS v FROM {M} GROUP BY factory",
        check=_membership("v", f"SELECT factory AS g, device_id AS v FROM {M}"),
    ),
    case(
        "agg",
        "max-by-min-by",
        "SELECT device_id, max_by(temperature, time) AS last_t, min_by(temperature, time) AS "
        f"first_t, max_by(time, temperature) AS hottest_at FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "max-by-fleet",
        "SELECT max_by(device_id, temperature) AS hottest, min_by(device_id, energy) AS lowest "
        f"FROM {M}",
    ),
    case(
        "agg",
        "max-by-n",
        f"SELECT device_id, max_by(time, temperature, 2) AS top2 FROM {M} WHERE factory = 'f-0' "
        "GROUP BY device_id",
        f"SELECT device_id, list(time ORDER BY temperature DESC)[1:2] AS top2 FROM {M} WHERE "
        "factory = 'f-0' GROUP BY device_id",
    ),
    case(
        "agg",
        "count-if",
        "SELECT device_id, count_if(temperature > 75) AS warm, count_if(pressure IS NULL) AS "
        f"missing FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "bool-and-or",
        "SELECT device_id, bool_and(temperature > 50) AS all_warm, bool_or(vibration > 1.5) AS "
        f"any_shake, every(energy > 0) AS e FROM {M} GROUP BY device_id",
        "SELECT device_id, bool_and(temperature > 50) AS all_warm, bool_or(vibration > 1.5) AS "
        f"any_shake, bool_and(energy > 0) AS e FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "geometric-mean",
        f"SELECT factory, geometric_mean(pressure) AS g FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "corr-covar",
        "SELECT factory, corr(temperature, energy) AS c, covar_samp(temperature, energy) AS cs, "
        f"covar_pop(temperature, energy) AS cp FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "regr",
        "SELECT factory, regr_slope(energy, temperature) AS s, regr_intercept(energy, "
        f"temperature) AS i FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "skewness",
        f"SELECT skewness(energy) AS s FROM {M} WHERE device_id = 'm-0001'",
        check=_trino_moments,
    ),
    case(
        "agg",
        "kurtosis",
        f"SELECT kurtosis(energy) AS k FROM {M} WHERE device_id = 'm-0001'",
        check=_trino_moments,
    ),
    case(
        "agg",
        "array-agg-ordered",
        f"SELECT device_id, array_agg(temperature ORDER BY time) AS ts FROM {M} WHERE time > "
        "ago(5m) GROUP BY device_id",
        f"SELECT device_id, array_agg(temperature ORDER BY time) AS ts FROM {M} WHERE time > "
        "ts_now() - INTERVAL 5 MINUTE GROUP BY device_id",
    ),
    case(
        "agg",
        "array-agg-cardinality",
        f"SELECT factory, cardinality(array_agg(DISTINCT device_id)) AS n FROM {M} GROUP BY "
        "factory",
        f"SELECT factory, count(DISTINCT device_id) AS n FROM {M} GROUP BY factory",
    ),
    case(
        "agg",
        "histogram",
        f"SELECT histogram(factory) AS h FROM {M} WHERE time > ago(10m)",
        check=_histogram,
    ),
    case(
        "agg",
        "empty-input",
        f"SELECT count(*) AS n, sum(energy) AS s, avg(energy) AS a, max(time) AS t FROM {M} "
        "WHERE device_id = 'x'",
    ),
    case(
        "agg",
        "empty-group-by",
        f"SELECT device_id, count(*) AS n FROM {M} WHERE device_id = 'x' GROUP BY device_id",
    ),
    case(
        "agg",
        "sum-integers",
        "SELECT sum(x) AS s, avg(x) AS a FROM (VALUES 1, 2, 4) AS t(x)",
        "SELECT 7 AS s, 7.0 / 3 AS a",
    ),
    case(
        "agg",
        "nested-aggregate-expression",
        "SELECT round(avg(temperature), 2) AS a, max(temperature) - min(temperature) AS spread "
        f"FROM {M}",
    ),
    case(
        "agg",
        "filter-clause",
        "SELECT device_id, count(*) FILTER (WHERE temperature > 75) AS warm, avg(energy) FILTER "
        f"(WHERE factory = 'f-0') AS e0 FROM {M} GROUP BY device_id",
    ),
    case(
        "agg",
        "checksum-free-bitwise",
        "SELECT bitwise_and_agg(CAST(round(temperature) AS bigint)) AS a, "
        f"bitwise_or_agg(CAST(round(temperature) AS bigint)) AS o FROM {M} WHERE device_id = "
        "'m-0002'",
        "SELECT bit_and(CAST(round(temperature) AS bigint)) AS a, "
        f"bit_or(CAST(round(temperature) AS bigint)) AS o FROM {M} WHERE device_id = 'm-0002'",
    ),
]

W = f"FROM {M} WHERE device_id IN ('m-0001', 'm-0002', 'm-0012') AND time > ago(40m)"
WD = (
    f"FROM {M} WHERE device_id IN ('m-0001', 'm-0002', 'm-0012') AND time > ts_now() - "
    "INTERVAL 40 MINUTE"
)


def wcase(name: str, select: str, *, bug: str | None = None, duck_select: str | None = None) -> Any:
    return case(
        "window",
        name,
        f"SELECT device_id, time, {select} {W}",
        f"SELECT device_id, time, {duck_select or select} {WD}",
        bug=bug,
    )


WINDOW_CASES = [
    wcase("row-number", "row_number() OVER (PARTITION BY device_id ORDER BY time) AS rn"),
    wcase("row-number-desc", "row_number() OVER (PARTITION BY device_id ORDER BY time DESC) AS rn"),
    wcase(
        "rank-dense-rank",
        "rank() OVER (PARTITION BY device_id ORDER BY round(temperature)) AS r, dense_rank() "
        "OVER (PARTITION BY device_id ORDER BY round(temperature)) AS dr",
    ),
    wcase(
        "lag-lead",
        "lag(temperature) OVER (PARTITION BY device_id ORDER BY time) AS prev, lead(temperature) "
        "OVER (PARTITION BY device_id ORDER BY time) AS next",
    ),
    wcase(
        "lag-offset-default",
        "lag(temperature, 2, 0.0) OVER (PARTITION BY device_id ORDER BY time) AS p2, lead(time, "
        "3) OVER (PARTITION BY device_id ORDER BY time) AS n3",
    ),
    wcase(
        "first-last-default-frame",
        "first_value(temperature) OVER (PARTITION BY device_id ORDER BY time) AS f, "
        "last_value(temperature) OVER (PARTITION BY device_id ORDER BY time) AS l",
    ),
    wcase(
        "last-value-full-frame",
        "last_value(temperature) OVER (PARTITION BY device_id ORDER BY time ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS l",
    ),
    wcase(
        "nth-value",
        "nth_value(temperature, 2) OVER (PARTITION BY device_id ORDER BY time ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second",
    ),
    wcase("ntile", "ntile(4) OVER (PARTITION BY device_id ORDER BY time) AS q"),
    wcase(
        "percent-rank-cume-dist",
        "percent_rank() OVER (PARTITION BY device_id ORDER BY time) AS pr, cume_dist() OVER "
        "(PARTITION BY device_id ORDER BY time) AS cd",
    ),
    wcase("running-sum", "sum(temperature) OVER (PARTITION BY device_id ORDER BY time) AS running"),
    wcase(
        "rows-preceding",
        "sum(energy) OVER (PARTITION BY device_id ORDER BY time ROWS BETWEEN 2 PRECEDING AND "
        "CURRENT ROW) AS s3",
    ),
    wcase(
        "rows-centered",
        "avg(temperature) OVER (PARTITION BY device_id ORDER BY time ROWS BETWEEN 1 PRECEDING "
        "AND 1 FOLLOWING) AS smooth",
    ),
    wcase(
        "rows-unbounded-preceding-short",
        "count(*) OVER (PARTITION BY device_id ORDER BY time ROWS UNBOUNDED PRECEDING) AS n",
    ),
    wcase(
        "range-unbounded",
        "max(temperature) OVER (PARTITION BY device_id ORDER BY time RANGE BETWEEN UNBOUNDED "
        "PRECEDING AND CURRENT ROW) AS m",
    ),
    wcase(
        "range-interval",
        "count(*) OVER (PARTITION BY device_id ORDER BY time RANGE BETWEEN INTERVAL '5' MINUTE "
        "PRECEDING AND CURRENT ROW) AS n5, avg(temperature) OVER (PARTITION BY device_id ORDER "
        "BY time RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW) AS a10",
        duck_select="count(*) OVER (PARTITION BY device_id ORDER BY time RANGE BETWEEN INTERVAL "
        "5 MINUTE PRECEDING AND CURRENT ROW) AS n5, avg(temperature) OVER (PARTITION "
        "BY device_id ORDER BY time RANGE BETWEEN INTERVAL 10 MINUTE PRECEDING AND "
        "CURRENT ROW) AS a10",
    ),
    wcase(
        "partition-aggregates",
        "count(*) OVER (PARTITION BY device_id) AS n, min(temperature) OVER (PARTITION BY "
        "device_id) AS lo, avg(pressure) OVER (PARTITION BY device_id) AS p",
    ),
    wcase("empty-over", "sum(energy) OVER () AS total, count(*) OVER () AS n"),
    wcase("order-only", "row_number() OVER (ORDER BY time, device_id) AS rn"),
    wcase(
        "delta",
        "temperature - lag(temperature) OVER (PARTITION BY device_id ORDER BY time) AS delta",
    ),
    wcase(
        "time-gap",
        "time - lag(time) OVER (PARTITION BY device_id ORDER BY time) AS gap",
    ),
    case(
        "window",
        "over-aggregate",
        "SELECT device_id, avg(temperature) AS t, rank() OVER (ORDER BY avg(temperature) DESC) "
        f"AS r FROM {M} GROUP BY device_id",
    ),
    case(
        "window",
        "over-aggregate-partition",
        "SELECT factory, device_id, max(vibration) AS v, dense_rank() OVER (PARTITION BY "
        f"factory ORDER BY max(vibration) DESC) AS r FROM {M} GROUP BY factory, device_id",
    ),
    case(
        "window",
        "top-1-per-group",
        "SELECT device_id, time, temperature FROM (SELECT device_id, time, temperature, "
        "row_number() OVER (PARTITION BY device_id ORDER BY temperature DESC, time) AS rn FROM "
        f"{M}) WHERE rn = 1",
    ),
    case(
        "window",
        "in-order-by",
        f"SELECT device_id, max(temperature) AS t FROM {M} GROUP BY device_id ORDER BY rank() "
        "OVER (ORDER BY max(temperature) DESC), device_id",
        ordered=True,
    ),
    case(
        "window",
        "over-bins",
        "SELECT h, n, sum(n) OVER (ORDER BY h) AS cumulative FROM (SELECT bin(time, 1h) AS h, "
        f"count(*) AS n FROM {M} GROUP BY 1)",
        "SELECT h, n, sum(n) OVER (ORDER BY h) AS cumulative FROM (SELECT ts_bin(time, 3600) AS "
        f"h, count(*) AS n FROM {M} GROUP BY 1)",
    ),
    case(
        "window",
        "multiple-windows",
        "SELECT device_id, time, avg(temperature) OVER w1 AS a, max(temperature) OVER w1 AS m "
        f"{W} WINDOW w1 AS (PARTITION BY device_id ORDER BY time ROWS 3 PRECEDING)",
        "SELECT device_id, time, avg(temperature) OVER w1 AS a, max(temperature) OVER w1 AS m "
        f"{WD} WINDOW w1 AS (PARTITION BY device_id ORDER BY time ROWS 3 PRECEDING)",
    ),
]

S = f"FROM {M} WHERE time > ago(2m)"
SD = f"FROM {M} WHERE time > ts_now() - INTERVAL 2 MINUTE"


def scase(name: str, select: str, duck_select: str | None = None, *, bug: str | None = None) -> Any:
    return case(
        "string",
        name,
        f"SELECT device_id, {select} {S}",
        f"SELECT device_id, {duck_select or select} {SD}",
        bug=bug,
    )


STRING_CASES = [
    scase("lower-upper", "lower(device_id) AS l, upper(device_id) AS u"),
    scase("length", "length(device_id) AS n, length('') AS z"),
    scase("concat", "concat(device_id, '/', factory) AS c"),
    scase("concat-operator", "device_id || ':' || factory AS c"),
    scase(
        "concat-null",
        "concat(device_id, CAST(pressure AS varchar)) AS c",
        "CASE WHEN pressure IS NULL THEN NULL ELSE device_id || CAST(pressure AS varchar) END AS c",
    ),
    scase(
        "substr",
        "substr(device_id, 3) AS a, substr(device_id, 3, 2) AS b, substring(device_id, 1, 1) AS "
        "c, substr(device_id, -2) AS d",
    ),
    scase(
        "replace",
        "replace(device_id, 'm-', 'machine-') AS r, replace(device_id, '0') AS gone",
        "replace(device_id, 'm-', 'machine-') AS r, replace(device_id, '0', '') AS gone",
    ),
    scase("trim", "trim('  x  ') AS t, ltrim('  x  ') AS l, rtrim('  x  ') AS r"),
    scase(
        "pad",
        "lpad(device_id, 10, '*') AS l, rpad(device_id, 8, '.') AS r, lpad(device_id, 3, '*') AS "
        "cut",
    ),
    scase("split-part", "split_part(device_id, '-', 2) AS n", "split_part(device_id, '-', 2) AS n"),
    scase(
        "split-part-beyond",
        "split_part(device_id, '-', 5) AS none",
        "CAST(NULL AS VARCHAR) AS none",
    ),
    scase("split", "split(device_id, '-') AS parts", "string_split(device_id, '-') AS parts"),
    scase(
        "strpos-position",
        "strpos(device_id, '0') AS a, position('-' IN device_id) AS b, strpos(device_id, 'z') AS c",
    ),
    scase("reverse", "reverse(device_id) AS r"),
    scase("starts-with", "starts_with(device_id, 'm-000') AS s"),
    scase(
        "regexp-extract",
        "regexp_extract(device_id, '[0-9]+') AS n, regexp_extract(device_id, '(m)-([0-9]+)', 2) "
        "AS g",
    ),
    scase(
        "regexp-replace",
        "regexp_replace(device_id, '[0-9]', '#') AS r, regexp_replace(device_id, '[0-9]') AS gone",
        "regexp_replace(device_id, '[0-9]', '#', 'g') AS r, regexp_replace(device_id, '[0-9]', "
        "'', 'g') AS gone",
    ),
    scase(
        "regexp-replace-group",
        "regexp_replace(device_id, '(m)-', '$1_') AS g",
        "regexp_replace(device_id, '(m)-', '\\1_', 'g') AS g",
    ),
    scase(
        "regexp-extract-all",
        "regexp_extract_all(device_id, '[0-9]') AS d",
        "regexp_extract_all(device_id, '[0-9]') AS d",
    ),
    scase(
        "regexp-like", "regexp_like(device_id, '1$') AS r", "regexp_matches(device_id, '1$') AS r"
    ),
    scase("chr-codepoint", "chr(65) AS c, codepoint('A') AS p", "chr(65) AS c, 65 AS p"),
    scase(
        "levenshtein-hamming",
        "levenshtein_distance(device_id, 'm-0000') AS l, hamming_distance(device_id, 'm-0000') "
        "AS h",
        "levenshtein(device_id, 'm-0000') AS l, hamming(device_id, 'm-0000') AS h",
    ),
    scase("like-in-select", "device_id LIKE '%1%' AS has_one"),
    scase("string-equality-case", "device_id = 'M-0001' AS eq, lower('M-0001') = device_id AS eq2"),
    scase("concat-ws", "concat_ws('-', factory, device_id) AS c"),
    scase(
        "to-utf8-length",
        "length(to_utf8(device_id)) AS n",
        "octet_length(encode(device_id)) AS n",
    ),
]

MT = "FROM (VALUES (7, -7, 2.5, 9.0), (10, 3, -0.5, 16.0)) AS t(a, b, x, y)"
MATH_CASES = [
    case("math", "abs-sign", f"SELECT abs(b) AS a, sign(b) AS s, sign(x) AS sx {MT}"),
    case("math", "ceil-floor", f"SELECT ceil(x) AS c, ceiling(x) AS c2, floor(x) AS f {MT}"),
    case(
        "math",
        "round",
        "SELECT round(x) AS r, round(x, 1) AS r1, round(123.456, -1) AS rn, round(y / 7, 3) AS "
        f"r3 {MT}",
    ),
    case(
        "math",
        "round-half-away",
        "SELECT round(2.5) AS a, round(-2.5) AS b, round(DOUBLE '0.5') AS c, round(DOUBLE "
        "'-0.5') AS d, round(DOUBLE '1.005', 2) AS e",
        "SELECT 3 AS a, -3 AS b, 1.0 AS c, -1.0 AS d, 1.0 AS e",
    ),
    case(
        "math",
        "truncate",
        f"SELECT truncate(x) AS t, truncate(DOUBLE '-1.7') AS n {MT}",
        f"SELECT trunc(x) AS t, -1.0 AS n {MT}",
    ),
    case(
        "math",
        "sqrt-cbrt-power",
        f"SELECT sqrt(y) AS s, cbrt(y) AS c, power(y, 0.5) AS p, pow(2, 10) AS p2 {MT}",
    ),
    case(
        "math",
        "exp-ln-log",
        f"SELECT exp(1) AS e1, ln(y) AS l, log10(y) AS l10, log2(y) AS l2, log(2, y) AS lb {MT}",
    ),
    case(
        "math",
        "mod",
        f"SELECT mod(a, 3) AS m1, mod(b, 3) AS m2, a % 3 AS m3, b % 3 AS m4, mod(x, 1) AS m5 {MT}",
    ),
    case(
        "math",
        "integer-division",
        f"SELECT a / 2 AS d1, b / 2 AS d2, a / b AS d3 {MT}",
        f"SELECT a // 2 AS d1, b // 2 AS d2, a // b AS d3 {MT}",
    ),
    case(
        "math",
        "integer-division-literal",
        "SELECT 7 / 2 AS a, -7 / 2 AS b, 1 / 3 AS c",
        "SELECT 3 AS a, -3 AS b, 0 AS c",
    ),
    case(
        "math",
        "count-division",
        f"SELECT count(*) / 11 AS q, count(*) / count(DISTINCT device_id) AS per FROM {M}",
        f"SELECT count(*) // 11 AS q, count(*) // count(DISTINCT device_id) AS per FROM {M}",
    ),
    case("math", "mixed-division", f"SELECT a / 2.0 AS d1, x / 2 AS d2, a / y AS d3 {MT}"),
    case("math", "pi-e", "SELECT pi() AS p, e() AS e", f"SELECT {math.pi} AS p, {math.e} AS e"),
    case(
        "math",
        "trig",
        "SELECT sin(x) AS s, cos(x) AS c, tan(x) AS t, asin(0.5) AS a, acos(0.5) AS ac, atan(x) "
        f"AS at, atan2(y, x) AS a2, cosh(x) AS ch, tanh(x) AS th {MT}",
    ),
    case("math", "degrees-radians", f"SELECT degrees(x) AS d, radians(y) AS r {MT}"),
    case(
        "math",
        "greatest-least",
        f"SELECT greatest(a, b, 0) AS g, least(a, b, 0) AS l, greatest(x, y) AS gx {MT}",
    ),
    case(
        "math",
        "greatest-null",
        "SELECT device_id, greatest(temperature, pressure) AS g, least(temperature, pressure) "
        f"AS l {S}",
        "SELECT device_id, CASE WHEN pressure IS NULL THEN NULL ELSE greatest(temperature, "
        "pressure) END AS g, CASE WHEN pressure IS NULL THEN NULL ELSE least(temperature, "
        f"pressure) END AS l {SD}",
    ),
    case(
        "math",
        "special-doubles",
        "SELECT infinity() AS i, -infinity() AS ni, is_nan(nan()) AS n, is_finite(infinity()) AS "
        "f, is_infinite(-infinity()) AS ii, is_nan(1.0) AS nn",
        "SELECT CAST('Infinity' AS DOUBLE) AS i, CAST('-Infinity' AS DOUBLE) AS ni, true AS n, "
        "false AS f, true AS ii, false AS nn",
    ),
    case(
        "math",
        "double-division-by-zero",
        "SELECT DOUBLE '1.0' / 0 AS a, DOUBLE '-1.0' / 0 AS b",
        "SELECT CAST('Infinity' AS DOUBLE) AS a, CAST('-Infinity' AS DOUBLE) AS b",
    ),
    case(
        "math",
        "width-bucket",
        f"SELECT device_id, width_bucket(temperature, 50, 100, 10) AS b {S}",
        "SELECT device_id, CASE WHEN temperature < 50 THEN 0 WHEN temperature >= 100 THEN 11 "
        f"ELSE CAST(floor((temperature - 50) / 5) + 1 AS BIGINT) END AS b {SD}",
    ),
    case(
        "math",
        "arithmetic-precedence",
        "SELECT 2 + 3 * 4 - 6 / 3 AS a, (2 + 3) * 4 AS b, -2 * -3 AS c",
        "SELECT 12 AS a, 20 AS b, 6 AS c",
    ),
    case(
        "math",
        "bigint-arithmetic",
        "SELECT 9007199254740993 + 0 AS a, 3000000000 * 3 AS b",
        "SELECT 9007199254740993 AS a, 9000000000 AS b",
    ),
    case(
        "math",
        "from-to-base",
        "SELECT to_base(255, 16) AS h, from_base('ff', 16) AS d",
        "SELECT 'ff' AS h, 255 AS d",
    ),
]

N = f"FROM {M} WHERE time > ago(3m)"
ND = f"FROM {M} WHERE time > ts_now() - INTERVAL 3 MINUTE"
NULL_CASES = [
    case("null", "is-null", f"SELECT device_id, time FROM {M} WHERE pressure IS NULL"),
    case("null", "is-not-null", f"SELECT count(*) AS n FROM {M} WHERE pressure IS NOT NULL"),
    case(
        "null",
        "count-skips-null",
        "SELECT device_id, count(*) AS a, count(pressure) AS b, avg(pressure) AS p, "
        f"sum(vibration) AS v FROM {M} GROUP BY device_id",
    ),
    case(
        "null",
        "all-null-aggregates",
        "SELECT sum(pressure) AS s, max(pressure) AS m, avg(pressure) AS a, count(pressure) AS "
        f"n FROM {M} WHERE device_id = 'm-0012'",
    ),
    case(
        "null",
        "arithmetic",
        f"SELECT device_id, time, pressure + 1 AS p, temperature * pressure AS tp {N}",
        f"SELECT device_id, time, pressure + 1 AS p, temperature * pressure AS tp {ND}",
    ),
    case("null", "comparison", f"SELECT count(*) AS n FROM {M} WHERE pressure = pressure"),
    case(
        "null",
        "not-equal-null",
        f"SELECT count(*) AS n FROM {M} WHERE pressure <> 100 OR pressure IS NULL",
    ),
    case(
        "null",
        "is-distinct-from",
        "SELECT device_id, time, pressure IS DISTINCT FROM NULL AS d, pressure IS NOT DISTINCT "
        f"FROM NULL AS nd {N}",
        "SELECT device_id, time, pressure IS DISTINCT FROM NULL AS d, pressure IS NOT DISTINCT "
        f"FROM NULL AS nd {ND}",
    ),
    case(
        "null",
        "three-valued-logic",
        "SELECT NULL AND false AS a, NULL OR true AS b, NULL AND true AS c, NOT CAST(NULL AS "
        "boolean) AS d",
    ),
    case(
        "null",
        "null-equals-null",
        "SELECT NULL = NULL AS a, NULL <> 1 AS b, 1 IN (NULL, 1) AS c, 2 IN (NULL, 1) AS d, 2 "
        "NOT IN (NULL, 1) AS e",
    ),
    case(
        "null",
        "coalesce-ifnull",
        f"SELECT device_id, time, coalesce(pressure, 0) AS p {N}",
        f"SELECT device_id, time, coalesce(pressure, 0) AS p {ND}",
    ),
    case(
        "null",
        "group-by-null-key",
        f"SELECT pressure IS NULL AS missing, count(*) AS n FROM {M} GROUP BY 1",
    ),
    case(
        "null",
        "group-by-nullable-column",
        f"SELECT vibration, count(*) AS n FROM {M} WHERE device_id = 'm-0012' OR (device_id = "
        "'m-0001' AND time > ago(2m)) GROUP BY vibration",
        f"SELECT vibration, count(*) AS n FROM {M} WHERE device_id = 'm-0012' OR (device_id = "
        "'m-0001' AND time > ts_now() - INTERVAL 2 MINUTE) GROUP BY vibration",
    ),
    case(
        "null",
        "distinct-with-null",
        f"SELECT DISTINCT pressure IS NULL AS missing, factory FROM {M} WHERE device_id IN "
        "('m-0012', 'm-0000')",
    ),
    case(
        "null",
        "case-null",
        "SELECT device_id, time, CASE WHEN pressure > 100 THEN 'high' WHEN pressure <= 100 THEN "
        f"'low' ELSE 'unknown' END AS p {N}",
        "SELECT device_id, time, CASE WHEN pressure > 100 THEN 'high' WHEN pressure <= 100 THEN "
        f"'low' ELSE 'unknown' END AS p {ND}",
    ),
    case(
        "null",
        "min-max-by-null",
        f"SELECT max_by(pressure, time) AS p, max_by(temperature, pressure) AS t FROM {M} WHERE "
        "device_id = 'm-0012'",
    ),
    case(
        "null",
        "window-over-null",
        "SELECT device_id, time, lag(pressure) OVER (PARTITION BY device_id ORDER BY time) AS "
        f"lp, sum(pressure) OVER (PARTITION BY device_id) AS s {N}",
        "SELECT device_id, time, lag(pressure) OVER (PARTITION BY device_id ORDER BY time) AS "
        f"lp, sum(pressure) OVER (PARTITION BY device_id) AS s {ND}",
    ),
    case(
        "null",
        "nullif-zero-division",
        f"SELECT device_id, sum(temperature) / nullif(count(pressure), 0) AS x FROM {M} GROUP BY "
        "device_id",
    ),
    case(
        "null",
        "null-in-union",
        f"SELECT pressure FROM {M} WHERE device_id = 'm-0012' UNION SELECT NULL",
    ),
]

HS = "host_stats"


def _star_by_name(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
    """``SELECT *``: dimensions, measure_name and time first (Timestream's flat model), then the
    value columns (their order is not documented: compared by name)."""
    names, want = rows_of_duckdb(ref, f"SELECT * FROM {HS}")
    assert list(got.columns[:4]) == ["host", "region", "measure_name", "time"]
    assert sorted(got.columns) == sorted(names)
    assert_rows(rows_of_frame(got[names]), want, ordered=False)


def _exact_bigint(got: pd.DataFrame, ref: duckdb.DuckDBPyConnection) -> None:
    """Every bigint value exact (2**53 + 1 is among them), NULLs where other measures are."""
    want = ref.execute(
        f"SELECT measure_name, time, \"measure_value::bigint\" AS v FROM {HS} WHERE host = 'h-00'"
    ).fetchall()
    assert len(got) == len(want)
    by_key = {(m, pd.Timestamp(t).value): v for m, t, v in want}
    for m, t, v in zip(got["measure_name"], got["time"], got["v"].astype(object), strict=True):
        expected = by_key[(m, pd.Timestamp(t).value)]
        if expected is None:
            assert norm(v) is None
        else:
            assert isinstance(v, int | np.integer), (
                f"{type(v).__name__} {v!r}: bigint values must come back as integers"
            )
            assert int(v) == expected


MEASURE_CASES = [
    case("measures", "star", f"SELECT * FROM {HS}", check=_star_by_name),
    case(
        "measures",
        "single-double",
        f"SELECT host, time, measure_value::double AS v FROM {HS} WHERE measure_name = 'cpu_user'",
    ),
    case(
        "measures",
        "single-double-unaliased-filter",
        f"SELECT host, measure_value::double FROM {HS} WHERE measure_name = 'cpu_user' AND "
        "measure_value::double > 90",
    ),
    case(
        "measures",
        "avg-per-host",
        f"SELECT host, avg(measure_value::double) AS cpu FROM {HS} WHERE measure_name = "
        "'cpu_user' GROUP BY host",
    ),
    case(
        "measures",
        "bin-single",
        f"SELECT host, bin(time, 30m) AS t, max(measure_value::double) AS cpu FROM {HS} WHERE "
        "measure_name = 'cpu_user' GROUP BY 1, 2",
        f'SELECT host, ts_bin(time, 1800) AS t, max("measure_value::double") AS cpu FROM {HS} '
        "WHERE measure_name = 'cpu_user' GROUP BY 1, 2",
    ),
    case(
        "measures",
        "sum-bigint",
        "SELECT host, sum(measure_value::bigint) AS s, max(measure_value::bigint) AS m FROM "
        f"{HS} WHERE measure_name = 'mem_free' GROUP BY host",
    ),
    case(
        "measures",
        "bigint-exact",
        f"SELECT measure_name, time, measure_value::bigint AS v FROM {HS} WHERE host = 'h-00'",
        check=_exact_bigint,
    ),
    case(
        "measures",
        "varchar",
        f"SELECT measure_value::varchar AS status, count(*) AS n FROM {HS} WHERE measure_name = "
        "'status' GROUP BY 1",
    ),
    case(
        "measures",
        "varchar-latest",
        f"SELECT host, max_by(measure_value::varchar, time) AS last_status FROM {HS} WHERE "
        "measure_name = 'status' GROUP BY host",
    ),
    case(
        "measures",
        "varchar-like",
        f"SELECT host, count(*) AS n FROM {HS} WHERE measure_name = 'status' AND "
        "measure_value::varchar LIKE 'o%' GROUP BY host",
    ),
    case(
        "measures",
        "boolean",
        "SELECT host, count_if(measure_value::boolean) AS up, bool_and(measure_value::boolean) "
        f"AS always FROM {HS} WHERE measure_name = 'healthy' GROUP BY host",
    ),
    case(
        "measures",
        "boolean-where",
        f"SELECT host, time FROM {HS} WHERE measure_name = 'healthy' AND NOT "
        "measure_value::boolean",
    ),
    case(
        "measures",
        "multi-columns",
        f"SELECT host, time, load, procs FROM {HS} WHERE measure_name = 'metrics'",
    ),
    case(
        "measures",
        "multi-aggregate",
        f"SELECT region, avg(load) AS load, sum(procs) AS procs FROM {HS} WHERE measure_name = "
        "'metrics' GROUP BY region",
    ),
    case(
        "measures",
        "multi-nulls-elsewhere",
        "SELECT measure_name, count(load) AS l, count(measure_value::double) AS d, "
        f"count(measure_value::bigint) AS b, count(*) AS n FROM {HS} GROUP BY measure_name",
    ),
    case(
        "measures",
        "pivot-case",
        "SELECT host, bin(time, 1h) AS h, avg(CASE WHEN measure_name = 'cpu_user' THEN "
        "measure_value::double END) AS cpu, max(CASE WHEN measure_name = 'mem_free' THEN "
        f"measure_value::bigint END) AS mem, avg(load) AS load FROM {HS} GROUP BY 1, 2",
        "SELECT host, ts_bin(time, 3600) AS h, avg(CASE WHEN measure_name = 'cpu_user' THEN "
        "\"measure_value::double\" END) AS cpu, max(CASE WHEN measure_name = 'mem_free' THEN "
        f'"measure_value::bigint" END) AS mem, avg(load) AS load FROM {HS} GROUP BY 1, 2',
    ),
    case(
        "measures",
        "join-single-and-multi",
        f"SELECT c.host, c.time, c.measure_value::double AS cpu, m.load FROM {HS} c JOIN {HS} m "
        "ON c.host = m.host AND c.time = m.time WHERE c.measure_name = 'cpu_user' AND "
        "m.measure_name = 'metrics'",
    ),
    case(
        "measures",
        "measure-name-in",
        f"SELECT measure_name, count(*) AS n FROM {HS} WHERE measure_name IN ('cpu_user', "
        "'metrics') GROUP BY measure_name",
    ),
    case(
        "measures",
        "distinct-measure-names",
        f"SELECT DISTINCT measure_name FROM {HS} ORDER BY measure_name",
        ordered=True,
    ),
    case(
        "measures",
        "window-single",
        "SELECT host, time, measure_value::double - lag(measure_value::double) OVER (PARTITION "
        f"BY host ORDER BY time) AS d FROM {HS} WHERE measure_name = 'cpu_user'",
    ),
    case(
        "measures",
        "coalesce-value-columns",
        "SELECT host, time, measure_name, coalesce(measure_value::double, "
        f"CAST(measure_value::bigint AS double), load) AS v FROM {HS} WHERE host = 'h-01'",
    ),
    case(
        "measures",
        "cast-varchar-to-double",
        f"SELECT try_cast(measure_value::varchar AS double) AS v, count(*) AS n FROM {HS} WHERE "
        "measure_name = 'status' GROUP BY 1",
    ),
    case(
        "measures",
        "latest-value-per-measure",
        f"SELECT host, measure_name, max(time) AS t FROM {HS} GROUP BY host, measure_name",
    ),
    case(
        "measures",
        "quoted-value-column",
        f'SELECT host, avg("measure_value::double") AS v FROM {HS} WHERE measure_name = '
        "'cpu_user' GROUP BY host",
    ),
    case(
        "measures",
        "ago-filter",
        f"SELECT host, count(*) AS n FROM {HS} WHERE time > ago(30m) AND measure_name = "
        "'cpu_user' GROUP BY host",
        f"SELECT host, count(*) AS n FROM {HS} WHERE time > ts_now() - INTERVAL 30 MINUTE AND "
        "measure_name = 'cpu_user' GROUP BY host",
    ),
]

ARRAY_CASES = [
    case(
        "array",
        "literal-cardinality",
        "SELECT ARRAY[1, 2, 3] AS a, cardinality(ARRAY[1, 2, 3]) AS n",
        "SELECT [1, 2, 3] AS a, 3 AS n",
    ),
    case(
        "array",
        "element-at",
        "SELECT element_at(ARRAY[10, 20, 30], 2) AS a, element_at(ARRAY[10, 20, 30], -1) AS b, "
        "ARRAY[10, 20, 30][1] AS c",
        "SELECT 20 AS a, 30 AS b, 10 AS c",
    ),
    case(
        "array",
        "contains",
        "SELECT contains(ARRAY['a', 'b'], 'b') AS a, contains(ARRAY['a', 'b'], 'z') AS b",
        "SELECT true AS a, false AS b",
    ),
    case(
        "array",
        "transform-filter",
        "SELECT transform(ARRAY[1, 2, 3], x -> x * x) AS t, filter(ARRAY[1, 2, 3, 4], x -> x % 2 "
        "= 0) AS f",
        "SELECT [1, 4, 9] AS t, [2, 4] AS f",
    ),
    case(
        "array",
        "reduce",
        "SELECT reduce(ARRAY[1, 2, 3, 4], 0, (s, x) -> s + x, s -> s * 10) AS r",
        "SELECT 100 AS r",
    ),
    case(
        "array",
        "sequence",
        "SELECT sequence(1, 5) AS s, sequence(10, 0, -5) AS d",
        "SELECT [1, 2, 3, 4, 5] AS s, [10, 5, 0] AS d",
    ),
    case(
        "array",
        "array-functions",
        "SELECT array_max(ARRAY[3, 9, 1]) AS mx, array_min(ARRAY[3, 9, 1]) AS mn, "
        "array_sort(ARRAY[3, 9, 1]) AS s, array_join(ARRAY['a', 'b'], '-') AS j",
        "SELECT 9 AS mx, 1 AS mn, [1, 3, 9] AS s, 'a-b' AS j",
    ),
    case(
        "array",
        "array-distinct-order",
        "SELECT array_distinct(ARRAY[3, 1, 3, 2, 1]) AS d",
        "SELECT [3, 1, 2] AS d",
    ),
    case(
        "array",
        "concat-arrays",
        "SELECT ARRAY[1] || ARRAY[2, 3] AS a, concat(ARRAY[1], ARRAY[4]) AS b",
        "SELECT [1, 2, 3] AS a, [1, 4] AS b",
    ),
    case(
        "array",
        "unnest",
        f"SELECT device_id, u.x FROM {M} CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(x) WHERE device_id "
        "= 'm-0001' AND time > ago(3m)",
        f"SELECT device_id, u.x FROM {M} CROSS JOIN (SELECT unnest([1, 2]) AS x) AS u WHERE "
        "device_id = 'm-0001' AND time > ts_now() - INTERVAL 3 MINUTE",
    ),
    case(
        "array",
        "unnest-aggregate",
        f"WITH a AS (SELECT device_id, array_agg(temperature) AS ts FROM {M} WHERE time > "
        "ago(5m) GROUP BY device_id) SELECT device_id, sum(t) AS s FROM a CROSS JOIN UNNEST(ts) "
        "AS x(t) GROUP BY device_id",
        f"SELECT device_id, sum(temperature) AS s FROM {M} WHERE time > ts_now() - INTERVAL 5 "
        "MINUTE GROUP BY device_id",
    ),
    case(
        "array",
        "unnest-with-ordinality",
        "SELECT x, i FROM UNNEST(ARRAY['a', 'b']) WITH ORDINALITY AS t(x, i)",
        "SELECT * FROM (VALUES ('a', 1), ('b', 2)) AS t(x, i)",
    ),
    case(
        "array",
        "slice",
        "SELECT slice(ARRAY[1, 2, 3, 4], 2, 2) AS s",
        "SELECT [2, 3] AS s",
    ),
    case(
        "array", "array-position", "SELECT array_position(ARRAY[5, 6, 7], 6) AS p", "SELECT 2 AS p"
    ),
    case(
        "array",
        "array-position-missing",
        "SELECT array_position(ARRAY[5], 9) AS q",
        "SELECT 0 AS q",
    ),
]

MATRIX = [
    *SELECT_CASES,
    *WHERE_CASES,
    *GROUP_CASES,
    *ORDER_CASES,
    *DISTINCT_CASES,
    *CTE_CASES,
    *SUBQUERY_CASES,
    *SETOP_CASES,
    *CASE_CASES,
    *CAST_CASES,
    *JOIN_CASES,
    *TIME_CASES,
    *AGG_CASES,
    *WINDOW_CASES,
    *STRING_CASES,
    *MATH_CASES,
    *NULL_CASES,
    *MEASURE_CASES,
    *ARRAY_CASES,
]


@pytest.mark.parametrize("c", MATRIX)
def test_language_matrix(client, ref, c: Case):
    got = client.query(c.sql)
    if c.check is not None:
        c.check(got, ref)
        return
    names, want = rows_of_duckdb(ref, c.duck if c.duck is not None else _dq(c.sql))
    assert list(got.columns) == names
    assert_rows(rows_of_frame(got), want, ordered=c.ordered)


def test_matrix_ids_are_unique():
    ids = [p.id for p in MATRIX]
    assert len(ids) == len(set(ids))


def test_describe_names_single_measure_value_columns(client):
    """A table holding both kinds of records: Timestream's DESCRIBE attribute types."""
    d = client.query(f"DESCRIBE {DB}.host_stats")
    kinds = dict(zip(d["Column"], d["Timestream attribute type"], strict=True))
    assert kinds == {
        "host": "DIMENSION",
        "region": "DIMENSION",
        "measure_name": "MEASURE_NAME",
        "time": "TIMESTAMP",
        "measure_value::double": "MEASURE_VALUE",
        "measure_value::bigint": "MEASURE_VALUE",
        "measure_value::varchar": "MEASURE_VALUE",
        "measure_value::boolean": "MEASURE_VALUE",
        "load": "MULTI",
        "procs": "MULTI",
    }


# ============================================================================================
# Timestream's documented sample queries, verbatim
# ============================================================================================

SAMPLES_NOW = pd.Timestamp("2021-11-12 19:00", tz="UTC")  # after the pattern pages' windows

DEVOPS_HOSTS = [  # region, az, hostname, cpu baseline
    ("us-east-1", "us-east-1a", "host-Hovjv", 62.0),
    ("us-east-1", "us-east-1b", "host-24Gju", 38.0),
    ("us-east-1", "us-east-1c", "host-kB3cd", 35.0),
    ("eu-west-1", "eu-west-1a", "host-Qz9xw", 30.0),
    ("eu-west-1", "eu-west-1b", "host-7yTrn", 66.0),
    ("eu-west-1", "eu-west-1c", "host-Lm2Pq", 41.0),
]

TRUCKS = [  # truck_id, fleet, fuel_capacity, model, load_capacity, make
    ("1234546252", "Alpha", "100", "359", "1000", "Peterbilt"),
    ("2313123223", "Alpha", "150", "W925", "1000", "Kenworth"),
    ("3496454495", "Alpha", "150", "W925", "1000", "Kenworth"),
    ("4132246625", "Beta", "100", "Wrecker", "500", "Peterbilt"),
    ("5423123424", "Beta", "150", "C-600", "1000", "Ford"),
    ("6443431232", "Beta", "100", "Astro", "500", "GMC"),
]
TRUCK_DIMS = ["truck_id", "fleet", "fuel_capacity", "model", "load_capacity", "make"]
LOCATIONS = [
    "47.6062 N, 122.3321 W",
    "40.7128 N, 74.0060 W",
    "36.1627 N, 86.7816 W",
    "45.5051 N, 122.6750 W",
]

MICROSERVICES = ["apollo", "athena", "demeter", "hercules", "zeus"]
DEVOPS_METRIC_DIMS = [
    "region",
    "cell",
    "silo",
    "availability_zone",
    "microservice_name",
    "instance_name",
    "instance_type",
    "os_version",
]
DEVOPS_EVENT_DIMS = [
    "region",
    "cell",
    "silo",
    "availability_zone",
    "microservice_name",
    "instance_name",
    "process_name",
    "jdk_version",
]


def _fuel_pct(truck: int, hours_ago: np.ndarray) -> np.ndarray:
    """Fuel as % of capacity: a truck that refuels after running low in the last 48 h (0),
    two that never run low (1, 4), one low only 60 h ago (2), one running low now and not
    refuelled (3), one steady (5)."""
    if truck == 0:
        return 100 - 95 * ((192 - hours_ago) % 36) / 36
    if truck == 2:
        return np.where(hours_ago > 50, 100 - 95 * ((192 - hours_ago) % 40) / 40, 80.0)
    if truck == 3:
        return np.where(hours_ago < 70, 3 + 97 * hours_ago / 70, 60.0)
    return np.full(len(hours_ago), [0, 70.0, 0, 0, 55.0, 50.0][truck])


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The sample databases of the docs, with small synthetic data of their schemas, and the
    same data as flat frames for the expectations."""
    rng = np.random.default_rng(11)
    now = SAMPLES_NOW
    frames: dict[str, pd.DataFrame] = {}

    # "sampleDB".DevOps (and sample.DevOps): single-measure records of EC2 hosts
    devops_records: list[dict[str, Any]] = []
    grid = pd.date_range(now - pd.Timedelta("150min"), now - pd.Timedelta("20s"), freq="20s")
    for h, (region, az, host, base) in enumerate(DEVOPS_HOSTS):
        dims = [
            {"Name": "region", "Value": region},
            {"Name": "az", "Value": az},
            {"Name": "hostname", "Value": host},
        ]
        for ts in grid + pd.Timedelta(seconds=3 * h, milliseconds=123):
            ms = _ms(ts)
            if rng.random() > 0.15:  # gaps: what the interpolation queries fill in
                cpu = float(np.clip(base + rng.uniform(-25, 25), 0, 100))
                devops_records.append(
                    {
                        "Dimensions": dims,
                        "MeasureName": "cpu_utilization",
                        "MeasureValue": repr(cpu),
                        "Time": ms,
                    }
                )
            devops_records.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "memory_utilization",
                    "MeasureValue": repr(float(rng.uniform(20, 95))),
                    "Time": ms,
                }
            )
            for m in ("network_bytes_in", "network_bytes_out"):
                devops_records.append(
                    {
                        "Dimensions": dims,
                        "MeasureName": m,
                        "MeasureValue": str(int(rng.integers(0, 50_000))),
                        "MeasureValueType": "BIGINT",
                        "Time": ms,
                    }
                )
            if host == "host-Hovjv":  # requests served (the integral page's measure)
                devops_records.append(
                    {
                        "Dimensions": dims,
                        "MeasureName": "request",
                        "MeasureValue": repr(float(rng.uniform(100, 500))),
                        "Time": ms,
                    }
                )
        if h < 2:  # service errors of two microservices (the derivatives page's measure)
            service = [*dims, {"Name": "micro_service", "Value": ["jwt", "auth"][h]}]
            for ts in pd.date_range(
                now - pd.Timedelta("2h"), now - pd.Timedelta("1min"), freq="1min"
            ) + pd.Timedelta(seconds=h + 1):
                devops_records.append(
                    {
                        "Dimensions": service,
                        "MeasureName": "service_error",
                        "MeasureValue": repr(float(rng.uniform(0, 20))),
                        "Time": _ms(ts),
                    }
                )
    rows = []
    for r in devops_records:
        d = {x["Name"]: x["Value"] for x in r["Dimensions"]}
        big = r.get("MeasureValueType") == "BIGINT"
        rows.append(
            {
                "micro_service": None,
                **d,
                "measure_name": r["MeasureName"],
                "time": pd.Timestamp(int(r["Time"]), unit="ms", tz="UTC"),
                "double": None if big else float(r["MeasureValue"]),
                "bigint": int(r["MeasureValue"]) if big else None,
            }
        )
    frames["DevOps"] = pd.DataFrame(rows)

    # "sampleDB".IoT: single-measure truck telemetry, every 30 minutes for 8 days
    iot_records: list[dict[str, Any]] = []
    iot_multi = []
    grid = pd.date_range(now - pd.Timedelta("8d"), now - pd.Timedelta("1min"), freq="30min")
    for k, truck in enumerate(TRUCKS):
        dims = [{"Name": n, "Value": v} for n, v in zip(TRUCK_DIMS, truck, strict=True)]
        times = grid + pd.Timedelta(seconds=37 * k, milliseconds=250)
        hours_ago = ((now - times) / pd.Timedelta("1h")).to_numpy()
        fuel = _fuel_pct(k, hours_ago) * float(truck[2]) / 100 + rng.uniform(-0.4, 0.4, len(times))
        load = rng.uniform(0, float(truck[4]), len(times))
        speed = rng.uniform(0, 100, len(times))
        where = rng.integers(0, len(LOCATIONS), len(times))
        for i, ts in enumerate(times):
            ms = _ms(ts)
            for name, value in (("fuel-reading", fuel[i]), ("load", load[i]), ("speed", speed[i])):
                iot_records.append(
                    {
                        "Dimensions": dims,
                        "MeasureName": name,
                        "MeasureValue": repr(float(value)),
                        "Time": ms,
                    }
                )
            iot_records.append(
                {
                    "Dimensions": dims,
                    "MeasureName": "location",
                    "MeasureValue": LOCATIONS[where[i]],
                    "MeasureValueType": "VARCHAR",
                    "Time": ms,
                }
            )
            iot_multi.append(
                {
                    **dict(zip(TRUCK_DIMS, truck, strict=True)),
                    "time": pd.Timestamp(int(ms), unit="ms", tz="UTC"),
                    "load": float(load[i]),
                    "fuel-reading": float(fuel[i]),
                    "location": LOCATIONS[where[i]],
                    "speed": float(speed[i]),
                }
            )
    rows = []
    for r in iot_records:
        d = {x["Name"]: x["Value"] for x in r["Dimensions"]}
        text = r.get("MeasureValueType") == "VARCHAR"
        rows.append(
            {
                **d,
                "measure_name": r["MeasureName"],
                "time": pd.Timestamp(int(r["Time"]), unit="ms", tz="UTC"),
                "double": None if text else float(r["MeasureValue"]),
                "varchar": r["MeasureValue"] if text else None,
            }
        )
    frames["IoT"] = pd.DataFrame(rows)
    frames["IoTMulti"] = pd.DataFrame(iot_multi)

    # "raw_data"."devops": the scheduled-query pages' fleet (multi-measure metrics and events)
    metrics, events = [], []
    grid = pd.date_range(
        pd.Timestamp("2021-11-10 06:00", tz="UTC"), now - pd.Timedelta("1min"), freq="15min"
    )
    n = 200
    for region in ("us-east-1", "eu-west-1"):
        cell = f"{region}-cell-10"
        for silo in (f"{cell}-silo-1", f"{cell}-silo-3"):
            for az in (f"{region}-1", f"{region}-3"):
                for ms_name in MICROSERVICES:
                    for j in range(2):
                        n += 1
                        num = (
                            272 + j
                            if (
                                silo.endswith("silo-1")
                                and region == "eu-west-1"
                                and az.endswith("-3")
                                and ms_name == "demeter"
                            )
                            else n
                        )
                        name = f"i-zaZswmJk-{ms_name}-{silo}-{num:08d}.amazonaws.com"
                        times = grid + pd.Timedelta(seconds=(7 * n) % 900, milliseconds=311)
                        times = times[times < now]
                        base = rng.uniform(20, 80)
                        dims = {
                            "region": region,
                            "cell": cell,
                            "silo": silo,
                            "availability_zone": az,
                            "microservice_name": ms_name,
                            "instance_name": name,
                        }
                        metrics.append(
                            pd.DataFrame(
                                {
                                    "time": times,
                                    **dims,
                                    "instance_type": ["m5.8xlarge", "r5.4xlarge"][n % 2],
                                    "os_version": ["AL2", "AL2012"][n % 2],
                                    "cpu_user": np.clip(
                                        base + rng.uniform(-15, 15, len(times)), 0, 100
                                    ),
                                    "memory_used": rng.uniform(5, 99, len(times)),
                                    "disk_io_reads": rng.uniform(0, 100, len(times)),
                                }
                            )
                        )
                        events.append(
                            pd.DataFrame(
                                {
                                    "time": times,
                                    **dims,
                                    "process_name": ["host_manager", "server"][n % 2],
                                    "jdk_version": ["JDK_8", "JDK_11"][n % 2],
                                    "gc_pause": rng.uniform(0, 100, len(times)),
                                    "task_completed": rng.integers(0, 500, len(times)),
                                    "task_end_state": rng.choice(
                                        ["SUCCESS_WITH_RESULT", "SUCCESS_WITH_NO_RESULT"],
                                        len(times),
                                    ),
                                }
                            )
                        )
    metrics_df = pd.concat(metrics, ignore_index=True)
    events_df = pd.concat(events, ignore_index=True)
    frames["metrics"] = metrics_df.assign(measure_name="metrics")
    frames["events"] = events_df.assign(measure_name="events")

    path = tmp_path_factory.mktemp("samples")
    c = tsstore.connect(path, clock=lambda: now, lifecycle_interval=None)
    for db_name in ("sampleDB", "sample"):
        c.create_database(db_name).create_table("DevOps").write_records(
            devops_records, errors="raise"
        )
    sample_db = c.database("sampleDB")
    sample_db.create_table("IoT").write_records(iot_records, errors="raise")
    sample_db.create_table("IoTMulti").write(
        frames["IoTMulti"], dimensions=TRUCK_DIMS, measure_name="IoTMulti-stats"
    )
    raw = c.create_database("raw_data").create_table("devops")
    raw.write(metrics_df, dimensions=DEVOPS_METRIC_DIMS, measure_name="metrics")
    raw.write(events_df, dimensions=DEVOPS_EVENT_DIMS, measure_name="events")
    c.run_lifecycle()
    yield c, frames
    c.close()


# --------------------------------------------------------------------------------------------
# Expectations: pandas, following each query's text
# --------------------------------------------------------------------------------------------


def tround(x: Any, digits: int = 0) -> Any:
    """Trino's round(double, d): half away from zero, as Math.round(x * 10^d) / 10^d."""
    f = 10.0**digits
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.floor(np.abs(x) * f + 0.5) / f


def tbin(t: pd.Series, freq: str) -> pd.Series:
    """Timestream's bin(): floor to a multiple of the duration since the epoch."""
    return t.dt.floor(freq)


def q(x: pd.Series, p: float) -> float:
    """approx_percentile as tsstore computes it (exact, linear interpolation)."""
    return float(np.percentile(x.to_numpy(float), p * 100))


def check_doc(got: pd.DataFrame, want: pd.DataFrame, *, ordered: bool, names: bool = True) -> None:
    if names:
        assert list(got.columns) == list(want.columns)
    assert got.shape[1] == want.shape[1]
    assert_rows(rows_of_frame(got), rows_of_frame(want), ordered=ordered)


def _cpu(
    frames: dict[str, pd.DataFrame], hours: float = 2, host: str | None = None
) -> pd.DataFrame:
    d = frames["DevOps"]
    d = d[
        (d.measure_name == "cpu_utilization") & (d.time > SAMPLES_NOW - pd.Timedelta(hours=hours))
    ]
    return d[d.hostname == host] if host else d


def want_devops_percentiles(f):
    d = _cpu(f, host="host-Hovjv").assign(binned_timestamp=lambda x: tbin(x.time, "15s"))
    g = d.groupby(["region", "hostname", "az", "binned_timestamp"])["double"]
    out = g.agg(
        avg_cpu_utilization=lambda v: tround(v.mean(), 2),
        p90_cpu_utilization=lambda v: tround(q(v, 0.9), 2),
        p95_cpu_utilization=lambda v: tround(q(v, 0.95), 2),
        p99_cpu_utilization=lambda v: tround(q(v, 0.99), 2),
    ).reset_index()
    cols = [
        "region",
        "az",
        "hostname",
        "binned_timestamp",
        "avg_cpu_utilization",
        "p90_cpu_utilization",
        "p95_cpu_utilization",
        "p99_cpu_utilization",
    ]
    return out[cols].sort_values("binned_timestamp")


def want_devops_above_fleet(f):
    d = _cpu(f)
    fleet_avg = d["double"].mean()
    per = (
        d.groupby(["region", "az", "hostname"])["double"]
        .mean()
        .rename("avg_cpu_utilization")
        .reset_index()
    )
    per["fleet_avg_cpu_utilization"] = fleet_avg
    per = per[per.avg_cpu_utilization > 1.1 * fleet_avg]
    assert 0 < len(per) < len(DEVOPS_HOSTS)
    return per.sort_values("avg_cpu_utilization", ascending=False)


def want_devops_bin30(f):
    d = _cpu(f, host="host-Hovjv").assign(binned_timestamp=lambda x: tbin(x.time, "30s"))
    out = d.groupby(["hostname", "binned_timestamp"])["double"].mean().reset_index()
    out["avg_cpu_utilization"] = tround(out["double"], 2)
    return out[["binned_timestamp", "avg_cpu_utilization"]].sort_values("binned_timestamp")


def _iot(f, measure: str, since: str | None = None) -> pd.DataFrame:
    d = f["IoT"]
    d = d[d.measure_name == measure]
    return d[d.time >= SAMPLES_NOW - pd.Timedelta(since)] if since else d


def want_iot_attributes(f):
    return f["IoT"][[*TRUCK_DIMS, "measure_name"]].drop_duplicates()[
        ["truck_id", "fleet", "fuel_capacity", "model", "load_capacity", "make", "measure_name"]
    ]


def want_iot_latest_fuel(f):
    d = _iot(f, "fuel-reading", "24h")
    last = d.loc[d.groupby("truck_id")["time"].idxmax()]
    out = last[["truck_id", "fleet", "make", "model", "time", "double"]].rename(
        columns={"double": "last_reported_fuel_reading"}
    )
    return out.sort_values("truck_id")


def want_iot_low_fuel(f):
    d = _iot(f, "fuel-reading", "48h").copy()
    d["fuel_pct"] = d["double"] / d["fuel_capacity"].astype(float) * 100
    low = d[d.fuel_pct < 10]
    other = d[(d.fuel_pct >= 10) & d.truck_id.isin(low.truck_id)]
    refuelled = {
        t
        for t, lt in zip(low.truck_id, low.time, strict=True)
        if ((other.truck_id == t) & (other.time >= lt)).any()
    }
    out = low[~low.truck_id.isin(refuelled)][
        ["truck_id", "fleet", "make", "model", "fuel_pct"]
    ].drop_duplicates()
    assert out.truck_id.nunique() == 1 and len(refuelled) >= 1  # the data has both kinds
    return out


def want_iot_load_speed(f):
    d = f["IoT"]
    d = d[
        (d.time >= SAMPLES_NOW - pd.Timedelta("7d")) & d.measure_name.isin(["load", "speed"])
    ].copy()
    d["binned_time"] = tbin(d.time, "1D")
    d["l"] = d["double"].where(d.measure_name == "load")
    d["s"] = d["double"].where(d.measure_name == "speed")
    out = (
        d.groupby(["fleet", "truck_id", "make", "model", "binned_time"])
        .agg(avg_load_tons=("l", "mean"), max_speed_mph=("s", "max"))
        .reset_index()
    )
    return out[
        ["binned_time", "fleet", "truck_id", "make", "model", "avg_load_tons", "max_speed_mph"]
    ]


def want_iot_load_efficiency(f):
    load = _iot(f, "load")
    avg = (
        load[load.time >= SAMPLES_NOW - pd.Timedelta("7d")]
        .groupby("truck_id")["double"]
        .mean()
        .rename("avg_load")
    )
    d = load.join(avg, on="truck_id")
    d["load_efficiency"] = d["double"] * 100 / d["avg_load"]
    return d[["truck_id", "time", "load_efficiency"]].sort_values(["truck_id", "time"])


def want_iotmulti_speed(f):
    return f["IoTMulti"][["speed"]]


def want_iot_load_values(f):
    return _iot(f, "load")[["double"]].rename(columns={"double": "measure_value::double"})


def _raw(f, kind: str, lo: int, hi: int, **dims: str) -> pd.DataFrame:
    d = f[kind]
    d = d[
        (d.time >= pd.Timestamp(lo, unit="ms", tz="UTC"))
        & (d.time <= pd.Timestamp(hi, unit="ms", tz="UTC"))
    ]
    for k, v in dims.items():
        d = d[d[k] == v]
    return d


def want_raw_fleet_points(f):
    rows = []
    for kind, per in (("metrics", 20), ("events", 5)):
        d = _raw(f, kind, 1636699996445, 1636743196445, region="us-east-1")
        rows.append(d.assign(minute=tbin(d.time, "1min"), n=per)[["minute", "n"]])
    d = pd.concat(rows)
    out = d.groupby("minute")["n"].sum().rename("numDataPoints").reset_index()
    return out.sort_values(["minute", "numDataPoints"], ascending=False)


def want_raw_distinct_regions(f):
    d = pd.concat([f["metrics"], f["events"]])
    d = d[d.time > SAMPLES_NOW - pd.Timedelta("1h")]
    return pd.DataFrame({"region": sorted(d.region.unique())})


DEPLOYMENT_HERCULES = {
    "region": "us-east-1",
    "cell": "us-east-1-cell-10",
    "silo": "us-east-1-cell-10-silo-3",
    "availability_zone": "us-east-1-1",
    "microservice_name": "hercules",
}
DEPLOYMENT_DEMETER = {
    "region": "eu-west-1",
    "cell": "eu-west-1-cell-10",
    "silo": "eu-west-1-cell-10-silo-1",
    "microservice_name": "demeter",
    "availability_zone": "eu-west-1-3",
}
INSTANCE_272 = "i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com"


def want_raw_last_point(f):
    d = f["events"]
    d = d[d.time < pd.Timestamp(1636685271872, unit="ms", tz="UTC")]
    for k, v in DEPLOYMENT_HERCULES.items():
        d = d[d[k] == v]
    last = d.loc[d.groupby("instance_name")["time"].idxmax()]
    out = last[["instance_name", "time", "gc_pause"]].rename(columns={"gc_pause": "last_measure"})
    return out.sort_values(["instance_name", "time"], ascending=[True, False])


def want_raw_instances_per_microservice(f):
    d = _raw(f, "metrics", 1636526171043, 1636612571043)
    n = (
        d.groupby(["region", "cell", "silo", "availability_zone", "microservice_name"])[
            "instance_name"
        ]
        .nunique()
        .groupby("microservice_name")
        .sum()
    )
    out = pd.DataFrame({m: [n[k] if k == m else None for k in n.index] for m in MICROSERVICES})
    return out.astype(object)


def _dense_rank(df: pd.DataFrame, by: list[str], keys: list[str]) -> pd.Series:
    """DENSE_RANK() OVER (PARTITION BY by ORDER BY keys DESC)."""
    ranks = pd.Series(0, index=df.index)
    for _, part in df.groupby(by):
        distinct = sorted({tuple(r) for r in part[keys].itertuples(index=False)}, reverse=True)
        pos = {k: i + 1 for i, k in enumerate(distinct)}
        for idx, r in zip(part.index, part[keys].itertuples(index=False), strict=True):
            ranks[idx] = pos[tuple(r)]
    return ranks


def want_raw_high_utilization(f):
    lo, hi = 1636526593876, 1636612993876
    d = _raw(f, "metrics", lo, hi)
    keys = ["region", "cell", "silo", "availability_zone", "microservice_name"]
    m = d.groupby(keys)["cpu_user"].mean().rename("microservice_avg_metric")
    i = (
        d.groupby([*keys, "instance_name"])["cpu_user"]
        .mean()
        .rename("instance_avg_metric")
        .reset_index()
        .join(m, on=keys)
    )
    i["high_utilization"] = (i.instance_avg_metric > 1.2 * i.microservice_avg_metric).astype(int)
    i["low_utilization"] = (i.instance_avg_metric < 0.8 * i.microservice_avg_metric).astype(int)
    g = (
        i.groupby(["region", "microservice_name"])
        .agg(
            num_hosts=("instance_name", "size"),
            high_utilization_hosts=("high_utilization", "sum"),
            low_utilization_hosts=("low_utilization", "sum"),
        )
        .reset_index()
    )
    g["percent_high_utilization_hosts"] = tround(g.high_utilization_hosts * 100.0 / g.num_hosts)
    g["percent_low_utilization_hosts"] = tround(g.low_utilization_hosts * 100.0 / g.num_hosts)
    g["rank"] = _dense_rank(
        g, ["region"], ["percent_high_utilization_hosts", "high_utilization_hosts"]
    )
    assert g.high_utilization_hosts.sum() > 0 and g.low_utilization_hosts.sum() > 0
    return g[g["rank"] <= 2]


def want_raw_drill_down(f):
    d = _raw(f, "metrics", 1636527099476, 1636613499476, **DEPLOYMENT_DEMETER)
    d = d.assign(minute=tbin(d.time, "5min"))
    out = (
        d.groupby("minute")["cpu_user"]
        .agg(
            avg_value=lambda v: tround(v.mean(), 2),
            p90_value=lambda v: tround(q(v, 0.9), 2),
            p95_value=lambda v: tround(q(v, 0.95), 2),
            p99_value=lambda v: tround(q(v, 0.99), 2),
        )
        .reset_index()
    )
    return out.sort_values("minute")


def _instance(f, kind: str, lo: int, hi: int) -> pd.DataFrame:
    return _raw(f, kind, lo, hi, **DEPLOYMENT_DEMETER, instance_name=INSTANCE_272)


def _instance_bins(f, column: str, avg: str, p99: str, lo: int, hi: int) -> pd.DataFrame:
    d = _instance(f, "metrics", lo, hi)
    d = d.assign(time_bin=tbin(d.time, "30min"))
    out = (
        d.groupby("time_bin")[column]
        .agg(**{avg: "mean", p99: lambda v: tround(q(v, 0.99), 2)})
        .reset_index()
    )
    assert len(out) > 10
    return out.sort_values("time_bin", ascending=False)


def want_raw_instance_cpu(f):
    return _instance_bins(f, "cpu_user", "avg_cpu", "p99_cpu", 1636527099477, 1636613499477)


def want_raw_instance_memory(f):
    return _instance_bins(
        f, "memory_used", "avg_memory", "p99_memory", 1636527099477, 1636613499477
    )


def want_raw_instance_disk(f):
    return _instance_bins(f, "disk_io_reads", "avg", "p99", 1636527099478, 1636613499478)


def want_raw_gc_count(f):
    return pd.DataFrame({"_col0": [len(_instance(f, "events", 1636527099477, 1636613499478))]})


def want_raw_gc_stats(f):
    d = _instance(f, "events", 1636527099478, 1636613499478)["gc_pause"]
    return pd.DataFrame({"avg": [d.mean()], "p99": [tround(q(d, 0.99), 2)]})


def want_use_case_avg(frame: pd.DataFrame) -> pd.DataFrame:
    d = frame[(frame.time >= NOW - pd.Timedelta("1h")) & (frame.time <= NOW)]
    return pd.DataFrame({"_col0": [d.temperature.mean()]})


def want_use_case_star(frame: pd.DataFrame) -> pd.DataFrame:
    d = frame[
        (frame.pressure > 100) & (frame.time >= NOW - pd.Timedelta("5m")) & (frame.time <= NOW)
    ]
    return d[FLEET_COLUMNS]


# Time-series functions (create_time_series, interpolate_*): the expected points, from the
# documented semantics; a timeseries value may come back as a list of {time, value} mappings
# or of (time, value) pairs.


def _points(v: Any) -> list[tuple[int, float]]:
    out = []
    for item in list(v):
        t, x = (item["time"], item["value"]) if isinstance(item, dict) else (item[0], item[1])
        out.append((norm(t)[1], float(x)))
    return out


def _grid(lo: pd.Timestamp, hi: pd.Timestamp, step: str) -> pd.DatetimeIndex:
    return pd.date_range(lo, hi, freq=step)


def _linear(t: pd.Series, v: pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
    t0 = t.min()
    x = ((t - t0) / pd.Timedelta("1ns")).to_numpy(float)
    g = ((grid - t0) / pd.Timedelta("1ns")).to_numpy(float)
    return np.interp(g, x, v.to_numpy(float))


def _locf(t: pd.Series, v: pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
    order = np.argsort(t.to_numpy())
    ts, vs = t.to_numpy()[order], v.to_numpy(float)[order]
    return vs[np.searchsorted(ts, grid.to_numpy(), side="right") - 1]


def _binned_hovjv(f) -> pd.DataFrame:
    d = _cpu(f, host="host-Hovjv").assign(binned_timestamp=lambda x: tbin(x.time, "30s"))
    out = d.groupby("binned_timestamp")["double"].mean().reset_index()
    out["avg"] = tround(out["double"], 2)
    return out


def check_ts_interpolated(kind: str) -> Callable[[pd.DataFrame, dict[str, pd.DataFrame]], None]:
    """The points of the sequence, interpolated, then ROUND(value, 2). A linear value half way
    between two 2-decimal values ends in 5 in the third decimal: either rounding is right
    there (it depends on the last bit of the interpolation's arithmetic)."""

    def check(got: pd.DataFrame, f) -> None:
        b = _binned_hovjv(f)
        grid = _grid(b.binned_timestamp.min(), b.binned_timestamp.max(), "15s")
        if kind == "linear":
            values = _linear(b.binned_timestamp, b.avg, grid)
        elif kind == "locf":
            values = _locf(b.binned_timestamp, b.avg, grid)
        else:  # fill with 10.0 where there is no sample
            known = dict(zip(b.binned_timestamp, b.avg, strict=True))
            values = np.array([known.get(t, 10.0) for t in grid])
        assert list(got.columns) == ["time", "interpolated_cpu"]
        got_points = sorted(
            zip((norm(t)[1] for t in got["time"]), got["interpolated_cpu"], strict=True)
        )
        assert [t for t, _ in got_points] == [t.value for t in grid]
        for (_, g), v in zip(got_points, values, strict=True):
            halfway = abs((v * 100) % 1 - 0.5) < 1e-6
            assert g == pytest.approx(float(tround(v, 2)), abs=0.0100001 if halfway else 1e-9), (
                g,
                v,
            )

    return check


def check_ts_spline(got: pd.DataFrame, f) -> None:
    """A cubic spline through the bins: exact at the samples, one point per 15 s."""
    b = _binned_hovjv(f)
    grid = _grid(b.binned_timestamp.min(), b.binned_timestamp.max(), "15s")
    assert list(got.columns) == ["time", "interpolated_cpu"] and len(got) == len(grid)
    by_time = dict(zip((norm(t)[1] for t in got["time"]), got["interpolated_cpu"], strict=True))
    for t, v in zip(b.binned_timestamp, b.avg, strict=True):
        assert by_time[t.value] == pytest.approx(v, abs=1e-9)


def want_ts_locf_all_hosts(f):
    d = _cpu(f)
    rows = []
    for host, g in d.groupby("hostname"):
        grid = _grid(g.time.min(), g.time.max(), "1s")
        rows.append((host, _locf(g.time, g["double"], grid).mean()))
    out = pd.DataFrame(rows, columns=["hostname", "avg_cpu_utilization"])
    return out.sort_values("avg_cpu_utilization", ascending=False)


def _hovjv_10s(f, lo=None, hi=None, since="2h", host="host-Hovjv"):
    d = _cpu(f, hours=pd.Timedelta(since) / pd.Timedelta("1h"), host=host)
    grid = _grid(lo or d.time.min(), hi or d.time.max(), "10s")
    return grid, _linear(d.time, pd.Series(tround(d["double"], 2)), grid), d


def check_ts_filter_reduce(got: pd.DataFrame, f) -> None:
    grid, v, _ = _hovjv_10s(f)
    above = [(t.value, x) for t, x in zip(grid, v, strict=True) if x > 70.0]
    assert 0 < len(above) < len(grid)
    assert list(got.columns) == [
        "cpu_above_threshold",
        "count_cpu_above_threshold",
        "fraction_cpu_above_threshold",
    ]
    (row,) = got.itertuples(index=False)
    assert [(t, pytest.approx(x)) for t, x in above] == _points(row[0])
    assert row[1] == len(above)
    assert row[2] == pytest.approx(float(tround(len(above) / len(grid), 4)))


def check_ts_filter_below(got: pd.DataFrame, f) -> None:
    grid, v, d = _hovjv_10s(f)
    oldest = d.time.min() + pd.Timedelta("1m")
    want = [(t.value, x) for t, x in zip(grid, v, strict=True) if x < 75 and t > oldest]
    assert 0 < len(want) < len(grid)
    (value,) = got.iloc[0]
    assert [(t, pytest.approx(x)) for t, x in want] == _points(value)


def check_ts_count(got: pd.DataFrame, f) -> None:
    grid, _, _ = _hovjv_10s(f)
    assert got["count_cpu"].tolist() == [float(len(grid))]


def check_ts_avg(got: pd.DataFrame, f) -> None:
    _, v, _ = _hovjv_10s(f)
    assert got["avg_cpu"].tolist() == pytest.approx([v.mean()])


def _last_15m(f):
    now = SAMPLES_NOW
    return _hovjv_10s(f, lo=now - pd.Timedelta("15m"), hi=now - pd.Timedelta("1m"), since="30m")


def check_ts_page_filter(got: pd.DataFrame, f) -> None:
    grid, v, _ = _last_15m(f)
    want = [(t.value, x) for t, x in zip(grid, v, strict=True) if x > 70.0]
    assert 0 < len(want) < len(grid)
    assert [(t, pytest.approx(x)) for t, x in want] == _points(got["cpu_above_threshold"].iloc[0])


def check_ts_page_sum_squares(got: pd.DataFrame, f) -> None:
    _, v, _ = _last_15m(f)
    assert got.iloc[:, 0].tolist() == pytest.approx([float((v * v).sum())])


def check_ts_page_fraction(got: pd.DataFrame, f) -> None:
    grid, v, _ = _last_15m(f)
    assert got["fraction_cpu_above_threshold"].tolist() == pytest.approx(
        [float(tround((v > 70.0).sum() / len(grid), 4))]
    )


def check_ts_raw_hourly(got: pd.DataFrame, f) -> None:
    d = _raw(f, "metrics", 1636526898831, 1636613298831, microservice_name="demeter").assign(
        hour=lambda x: tbin(x.time, "1h")
    )
    keys = ["region", "cell", "silo", "availability_zone", "microservice_name", "hour"]
    m = d.groupby(keys)["cpu_user"].mean().rename("m")
    i = (
        d.groupby([*keys, "instance_name"])["cpu_user"]
        .mean()
        .rename("i")
        .reset_index()
        .join(m, on=keys)
    )
    i["high"] = (i.i > 1.2 * i.m).astype(int)
    hup = (
        i.groupby(["region", "cell", "silo", "microservice_name", "hour"])
        .agg(n=("instance_name", "size"), h=("high", "sum"))
        .reset_index()
    )
    hup["pct"] = tround(hup.h * 100.0 / hup.n)
    hur = (
        hup.groupby(["region", "cell", "silo", "microservice_name"])
        .agg(a=("pct", "mean"), b=("h", "mean"))
        .reset_index()
    )
    hur["rank"] = _dense_rank(hur, ["region"], ["a", "b"])
    keep = hur[hur["rank"] <= 2][["region", "cell", "silo"]]
    want = {
        silo: sorted((t.value, p) for t, p in zip(g.hour, g.pct, strict=True))
        for silo, g in hup.merge(keep).groupby("silo")
    }
    assert want and all(len(v) > 20 for v in want.values())
    assert got["silo"].tolist() == sorted(want)
    for silo, series in zip(got["silo"], got["percent_high_utilization_hosts"], strict=True):
        assert sorted(_points(series)) == [(t, pytest.approx(p)) for t, p in want[silo]]


def _derivative(t: pd.Series, v: pd.Series, per: pd.Timedelta) -> list[tuple[int, float]]:
    """derivative_linear: the slope between each point and the one before, per ``per``."""
    order = np.argsort(t.to_numpy())
    t, v = t.iloc[order], v.iloc[order].to_numpy(float)
    dt = np.diff(t.to_numpy()).astype("timedelta64[ns]").astype(np.int64)
    slopes = np.diff(v) / dt * per.value
    return [(ts.value, float(x)) for ts, x in zip(t.iloc[1:], slopes, strict=True)]


def check_ts_derivative(got: pd.DataFrame, f) -> None:
    d = _cpu(f, hours=1, host="host-Hovjv")
    assert list(got.columns) == ["result"] and len(got) == 1
    want = _derivative(d.time, d["double"], pd.Timedelta("5m"))
    assert len(want) > 100
    assert [(t, pytest.approx(x)) for t, x in want] == _points(got["result"].iloc[0])


def check_ts_non_negative_derivative(got: pd.DataFrame, f) -> None:
    d = f["DevOps"]
    d = d[
        (d.micro_service == "jwt")
        & (d.time > SAMPLES_NOW - pd.Timedelta("1h"))
        & (d.measure_name == "service_error")
    ]
    b = (
        d.assign(binned_timestamp=tbin(d.time, "5min"))
        .groupby("binned_timestamp")["double"]
        .mean()
        .reset_index()
    )
    slopes = dict(
        _derivative(b.binned_timestamp, pd.Series(tround(b["double"], 2)), pd.Timedelta("1m"))
    )
    assert list(got.columns) == ["rateOfErrorIncrease"] and len(got) == 1
    points = _points(got["rateOfErrorIncrease"].iloc[0])
    assert all(x >= 0 and slopes[t] == pytest.approx(x) for t, x in points)  # only positive rates
    assert {t for t, x in slopes.items() if x > 0} <= {t for t, _ in points}
    assert any(x < 0 for x in slopes.values())  # the data has both signs


def check_ts_integral(got: pd.DataFrame, f) -> None:
    d = f["DevOps"]
    d = d[
        (d.measure_name == "request")
        & (d.hostname == "host-Hovjv")
        & (d.time > SAMPLES_NOW - pd.Timedelta("1h"))
    ].sort_values("time")
    t = d.time.to_numpy().astype("datetime64[ns]").astype(np.int64)
    v = d["double"].to_numpy()
    area = float(((v[1:] + v[:-1]) / 2 * np.diff(t)).sum() / pd.Timedelta("5m").value)
    assert list(got.columns) == ["result"]
    assert got["result"].tolist() == pytest.approx([area])


def check_ts_correlation(got: pd.DataFrame, f) -> None:
    """The page's example correlates a series with itself."""
    assert list(got.columns) == ["result"]
    assert got["result"].tolist() == pytest.approx([1.0])


@dataclass(frozen=True)
class DocCase:
    sql: str
    want: Callable[[dict[str, pd.DataFrame]], pd.DataFrame] | None = None
    check: Callable[[pd.DataFrame, dict[str, pd.DataFrame]], None] | None = None
    ordered: bool = False
    names: bool = True
    sorted_by: tuple[tuple[str, bool], ...] = ()  # ORDER BY with ties: check the order only


# Ids of documented time-series queries that fail while tsstore.query.timeseries is written
# (xfail, not strict). Empty: all of them pass against the implementation in the tree.
TIME_SERIES_XFAIL: frozenset[str] = frozenset()


def doc(
    source: str,
    name: str,
    sql: str,
    want=None,
    *,
    check=None,
    ordered=False,
    names=True,
    sorted_by=(),
    bug=None,
    timeseries=False,
) -> Any:
    marks = []
    if bug:
        marks.append(pytest.mark.xfail(strict=True, reason=bug))
    if timeseries and f"{source}-{name}" in TIME_SERIES_XFAIL:
        marks.append(pytest.mark.xfail(strict=False, reason="time-series functions in progress"))
    return pytest.param(
        DocCase(sql, want, check, ordered, names, tuple(sorted_by)),
        id=f"{source}-{name}",
        marks=marks,
    )


def _latest_rows(n: int, measure: str | None = None, ascending: bool = False):
    """``ORDER BY time ... LIMIT n`` over rows with tied times: the times are the n first,
    in order, and each row is a row of the table."""

    def check(got: pd.DataFrame, f) -> None:
        d = f["IoT"] if measure is None else f["IoT"][f["IoT"].measure_name == measure]
        want_times = sorted(d.time, reverse=not ascending)[:n]
        assert [norm(t) for t in got["time"]] == [norm(t) for t in want_times]
        assert list(got.columns[:8]) == [*TRUCK_DIMS, "measure_name", "time"]
        table = {(r.truck_id, r.measure_name, r.time.value) for r in d.itertuples()}
        for r in got.itertuples():
            assert (r.truck_id, r.measure_name, pd.Timestamp(r.time).value) in table
            assert r.measure_name == (measure or r.measure_name)

    return check


def check_nanosecond_literals(got: pd.DataFrame, f) -> None:
    now, ns = SAMPLES_NOW, pd.Timedelta(50, "ns")
    want = [
        now,
        now - pd.Timedelta("12h"),
        now - pd.Timedelta("12h"),
        now - pd.Timedelta("12h"),
        now.floor("10min"),
        now - ns,
        now + pd.Timedelta("1h") + ns,
    ]
    assert list(got.columns) == [
        "time_now",
        "twelve_hour_earlier",
        "also_twelve_hour_earlier",
        "twelve_hours_ago",
        "time_binned",
        "fifty_ns_ago",
        "hour_fifty_ns_future",
    ]
    assert [pd.Timestamp(v).value for v in got.iloc[0]] == [t.value for t in want]


IOT_LOW_FUEL = """WITH low_fuel_trucks AS (
    SELECT time, truck_id, fleet, make, model, (measure_value::double/cast(fuel_capacity as double)*100) AS fuel_pct
    FROM "sampleDB".IoT
    WHERE time >= ago(48h)
    AND (measure_value::double/cast(fuel_capacity as double)*100) < 10
    AND measure_name = 'fuel-reading'
),
other_trucks AS (
SELECT time, truck_id, (measure_value::double/cast(fuel_capacity as double)*100) as remaining_fuel
    FROM "sampleDB".IoT
    WHERE time >= ago(48h)
    AND truck_id IN (SELECT truck_id FROM low_fuel_trucks)
    AND (measure_value::double/cast(fuel_capacity as double)*100) >= 10
    AND measure_name = 'fuel-reading'
),
trucks_that_refuelled AS (
    SELECT a.truck_id
    FROM low_fuel_trucks a JOIN other_trucks b
    ON a.truck_id = b.truck_id AND b.time >= a.time
)
SELECT DISTINCT truck_id, fleet, make, model, fuel_pct
FROM low_fuel_trucks
WHERE truck_id NOT IN (
    SELECT truck_id FROM trucks_that_refuelled
)"""  # noqa: E501

DOC_CASES = [
    # ---- developer guide: "Simple queries" (sample-queries.basic-scenarios) -------------------
    doc(
        "simple",
        "latest-10",
        'SELECT * FROM "sampleDB".IoT\nORDER BY time DESC\nLIMIT 10',
        check=_latest_rows(10),
    ),
    doc(
        "simple",
        "oldest-5-of-measure",
        "SELECT * FROM \"sampleDB\".IoT\nWHERE measure_name = 'speed'\nORDER BY time ASC\nLIMIT 5",
        check=_latest_rows(5, "speed", ascending=True),
    ),
    doc(
        "simple",
        "nanosecond-literals",
        """SELECT now() AS time_now
, now() - (INTERVAL '12' HOUR) AS twelve_hour_earlier -- Compatibility with ANSI SQL
, now() - 12h AS also_twelve_hour_earlier -- Convenient time interval literals
, ago(12h) AS twelve_hours_ago -- More convenience with time functionality
, bin(now(), 10m) AS time_binned -- Convenient time binning support
, ago(50ns) AS fifty_ns_ago -- Nanosecond support
, now() + (1h + 50ns) AS hour_fifty_ns_future""",
        check=check_nanosecond_literals,
    ),
    doc(
        "simple",
        "multi-measure-column",
        "SELECT speed FROM \"sampleDB\".IoTMulti where measure_name = 'IoTMulti-stats'",
        want_iotmulti_speed,
    ),
    doc(
        "simple",
        "single-measure-value",
        "SELECT measure_value::double FROM \"sampleDB\".IoT WHERE measure_name = 'load'",
        want_iot_load_values,
    ),
    # ---- developer guide: "Queries with time series functions" (sample-queries.devops-scenarios)
    doc(
        "devops",
        "percentiles-15s",
        """SELECT region, az, hostname, BIN(time, 15s) AS binned_timestamp,
    ROUND(AVG(measure_value::double), 2) AS avg_cpu_utilization,
    ROUND(APPROX_PERCENTILE(measure_value::double, 0.9), 2) AS p90_cpu_utilization,
    ROUND(APPROX_PERCENTILE(measure_value::double, 0.95), 2) AS p95_cpu_utilization,
    ROUND(APPROX_PERCENTILE(measure_value::double, 0.99), 2) AS p99_cpu_utilization
FROM "sampleDB".DevOps
WHERE measure_name = 'cpu_utilization'
    AND hostname = 'host-Hovjv'
    AND time > ago(2h)
GROUP BY region, hostname, az, BIN(time, 15s)
ORDER BY binned_timestamp ASC""",
        want_devops_percentiles,
        ordered=True,
    ),
    doc(
        "devops",
        "hosts-above-fleet-average",
        """WITH avg_fleet_utilization AS (
    SELECT COUNT(DISTINCT hostname) AS total_host_count, AVG(measure_value::double) AS fleet_avg_cpu_utilization
    FROM "sampleDB".DevOps
    WHERE measure_name = 'cpu_utilization'
        AND time > ago(2h)
), avg_per_host_cpu AS (
    SELECT region, az, hostname, AVG(measure_value::double) AS avg_cpu_utilization
    FROM "sampleDB".DevOps
    WHERE measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY region, az, hostname
)
SELECT region, az, hostname, avg_cpu_utilization, fleet_avg_cpu_utilization
FROM avg_fleet_utilization, avg_per_host_cpu
WHERE avg_cpu_utilization > 1.1 * fleet_avg_cpu_utilization
ORDER BY avg_cpu_utilization DESC""",  # noqa: E501
        want_devops_above_fleet,
        ordered=True,
    ),
    doc(
        "devops",
        "bin-30s",
        """SELECT BIN(time, 30s) AS binned_timestamp, ROUND(AVG(measure_value::double), 2) AS avg_cpu_utilization
FROM "sampleDB".DevOps
WHERE measure_name = 'cpu_utilization'
    AND hostname = 'host-Hovjv'
    AND time > ago(2h)
GROUP BY hostname, BIN(time, 30s)
ORDER BY binned_timestamp ASC""",  # noqa: E501
        want_devops_bin30,
        ordered=True,
    ),
    # ---- developer guide: "Queries with aggregate functions" (sample-queries.iot-scenarios) ----
    doc(
        "iot",
        "sensor-attributes",
        """SELECT
    truck_id,
    fleet,
    fuel_capacity,
    model,
    load_capacity,
    make,
    measure_name
FROM "sampleDB".IoT
GROUP BY truck_id, fleet, fuel_capacity, model, load_capacity, make, measure_name""",
        want_iot_attributes,
    ),
    doc(
        "iot",
        "latest-fuel-24h",
        """WITH latest_recorded_time AS (
    SELECT
        truck_id,
        max(time) as latest_time
    FROM "sampleDB".IoT
    WHERE measure_name = 'fuel-reading'
    AND time >= ago(24h)
    GROUP BY truck_id
)
SELECT
    b.truck_id,
    b.fleet,
    b.make,
    b.model,
    b.time,
    b.measure_value::double as last_reported_fuel_reading
FROM
latest_recorded_time a INNER JOIN "sampleDB".IoT b
ON a.truck_id = b.truck_id AND b.time = a.latest_time
WHERE b.measure_name = 'fuel-reading'
AND b.time > ago(24h)
ORDER BY b.truck_id""",
        want_iot_latest_fuel,
        ordered=True,
    ),
    doc("iot", "low-fuel-48h", IOT_LOW_FUEL, want_iot_low_fuel),
    doc(
        "iot",
        "avg-load-max-speed-week",
        """SELECT
    bin(time, 1d) as binned_time,
    fleet,
    truck_id,
    make,
    model,
    AVG(
        CASE WHEN measure_name = 'load' THEN measure_value::double ELSE NULL END
    ) AS avg_load_tons,
    MAX(
        CASE WHEN measure_name = 'speed' THEN measure_value::double ELSE NULL END
    ) AS max_speed_mph
FROM "sampleDB".IoT
WHERE time >= ago(7d)
AND measure_name IN ('load', 'speed')
GROUP BY fleet, truck_id, make, model, bin(time, 1d)
ORDER BY truck_id""",
        want_iot_load_speed,
        sorted_by=[("truck_id", True)],
    ),
    doc(
        "iot",
        "load-efficiency-week",
        """WITH average_load_per_truck AS (
    SELECT
        truck_id,
        avg(measure_value::double)  AS avg_load
    FROM "sampleDB".IoT
    WHERE measure_name = 'load'
    AND time >= ago(7d)
    GROUP BY truck_id, fleet, load_capacity, make, model
),
truck_load_efficiency AS (
    SELECT
        a.truck_id,
        fleet,
        load_capacity,
        make,
        model,
        avg_load,
        measure_value::double,
        time,
        (measure_value::double*100)/avg_load as load_efficiency -- , approx_percentile(avg_load_pct, DOUBLE '0.9')
    FROM "sampleDB".IoT a JOIN average_load_per_truck b
    ON a.truck_id = b.truck_id
    WHERE a.measure_name = 'load'
)
SELECT
    truck_id,
    time,
    load_efficiency
FROM truck_load_efficiency
ORDER BY truck_id, time""",  # noqa: E501
        want_iot_load_efficiency,
        ordered=True,
    ),
    # ---- scheduled-query pattern pages: dashboards over "raw_data"."devops" -----------------
    doc(
        "devops-fleet",
        "data-points-per-minute",
        """WITH grouped_data AS (
    SELECT region, bin(time, 1m) as minute, SUM(CASE WHEN measure_name = 'metrics' THEN 20 ELSE 5 END) as numDataPoints
    FROM "raw_data"."devops"
    WHERE time BETWEEN from_milliseconds(1636699996445) AND from_milliseconds(1636743196445)
        AND region = 'us-east-1'
    GROUP BY region, measure_name, bin(time, 1m)
)
SELECT minute, SUM(numDataPoints) AS numDataPoints
FROM grouped_data
GROUP BY minute
ORDER BY 1 desc, 2 desc""",  # noqa: E501
        want_raw_fleet_points,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "distinct-regions",
        """SELECT DISTINCT region
FROM "raw_data"."devops"
WHERE time > ago(1h)
ORDER BY 1""",
        want_raw_distinct_regions,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "last-point-per-instance",
        """SELECT instance_name, MAX(time) AS time, MAX_BY(gc_pause, time) AS last_measure
FROM "raw_data"."devops"
WHERE time < from_milliseconds(1636685271872)
    AND measure_name = 'events'
    AND region = 'us-east-1'
    AND cell = 'us-east-1-cell-10'
    AND silo = 'us-east-1-cell-10-silo-3'
    AND availability_zone = 'us-east-1-1'
    AND microservice_name = 'hercules'
GROUP BY region, cell, silo, availability_zone, microservice_name,
    instance_name, process_name, jdk_version
ORDER BY instance_name, time DESC""",
        want_raw_last_point,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "instances-per-microservice",
        """SELECT CASE WHEN microservice_name = 'apollo' THEN num_instances ELSE NULL END AS apollo,
    CASE WHEN microservice_name = 'athena' THEN num_instances ELSE NULL END AS athena,
    CASE WHEN microservice_name = 'demeter' THEN num_instances ELSE NULL END AS demeter,
    CASE WHEN microservice_name = 'hercules' THEN num_instances ELSE NULL END AS hercules,
    CASE WHEN microservice_name = 'zeus' THEN num_instances ELSE NULL END AS zeus
FROM (
    SELECT microservice_name, SUM(num_instances) AS num_instances
    FROM (
        SELECT microservice_name, COUNT(DISTINCT instance_name) as num_instances
        FROM "raw_data"."devops"
        WHERE time BETWEEN from_milliseconds(1636526171043) AND from_milliseconds(1636612571043)
            AND measure_name = 'metrics'
        GROUP BY region, cell, silo, availability_zone, microservice_name
    )
    GROUP BY microservice_name
)""",
        want_raw_instances_per_microservice,
    ),
    doc(
        "devops-fleet",
        "high-utilization-ranking",
        """WITH microservice_cell_avg AS (
    SELECT region, cell, silo, availability_zone, microservice_name, AVG(cpu_user) AS microservice_avg_metric
    FROM "raw_data"."devops"
    WHERE time BETWEEN from_milliseconds(1636526593876) AND from_milliseconds(1636612993876)
        AND measure_name = 'metrics'
    GROUP BY region, cell, silo, availability_zone, microservice_name
), instance_avg AS (
    SELECT region, cell, silo, availability_zone, microservice_name, instance_name,
        AVG(cpu_user) AS instance_avg_metric
    FROM "raw_data"."devops"
    WHERE time BETWEEN from_milliseconds(1636526593876) AND from_milliseconds(1636612993876)
        AND measure_name = 'metrics'
    GROUP BY region, cell, silo, availability_zone, microservice_name, instance_name
), instances_above_threshold AS (
  SELECT i.*,
    CASE WHEN i.instance_avg_metric > (1 + 0.2) * m.microservice_avg_metric THEN 1 ELSE 0 END AS high_utilization,
    CASE WHEN i.instance_avg_metric < (1 - 0.2) * m.microservice_avg_metric THEN 1 ELSE 0 END AS low_utilization
  FROM instance_avg i INNER JOIN microservice_cell_avg m
    ON i.region = m.region AND i.cell = m.cell AND i.silo = m.silo AND i.availability_zone = m.availability_zone
      AND m.microservice_name = i.microservice_name
), per_deployment_high AS (
SELECT region, microservice_name, COUNT(*) AS num_hosts, SUM(high_utilization) AS high_utilization_hosts, SUM(low_utilization) AS low_utilization_hosts,
    ROUND(SUM(high_utilization) * 100.0 / COUNT(*), 0) AS percent_high_utilization_hosts,
    ROUND(SUM(low_utilization) * 100.0 / COUNT(*), 0) AS percent_low_utilization_hosts
FROM instances_above_threshold
GROUP BY region, microservice_name
), per_region_ranked AS (
    SELECT *,
        DENSE_RANK() OVER (PARTITION BY region ORDER BY percent_high_utilization_hosts DESC, high_utilization_hosts DESC) AS rank
    FROM per_deployment_high
)
SELECT *
FROM per_region_ranked
WHERE rank <= 2
ORDER BY percent_high_utilization_hosts desc, rank asc""",  # noqa: E501
        want_raw_high_utilization,
        sorted_by=[("percent_high_utilization_hosts", False), ("rank", True)],
    ),
    doc(
        "devops-fleet",
        "deployment-percentiles-5m",
        """SELECT bin(time, 5m) as minute,
    ROUND(AVG(cpu_user), 2) AS avg_value,
    ROUND(APPROX_PERCENTILE(cpu_user, 0.9), 2) AS p90_value,
    ROUND(APPROX_PERCENTILE(cpu_user, 0.95), 2) AS p95_value,
    ROUND(APPROX_PERCENTILE(cpu_user, 0.99), 2) AS p99_value
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099476) AND from_milliseconds(1636613499476)
    AND region = 'eu-west-1'
    AND cell = 'eu-west-1-cell-10'
    AND silo = 'eu-west-1-cell-10-silo-1'
    AND microservice_name = 'demeter'
    AND availability_zone = 'eu-west-1-3'
    AND measure_name = 'metrics'
GROUP BY bin(time, 5m)
ORDER BY 1""",
        want_raw_drill_down,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "instance-cpu-30m",
        """SELECT BIN(time, 30m) AS time_bin,
    AVG(cpu_user) AS avg_cpu,
    ROUND(APPROX_PERCENTILE(cpu_user, 0.99), 2) as p99_cpu
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099477) AND from_milliseconds(1636613499477)
    AND measure_name = 'metrics'
    AND region = 'eu-west-1' AND cell = 'eu-west-1-cell-10' AND silo = 'eu-west-1-cell-10-silo-1'
    AND availability_zone = 'eu-west-1-3' AND microservice_name = 'demeter'
    AND instance_name = 'i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com'
GROUP BY BIN(time, 30m)
ORDER BY time_bin desc""",
        want_raw_instance_cpu,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "instance-memory-30m",
        """SELECT BIN(time, 30m) AS time_bin,
    AVG(memory_used) AS avg_memory,
    ROUND(APPROX_PERCENTILE(memory_used, 0.99), 2) as p99_memory
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099477) AND from_milliseconds(1636613499477)
    AND measure_name = 'metrics'
    AND region = 'eu-west-1' AND cell = 'eu-west-1-cell-10' AND silo = 'eu-west-1-cell-10-silo-1'
    AND availability_zone = 'eu-west-1-3' AND microservice_name = 'demeter'
    AND instance_name = 'i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com'
GROUP BY BIN(time, 30m)
ORDER BY time_bin desc""",
        want_raw_instance_memory,
        ordered=True,
    ),
    doc(
        "devops-fleet",
        "instance-gc-count",
        """SELECT COUNT(gc_pause)
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099477) AND from_milliseconds(1636613499478)
    AND measure_name = 'events'
    AND region = 'eu-west-1' AND cell = 'eu-west-1-cell-10' AND silo = 'eu-west-1-cell-10-silo-1'
    AND availability_zone = 'eu-west-1-3' AND microservice_name = 'demeter'
    AND instance_name = 'i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com'""",
        want_raw_gc_count,
        names=False,
    ),
    doc(
        "devops-fleet",
        "instance-gc-stats",
        """SELECT avg(gc_pause) as avg, round(approx_percentile(gc_pause, 0.99), 2) as p99
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099478) AND from_milliseconds(1636613499478)
    AND measure_name = 'events'
    AND region = 'eu-west-1' AND cell = 'eu-west-1-cell-10' AND silo = 'eu-west-1-cell-10-silo-1'
    AND availability_zone = 'eu-west-1-3' AND microservice_name = 'demeter'
    AND instance_name = 'i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com'""",
        want_raw_gc_stats,
    ),
    doc(
        "devops-fleet",
        "instance-disk-30m",
        """SELECT BIN(time, 30m) AS time_bin,
    AVG(disk_io_reads) AS avg,
    ROUND(APPROX_PERCENTILE(disk_io_reads, 0.99), 2) as p99
FROM "raw_data"."devops"
WHERE time BETWEEN from_milliseconds(1636527099478) AND from_milliseconds(1636613499478)
    AND measure_name = 'metrics'
    AND region = 'eu-west-1' AND cell = 'eu-west-1-cell-10' AND silo = 'eu-west-1-cell-10-silo-1'
    AND availability_zone = 'eu-west-1-3' AND microservice_name = 'demeter'
    AND instance_name = 'i-zaZswmJk-demeter-eu-west-1-cell-10-silo-1-00000272.amazonaws.com'
GROUP BY BIN(time, 30m)
ORDER BY time_bin desc""",
        want_raw_instance_disk,
        ordered=True,
    ),
]


def _binned_interpolation(function: str, extra: str = "") -> str:
    """The devops page's interpolation query, with one interpolation function."""
    return f"""WITH binned_timeseries AS (
    SELECT hostname, BIN(time, 30s) AS binned_timestamp, ROUND(AVG(measure_value::double), 2) AS avg_cpu_utilization
    FROM "sampleDB".DevOps
    WHERE measure_name = 'cpu_utilization'
        AND hostname = 'host-Hovjv'
        AND time > ago(2h)
    GROUP BY hostname, BIN(time, 30s)
), interpolated_timeseries AS (
    SELECT hostname,
        {function}(
            CREATE_TIME_SERIES(binned_timestamp, avg_cpu_utilization),
                SEQUENCE(min(binned_timestamp), max(binned_timestamp), 15s){extra}) AS interpolated_avg_cpu_utilization
    FROM binned_timeseries
    GROUP BY hostname
)
SELECT time, ROUND(value, 2) AS interpolated_cpu
FROM interpolated_timeseries
CROSS JOIN UNNEST(interpolated_avg_cpu_utilization)"""  # noqa: E501


TS_VIEW = """WITH time_series_view AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, ROUND(measure_value::double,2)),
            SEQUENCE(ago(15m), ago(1m), 10s)) AS cpu_user
    FROM sample.DevOps
    WHERE hostname = 'host-Hovjv' and measure_name = 'cpu_utilization'
        AND time > ago(30m)
    GROUP BY hostname
)
"""

TIME_SERIES_CASES = [
    # developer guide, "Queries with time series functions" (and the sample app's QueryExample)
    doc(
        "devops-ts",
        "interpolate-linear",
        _binned_interpolation("INTERPOLATE_LINEAR"),
        check=check_ts_interpolated("linear"),
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "interpolate-locf",
        _binned_interpolation("INTERPOLATE_LOCF"),
        check=check_ts_interpolated("locf"),
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "interpolate-fill",
        _binned_interpolation("INTERPOLATE_FILL", ", 10.0"),
        check=check_ts_interpolated("fill"),
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "interpolate-spline-cubic",
        _binned_interpolation("INTERPOLATE_SPLINE_CUBIC"),
        check=check_ts_spline,
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "locf-all-hosts",
        """WITH per_host_min_max_timestamp AS (
    SELECT hostname, min(time) as min_timestamp, max(time) as max_timestamp
    FROM "sampleDB".DevOps
    WHERE measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY hostname
), interpolated_timeseries AS (
    SELECT m.hostname,
        INTERPOLATE_LOCF(
            CREATE_TIME_SERIES(time, measure_value::double),
                SEQUENCE(MIN(ph.min_timestamp), MAX(ph.max_timestamp), 1s)) as interpolated_avg_cpu_utilization
    FROM "sampleDB".DevOps m
        INNER JOIN per_host_min_max_timestamp ph ON m.hostname = ph.hostname
    WHERE measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY m.hostname
)
SELECT hostname, AVG(cpu_utilization) AS avg_cpu_utilization
FROM interpolated_timeseries
CROSS JOIN UNNEST(interpolated_avg_cpu_utilization) AS t (time, cpu_utilization)
GROUP BY hostname
ORDER BY avg_cpu_utilization DESC""",  # noqa: E501
        want_ts_locf_all_hosts,
        ordered=True,
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "filter-reduce-above-70",
        """WITH time_series_view AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, ROUND(measure_value::double,2)),
        SEQUENCE(min(time), max(time), 10s)) AS cpu_utilization
    FROM "sampleDB".DevOps
    WHERE hostname = 'host-Hovjv'
        AND measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY hostname
)
SELECT FILTER(cpu_utilization, x -> x.value > 70.0) AS cpu_above_threshold,
    REDUCE(FILTER(cpu_utilization, x -> x.value > 70.0), 0, (s, x) -> s + 1, s -> s) AS count_cpu_above_threshold,
    ROUND(REDUCE(cpu_utilization,
        CAST(ROW(0, 0) AS ROW(count_high BIGINT, count_total BIGINT)),
        (s, x) -> CAST(ROW(s.count_high + IF(x.value > 70.0, 1, 0), s.count_total + 1) AS ROW(count_high BIGINT, count_total BIGINT)),
        s -> IF(s.count_total = 0, NULL, CAST(s.count_high AS DOUBLE) / s.count_total)), 4) AS fraction_cpu_above_threshold
FROM time_series_view""",  # noqa: E501
        check=check_ts_filter_reduce,
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "filter-below-75",
        """WITH time_series_view AS (
    SELECT min(time) AS oldest_time, INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, ROUND(measure_value::double, 2)),
        SEQUENCE(min(time), max(time), 10s)) AS cpu_utilization
    FROM "sampleDB".DevOps
    WHERE hostname = 'host-Hovjv'
        AND measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY hostname
)
SELECT FILTER(cpu_utilization, x -> x.value < 75 AND x.time > oldest_time + 1m)
FROM time_series_view""",
        check=check_ts_filter_below,
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "reduce-count",
        """WITH time_series_view AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, ROUND(measure_value::double, 2)),
        SEQUENCE(min(time), max(time), 10s)) AS cpu_utilization
    FROM "sampleDB".DevOps
    WHERE hostname = 'host-Hovjv'
        AND measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY hostname
)
SELECT REDUCE(cpu_utilization,
    DOUBLE '0.0',
    (s, x) -> s + 1,
    s -> s) AS count_cpu
FROM time_series_view""",
        check=check_ts_count,
        timeseries=True,
    ),
    doc(
        "devops-ts",
        "reduce-average",
        """WITH time_series_view AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, ROUND(measure_value::double, 2)),
        SEQUENCE(min(time), max(time), 10s)) AS cpu_utilization
    FROM "sampleDB".DevOps
    WHERE hostname = 'host-Hovjv'
        AND measure_name = 'cpu_utilization'
        AND time > ago(2h)
    GROUP BY hostname
)
SELECT REDUCE(cpu_utilization,
    CAST(ROW(0.0, 0) AS ROW(sum DOUBLE, count INTEGER)),
    (s, x) -> CAST(ROW(x.value + s.sum, s.count + 1) AS ROW(sum DOUBLE, count INTEGER)),
    s -> IF(s.count = 0, NULL, s.sum / s.count)) AS avg_cpu
FROM time_series_view""",
        check=check_ts_avg,
        timeseries=True,
    ),
    # developer guide, "Filter and reduce functions" (database `sample`, as on that page)
    doc(
        "filter-reduce",
        "filter-above-70",
        TS_VIEW
        + """SELECT FILTER(cpu_user, x -> x.value > 70.0) AS cpu_above_threshold
from time_series_view""",
        check=check_ts_page_filter,
        timeseries=True,
    ),
    doc(
        "filter-reduce",
        "sum-of-squares",
        TS_VIEW
        + """SELECT REDUCE(cpu_user,
    DOUBLE '0.0',
    (s, x) -> x.value * x.value + s,
    s -> s)
from time_series_view""",
        check=check_ts_page_sum_squares,
        timeseries=True,
    ),
    doc(
        "filter-reduce",
        "fraction-above-70",
        TS_VIEW
        + """SELECT ROUND(
    REDUCE(cpu_user,
      -- initial state
      CAST(ROW(0, 0) AS ROW(count_high BIGINT, count_total BIGINT)),
      -- function to count the total points and points above a certain threshold
      (s, x) -> CAST(ROW(s.count_high + IF(x.value > 70.0, 1, 0), s.count_total + 1) AS ROW(count_high BIGINT, count_total BIGINT)),
      -- output function converting the counts to fraction above threshold
      s -> IF(s.count_total = 0, NULL, CAST(s.count_high AS DOUBLE) / s.count_total)),
    4) AS fraction_cpu_above_threshold
from time_series_view""",  # noqa: E501
        check=check_ts_page_fraction,
        timeseries=True,
    ),
    # developer guide, "Derivative functions", "Integral functions", "Correlation functions"
    # (the derivatives page prints typographic quotes around “sampleDB”: straight ones here)
    doc(
        "derivatives",
        "cpu-rate-per-5m",
        """SELECT DERIVATIVE_LINEAR(CREATE_TIME_SERIES(time, measure_value::double), 5m) AS result
FROM "sampleDB".DevOps
WHERE measure_name = 'cpu_utilization'
AND hostname = 'host-Hovjv' and time > ago(1h)
GROUP BY hostname, measure_name""",
        check=check_ts_derivative,
        timeseries=True,
    ),
    doc(
        "derivatives",
        "error-increase-rate",
        """WITH binned_view as (
    SELECT bin(time, 5m) as binned_timestamp, ROUND(AVG(measure_value::double), 2) as value
    FROM "sampleDB".DevOps
    WHERE micro_service = 'jwt'
    AND time > ago(1h)
    AND measure_name = 'service_error'
    GROUP BY bin(time, 5m)
)
SELECT non_negative_derivative_linear(CREATE_TIME_SERIES(binned_timestamp, value), 1m) as rateOfErrorIncrease
FROM binned_view""",  # noqa: E501
        check=check_ts_non_negative_derivative,
        timeseries=True,
    ),
    doc(
        "integrals",
        "requests-per-5m",
        """SELECT INTEGRAL_TRAPEZOIDAL(CREATE_TIME_SERIES(time, measure_value::double), 5m) AS result FROM sample.DevOps
WHERE measure_name = 'request'
AND hostname = 'host-Hovjv'
AND time > ago (1h)
GROUP BY hostname, measure_name""",  # noqa: E501
        check=check_ts_integral,
        timeseries=True,
    ),
    doc(
        "correlation",
        "pearson",
        """WITH cte_1 AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
        SEQUENCE(min(time), max(time), 10m)) AS result
    FROM sample.DevOps
    WHERE measure_name = 'cpu_utilization'
    AND hostname = 'host-Hovjv' AND time > ago(1h)
    GROUP BY hostname, measure_name
),
cte_2 AS (
    SELECT INTERPOLATE_LINEAR(
        CREATE_TIME_SERIES(time, measure_value::double),
        SEQUENCE(min(time), max(time), 10m)) AS result
    FROM sample.DevOps
    WHERE measure_name = 'cpu_utilization'
    AND hostname = 'host-Hovjv' AND time > ago(1h)
    GROUP BY hostname, measure_name
)
SELECT correlate_pearson(cte_1.result, cte_2.result) AS result
FROM cte_1, cte_2""",
        check=check_ts_correlation,
        timeseries=True,
    ),
    # scheduled-query pattern page (example 3): hosts with high CPU per silo, per hour
    doc(
        "devops-fleet-ts",
        "high-utilization-per-hour",
        """WITH microservice_cell_avg AS (
    SELECT region, cell, silo, availability_zone, microservice_name, bin(time, 1h) as hour, AVG(cpu_user) AS microservice_avg_metric
    FROM "raw_data"."devops"
    WHERE time BETWEEN from_milliseconds(1636526898831) AND from_milliseconds(1636613298831)
        AND measure_name = 'metrics'
        AND microservice_name = 'demeter'
    GROUP BY region, cell, silo, availability_zone, microservice_name, bin(time, 1h)
), instance_avg AS (
    SELECT region, cell, silo, availability_zone, microservice_name, instance_name, bin(time, 1h) as hour,
        AVG(cpu_user) AS instance_avg_metric
    FROM "raw_data"."devops"
    WHERE time BETWEEN from_milliseconds(1636526898831) AND from_milliseconds(1636613298831)
        AND measure_name = 'metrics'
        AND microservice_name = 'demeter'
    GROUP BY region, cell, silo, availability_zone, microservice_name, instance_name, bin(time, 1h)
), instances_above_threshold AS (
  SELECT i.*,
    CASE WHEN i.instance_avg_metric > (1 + 0.2) * m.microservice_avg_metric THEN 1 ELSE 0 END AS high_utilization
  FROM instance_avg i INNER JOIN microservice_cell_avg m
    ON i.region = m.region AND i.cell = m.cell AND i.silo = m.silo AND i.availability_zone = m.availability_zone
      AND m.microservice_name = i.microservice_name AND m.hour = i.hour
), high_utilization_percent AS (
    SELECT region, cell, silo, microservice_name, hour, COUNT(*) AS num_hosts, SUM(high_utilization) AS high_utilization_hosts,
        ROUND(SUM(high_utilization) * 100.0 / COUNT(*), 0) AS percent_high_utilization_hosts
    FROM instances_above_threshold
    GROUP BY region, cell, silo, microservice_name, hour
), high_utilization_ranked AS (
    SELECT region, cell, silo, microservice_name,
        DENSE_RANK() OVER (PARTITION BY region ORDER BY AVG(percent_high_utilization_hosts) desc, AVG(high_utilization_hosts) desc) AS rank
    FROM high_utilization_percent
    GROUP BY region, cell, silo, microservice_name
)
SELECT hup.silo, CREATE_TIME_SERIES(hour, hup.percent_high_utilization_hosts) AS percent_high_utilization_hosts
FROM high_utilization_percent hup INNER JOIN high_utilization_ranked hur
    ON hup.region = hur.region AND hup.cell = hur.cell AND hup.silo = hur.silo AND hup.microservice_name = hur.microservice_name
WHERE rank <= 2
GROUP BY hup.region, hup.cell, hup.silo
ORDER BY hup.silo""",  # noqa: E501
        check=check_ts_raw_hourly,
        timeseries=True,
    ),
]


# The IoTMulti sample database's queries as published with it (a community copy of the
# console's samples; only the database name is changed to the docs' "sampleDB").
def want_iotmulti_latest_10(f):
    d = f["IoTMulti"].sort_values("time", ascending=False).head(10)
    return d.assign(measure_name="IoTMulti-stats")[
        [*TRUCK_DIMS, "measure_name", "time", "load", "fuel-reading", "location", "speed"]
    ]


def want_iotmulti_attributes(f):
    return f["IoTMulti"][TRUCK_DIMS].drop_duplicates().assign(measure_name="IoTMulti-stats")


def want_iotmulti_latest_fuel(f):
    d = f["IoTMulti"]
    d = d[d.time >= SAMPLES_NOW - pd.Timedelta("24h")]
    last = d.loc[d.groupby("truck_id")["time"].idxmax()]
    return (
        last[["truck_id", "fleet", "make", "model", "time", "fuel-reading"]]
        .rename(columns={"fuel-reading": "last_reported_fuel_reading"})
        .sort_values("truck_id")
    )


def want_iotmulti_load_speed(f):
    d = f["IoTMulti"]
    d = d[d.time >= SAMPLES_NOW - pd.Timedelta("7d")].assign(
        binned_time=lambda x: tbin(x.time, "1D")
    )
    out = (
        d.groupby(["fleet", "truck_id", "make", "model", "binned_time"])
        .agg(avg_load_tons=("load", "mean"), max_speed_mph=("speed", "max"))
        .reset_index()
    )
    return out[
        ["binned_time", "fleet", "truck_id", "make", "model", "avg_load_tons", "max_speed_mph"]
    ]


IOT_MULTI_CASES = [
    doc(
        "iotmulti",
        "latest-10-in-15m",
        'SELECT * FROM "sampleDB"."IoTMulti" WHERE time between ago(15m) and now() ORDER BY time '
        "DESC LIMIT 10",
        lambda f: want_iotmulti_latest_10(f).pipe(
            lambda d: d[d.time >= SAMPLES_NOW - pd.Timedelta("15m")]
        ),
        ordered=True,
    ),
    doc(
        "iotmulti",
        "sensor-attributes",
        """SELECT
    truck_id,
    fleet,
    fuel_capacity,
    model,
    load_capacity,
    make,
    measure_name
FROM "sampleDB".IoTMulti
GROUP BY truck_id, fleet, fuel_capacity, model, load_capacity, make, measure_name""",
        want_iotmulti_attributes,
    ),
    doc(
        "iotmulti",
        "latest-fuel-24h",
        """WITH latest_recorded_time AS (
    SELECT
        truck_id,
        max(time) as latest_time
    FROM "sampleDB".IoTMulti
    WHERE time >= ago(24h)
    GROUP BY truck_id
)
SELECT
    b.truck_id,
    b.fleet,
    b.make,
    b.model,
    b.time,
    b."fuel-reading" as last_reported_fuel_reading
FROM latest_recorded_time a
INNER JOIN "sampleDB".IoTMulti b ON a.truck_id = b.truck_id AND b.time = a.latest_time
WHERE b.time > ago(24h)
ORDER BY b.truck_id""",
        want_iotmulti_latest_fuel,
        ordered=True,
    ),
    doc(
        "iotmulti",
        "avg-load-max-speed-week",
        """SELECT
    bin(time, 1d) as binned_time,
    fleet,
    truck_id,
    make,
    model,
    AVG(load) AS avg_load_tons,
    MAX(speed) AS max_speed_mph
FROM "sampleDB".IoTMulti
WHERE time >= ago(7d)
GROUP BY fleet, truck_id, make, model, bin(time, 1d)
ORDER BY truck_id""",
        want_iotmulti_load_speed,
        sorted_by=[("truck_id", True)],
    ),
]


def _run_doc(c: Any, frames: dict[str, pd.DataFrame], d: DocCase) -> None:
    got = c.query(d.sql)
    if d.check is not None:
        d.check(got, frames)
        return
    want = d.want(frames)
    if d.sorted_by:
        keys = [norm(tuple(r)) for r in got[[k for k, _ in d.sorted_by]].itertuples(index=False)]
        for a, b in itertools.pairwise(keys):
            for (x, y), (_, asc) in zip(zip(a[1], b[1], strict=True), d.sorted_by, strict=True):
                if x != y:
                    assert (sort_key(x) < sort_key(y)) == asc or (
                        x[0] == "n" and (x[1] < y[1]) == asc
                    ), (a, b)
                    break
    check_doc(got, want, ordered=d.ordered, names=d.names)


@pytest.mark.parametrize("d", DOC_CASES + IOT_MULTI_CASES)
def test_documented_sample_queries(samples, d: DocCase):
    c, frames = samples
    _run_doc(c, frames, d)


@pytest.mark.parametrize("d", TIME_SERIES_CASES)
def test_documented_time_series_queries(samples, d: DocCase):
    c, frames = samples
    _run_doc(c, frames, d)


USE_CASES = [
    doc(
        "use-case",
        "avg-temperature-last-hour",
        "SELECT avg(temperature) FROM machine_metrics WHERE time BETWEEN ago(1h) AND now()",
        names=False,
    ),
    doc(
        "use-case",
        "high-pressure-last-5m",
        "SELECT * FROM machine_metrics WHERE pressure > 100 AND time BETWEEN ago(5m) AND now()",
    ),
]


@pytest.mark.parametrize("d", USE_CASES)
def test_use_case_queries(tmp_path, fleet, partial, d: DocCase):
    """This project's two use-case queries, verbatim: the unqualified table resolves through
    ``connect(..., database=...)``."""
    with tsstore.connect(tmp_path, clock=lambda: NOW, database=DB, lifecycle_interval=None) as c:
        t = c.create_database(DB).create_table("machine_metrics", memory_retention="6h")
        t.write(fleet, dimensions=["device_id", "factory"])
        t.write(partial, dimensions=["device_id", "factory"])
        c.run_lifecycle()
        got = c.query(d.sql)
    frame = pd.concat([fleet, partial], ignore_index=True).assign(measure_name=None)
    want = want_use_case_avg(frame) if "avg(" in d.sql else want_use_case_star(frame)
    assert len(want) > 0
    check_doc(got, want, ordered=False, names=d.names)
