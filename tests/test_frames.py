"""DataFrame -> Points: what write() accepts, and the errors for what it refuses."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from tsstore.errors import ValidationError
from tsstore.model.frames import infer_measure_type, points_from_frame, time_to_ns
from tsstore.model.points import MEASURE_NAME
from tsstore.model.schema import INT64_NULL, MeasureType
from tsstore.testing import frame_rows, valid_frames

T = pd.date_range("2024-01-01", periods=3, freq="s", tz="UTC")


def frame(**cols):
    return pd.DataFrame({"time": T[: len(next(iter(cols.values())))], **cols})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_frames())
def test_any_valid_frame_round_trips_through_points(case):
    df, kwargs = case
    p = points_from_frame(df, **kwargs)
    dims = kwargs["dimensions"]
    measures = [c for c in df.columns if c not in ("time", *dims)]
    assert len(p) == len(df) and p.row.tolist() == list(range(len(df)))
    back = p.to_pandas()
    assert list(back.columns) == [*dims, MEASURE_NAME, "time", *measures]
    expected = frame_rows(
        df, dimensions=dims, measures=measures, measure_name=kwargs["measure_name"]
    )
    got = frame_rows(back, dimensions=dims, measures=measures)
    assert Counter(got) == Counter(expected)
    assert got == expected  # and in the frame's row order
    assert str(back["time"].dtype) == "datetime64[ns, UTC]"


def test_types_are_inferred_from_dtypes():
    df = frame(
        f=[1.5, 2.0, 3.0],
        i=np.array([1, 2, 3], np.int16),
        b=[True, False, True],
        t=pd.to_datetime(["2020-01-01"] * 3),
        s=["a", "b", "c"],
        o=pd.Series([True, None, False], dtype=object),
        c=pd.Categorical(["x", "y", "x"]),
        af=pd.Series([1.0, None, 2.0], dtype="double[pyarrow]"),
        ai=pd.Series([1, None, 2], dtype="int32[pyarrow]"),
        ab=pd.Series([True, None, False], dtype="bool[pyarrow]"),
        at=pd.Series(
            pa.array([0, None, 1], pa.timestamp("ms", "UTC")),
            dtype=pd.ArrowDtype(pa.timestamp("ms", "UTC")),
        ),
        ast=pd.Series(["a", None, "b"], dtype="string[pyarrow]"),
        ls=pd.Series(
            pa.array(["a", "b", None], pa.large_string()), dtype=pd.ArrowDtype(pa.large_string())
        ),
    )
    p = points_from_frame(df, dimensions=[])
    D, B, BO, TS, V = (
        MeasureType.DOUBLE,
        MeasureType.BIGINT,
        MeasureType.BOOLEAN,
        MeasureType.TIMESTAMP,
        MeasureType.VARCHAR,
    )
    assert p.types == {
        "f": D,
        "i": B,
        "b": BO,
        "t": TS,
        "s": V,
        "o": BO,
        "c": V,
        "af": D,
        "ai": B,
        "ab": BO,
        "at": TS,
        "ast": V,
        "ls": V,
    }
    assert p.columns["o"].tolist() == [1, -1, 0]
    assert p.columns["af"][0] == 1.0 and np.isnan(p.columns["af"][1])
    assert p.columns["ai"].tolist() == [1, INT64_NULL, 2]
    assert p.columns["at"].tolist() == [0, INT64_NULL, 1_000_000]
    assert p.columns["ls"].tolist() == ["a", "b", None]
    assert p.columns["c"].tolist() == ["x", "y", "x"]


def test_times_naive_aware_and_arrow_are_utc_nanoseconds():
    naive = pd.Series(pd.to_datetime(["2024-01-01 00:00:00"]))
    aware = naive.dt.tz_localize("Asia/Tokyo")
    arrow = pd.Series(
        pa.array([0], pa.timestamp("s", "America/New_York")),
        dtype=pd.ArrowDtype(pa.timestamp("s", "America/New_York")),
    )
    seconds = pd.Series(np.array(["2024-01-01"], dtype="datetime64[s]"))
    assert time_to_ns(naive).tolist() == [1704067200 * 10**9]
    assert time_to_ns(aware).tolist() == [(1704067200 - 9 * 3600) * 10**9]
    assert time_to_ns(arrow).tolist() == [0]
    assert time_to_ns(seconds).tolist() == [1704067200 * 10**9]
    assert time_to_ns(pd.Series(["2024-01-01T00:00:00Z"])).tolist() == [1704067200 * 10**9]


def test_dimensions_are_strings_and_equal_strings_are_one_series():
    df = frame(d=pd.Series([1, "1", "x"], dtype=object), x=[1.0, 2.0, 3.0])
    p = points_from_frame(df, dimensions=["d"], measure_name="m")
    assert p.keys["d"].tolist() == ["1", "x"] and p.series.tolist() == [0, 0, 1]
    assert p.keys[MEASURE_NAME].tolist() == ["m", "m"]
    df = frame(a=["x", "x", "y"], b=pd.Categorical(["p", "q", "p"]), x=[1.0, 2.0, 3.0])
    p = points_from_frame(df, dimensions=["a", "b"])
    assert p.keys[["a", "b"]].values.tolist() == [["x", "p"], ["x", "q"], ["y", "p"]]


def test_versions():
    df = frame(d=["a"] * 3, x=[1.0, 2.0, 3.0], v=[1, 5, 2])
    assert points_from_frame(df, dimensions=["d"], version="v").version.tolist() == [1, 5, 2]
    assert "v" not in points_from_frame(df, dimensions=["d"], version="v").types
    assert points_from_frame(df, dimensions=["d"], version=7).version.tolist() == [7] * 3
    assert points_from_frame(df, dimensions=["d"]).version is None


BAD = [
    # (frame, kwargs, pieces of the message: what, where, fix)
    (
        frame(d=["a", "b"], x=[1.0, 2.0]).assign(time=[T[0], pd.NaT]),
        {},
        ["'time'", "NaT at row 1", "drop those rows"],
    ),
    (frame(d=["a", ""], x=[1.0, 2.0]), {}, ["dimension 'd'", "is empty", "row 1"]),
    (frame(d=["a", "é" * 1025], x=[1.0, 2.0]), {}, ["dimension 'd'", "2050 bytes", "row 1"]),
    (frame(d=["a", "b"], x=[1.0, np.nan]), {}, ["measure 'x'", "row 1", "Float64"]),
    (frame(d=["a", "b"], x=[np.inf, 1.0]), {}, ["measure 'x'", "row 0", "NaN and inf"]),
    (
        frame(
            d=["a", "b"], x=pd.Series(pa.array([1.0, np.nan]), dtype=pd.ArrowDtype(pa.float64()))
        ),
        {},
        ["measure 'x'", "nan at row 1"],
    ),
    (frame(d=["a", "b"], x=[1, "a"]), {}, ["measure 'x'", "mixes types ['int', 'str']"]),
    (
        frame(d=["a", "b"], x=pd.Series([1, 2], dtype=object)),
        {},
        ["measure 'x'", "object column of int", "astype('Int64')"],
    ),
    (
        frame(d=["a", "b"], x=pd.array([1, 2**64 - 1], dtype="UInt64")),
        {},
        ["measure 'x'", "row 1", "BIGINT range"],
    ),
    (
        frame(d=["a", "b"], x=pd.array([None, None], dtype="Float64")),
        {},
        ["row 0", "no measure value"],
    ),
    (frame(d=["a", "b"], x=["ok", "é" * 1025]), {}, ["measure 'x'", "row 1", "2048 bytes"]),
    (frame(d=["a", "b"], x=[1, 2]), {"measures": ["x", "nope"]}, ["['nope']", "not in the frame"]),
    (frame(d=["a", "b"], x=[1, 2]), {"measures": ["x", "d"]}, ["['d']", "cannot also be"]),
    (frame(d=["a", "b"], x=[1, 2]), {"dimensions": "d"}, ["dimensions=['d']"]),
    (frame(d=["a", "b"], x=[1, 2]), {"dimensions": ["d", "d"]}, ["more than once"]),
    (frame(d=["a", "b"], x=[1, 2]), {"dimensions": ["e"]}, ["['e']", "not in the frame"]),
    (frame(d=["a", "b"], x=[1, 2]), {"version": 0}, ["version 0", "from 1"]),
    (frame(d=["a", "b"], x=[1, 2], v=[1, 0]), {"version": "v"}, ["'v'", "row 1", "start at 1"]),
    (frame(d=["a", "b"], x=[1, 2], v=[1.0, 2.0]), {"version": "v"}, ["'v'", "integers"]),
    (frame(d=["a", "b"], x=[1, 2]), {"version": "w"}, ["'w'", "not in the frame"]),
    (frame(d=["a", "b"], x=[1, 2]), {"time": "when"}, ["no time column 'when'", "time='time'"]),
    (frame(d=["a", "b"], TIME=[1, 2]), {}, ["reserved", "TIME_value"]),
    (frame(d=["a", "b"], ts_x=[1, 2]), {}, ["reserved", "m_ts_x"]),
    (frame(d=["a", "b"], **{"measure_value::double": [1, 2]}), {}, ["reserved"]),
    (frame(d=["a", "b"], **{"x" * 257: [1, 2]}), {}, ["257 bytes", "256"]),
    (frame(d=["a", "b"], x=[1, 2]), {"measure_name": "ts_m"}, ["reserved"]),
    (frame(d=["a", "b"]), {}, ["no measure columns"]),
    (frame(d=["a", "b"], x=[1, 2]).assign(time=[1, 2]), {}, ["'time'", "numbers", "unit="]),
    (frame(d=["a", "b"], x=[1, 2]).assign(time=["now-ish", "x"]), {}, ["'time'", "to_datetime"]),
    (
        frame(d=["a", "b"], x=[1, 2]).assign(
            time=np.array(["2024-01-01", "2500-01-01"], dtype="datetime64[s]")
        ),
        {},
        ["'time'", "2262"],
    ),
    (
        frame(d=["a", "b"], x=np.array(["2024-01-01", "2500-01-01"], dtype="datetime64[s]")),
        {},
        ["'x'", "2262"],
    ),
    (frame(d=["a", "b"], x=pd.to_timedelta([1, 2], unit="s")), {}, ["measure 'x'", "cannot store"]),
]


@pytest.mark.filterwarnings("ignore:Could not infer format")
@pytest.mark.parametrize(("df", "kwargs", "pieces"), BAD)
def test_bad_frames_are_refused_with_a_clear_message(df, kwargs, pieces):
    kwargs = {"dimensions": ["d"], **kwargs}
    with pytest.raises(ValidationError) as info:
        points_from_frame(df, **kwargs)
    for piece in pieces:
        assert piece in str(info.value)


def test_row_labels_name_the_index_too():
    df = frame(d=["a", "b"], x=[1.0, np.nan])
    df.index = ["first", "second"]
    with pytest.raises(ValidationError, match=r"row 1 \(index 'second'\)"):
        points_from_frame(df, dimensions=["d"])


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
@pytest.mark.parametrize("rows", [4, 5000])  # small frames, and the pointer-grouping path
def test_missing_dimension_values_are_absent(missing, rows):
    n = rows
    a = np.array([f"h{i % 4}" for i in range(n)], dtype=object)
    b = np.array([missing if i % 4 == 1 else f"r{i % 4}" for i in range(n)], dtype=object)
    a[2] = missing  # one row with no first dimension either
    df = pd.DataFrame({"time": T[0] + pd.to_timedelta(np.arange(n), "s"), "a": a, "b": b})
    p = points_from_frame(df.assign(x=1.0), dimensions=["a", "b"])
    keys = p.keys.iloc[p.series]
    assert keys["a"].tolist() == [None if i == 2 else f"h{i % 4}" for i in range(n)]
    assert keys["b"].tolist() == [None if i % 4 == 1 else f"r{i % 4}" for i in range(n)]
    assert len(p.keys) == len(p.keys.drop_duplicates())  # one key row per series


def test_limits_on_dimensions_and_measures_per_row():
    df = pd.DataFrame({"time": T[:1], "x": [1.0], **{f"d{i}": ["v"] for i in range(129)}})
    with pytest.raises(ValidationError, match="at most 128"):
        points_from_frame(df, dimensions=[f"d{i}" for i in range(129)])
    points_from_frame(df.drop(columns="d128"), dimensions=[f"d{i}" for i in range(128)])
    wide = pd.DataFrame({"time": T[:2], **{f"m{i}": [1.0, None] for i in range(257)}})
    wide = wide.astype({f"m{i}": "Float64" for i in range(257)})
    with pytest.raises(ValidationError, match=r"row 1 .* no measure value"):
        points_from_frame(wide, dimensions=[])
    wide.loc[1, "m5"] = 2.0
    with pytest.raises(ValidationError, match=r"row 0 .* 257 measure values; .* at most 256"):
        points_from_frame(wide, dimensions=[])
    wide.loc[0, "m0"] = pd.NA  # 256 values in row 0, 1 in row 1
    assert len(points_from_frame(wide, dimensions=[])) == 2


def test_nan_is_refused_but_na_means_no_value():
    df = frame(d=["a", "b"], x=pd.array([1.0, None], dtype="Float64"), y=[1, 2])
    p = points_from_frame(df, dimensions=["d"])
    assert np.isnan(p.columns["x"][1]) and p.to_pandas()["x"].isna().tolist() == [False, True]
    with pytest.raises(ValidationError, match="NaN and inf"):
        points_from_frame(frame(d=["a", "b"], x=[1.0, np.nan], y=[1, 2]), dimensions=["d"])


def test_infer_measure_type_names_the_column():
    with pytest.raises(ValidationError, match="'c' has Arrow type"):
        infer_measure_type(pd.Series([[1]], dtype=pd.ArrowDtype(pa.list_(pa.int64()))), "c")
    assert infer_measure_type(pd.Series([None, None], dtype=object), "e") is MeasureType.VARCHAR


def test_a_bad_column_is_reported_past_the_first_100k_rows():
    n = 100_002
    df = pd.DataFrame(
        {"time": pd.date_range("2024", periods=n, freq="s"), "d": "a", "x": ["s"] * (n - 1) + [5]}
    )
    with pytest.raises(ValidationError, match="mixes types"):
        points_from_frame(df, dimensions=["d"])


def test_empty_frame():
    df = pd.DataFrame(
        {
            "time": pd.Series([], dtype="datetime64[ns]"),
            "d": pd.Series([], dtype=str),
            "x": pd.Series([], dtype=float),
        }
    )
    p = points_from_frame(df, dimensions=["d"])
    assert len(p) == 0 and p.types == {"x": MeasureType.DOUBLE} and len(p.keys) == 0
    assert len(p.to_pandas()) == 0


@pytest.mark.parametrize("values", [["a", "a\x00"], ["a\x00", "a"], ["\x00"]])
def test_dimension_values_with_a_nul_are_refused(values):
    # pandas' string hashing stops at a NUL: "a" and "a\x00" would become one series
    t = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame({"time": [t] * len(values), "host": values, "x": 1.0})
    with pytest.raises(ValidationError, match="NUL"):
        points_from_frame(df, dimensions=["host"])


def test_dimension_values_differing_after_a_nul_position_stay_apart_in_big_frames():
    # the plain path (one string object per row) factorizes through Arrow, exactly
    n = 5000
    hosts = np.array([f"h{i % 7}" + ("x" if i % 2 else "") for i in range(n)], dtype=object)
    t = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame({"time": pd.date_range(t, periods=n, freq="s"), "host": hosts, "x": 1.0})
    p = points_from_frame(df, dimensions=["host"])
    assert sorted(p.keys["host"]) == sorted(set(hosts))


def test_keys_grouped_by_object_identity_match_the_general_path(monkeypatch):
    """Large frames group rows by the objects their key cells hold first: the series ids and
    key table equal the general path's, with missing tags, equal strings held by distinct
    objects, and a bad value still reported at its row."""
    from tsstore.model import frames

    rng = np.random.default_rng(1)
    devices = [
        (f"d{i}", ["east", "west", None][i % 3], str(i % 4) if i % 5 else None) for i in range(40)
    ]
    pick = rng.integers(0, len(devices), 6000)
    df = pd.DataFrame(
        {
            "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(6000), "s"),
            "device": [devices[i][0] for i in pick],
            "region": [devices[i][1] for i in pick],
            "rack": [devices[i][2] for i in pick],
            "x": rng.normal(size=6000),
        }
    )
    df.loc[7, "region"] = "".join(["ea", "st"])  # an equal string in another object
    assert frames._factorize_keys_by_identity(df, ["device", "region", "rack"]) is not None
    fast = points_from_frame(df, dimensions=["device", "region", "rack"])
    monkeypatch.setattr(frames, "IDENTITY_MIN_ROWS", 10**9)
    slow = points_from_frame(df, dimensions=["device", "region", "rack"])
    assert np.array_equal(fast.series, slow.series)
    assert fast.keys.to_dict("list") == slow.keys.to_dict("list")
    monkeypatch.setattr(frames, "IDENTITY_MIN_ROWS", 4096)
    bad = df.copy()
    bad.loc[4321, "rack"] = ""
    with pytest.raises(ValidationError, match="row 4321"):
        points_from_frame(bad, dimensions=["device", "region", "rack"])
