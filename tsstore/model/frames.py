"""DataFrame -> Points: validation and schema inference for ``table.write(df, ...)``.

Every check names the row, the column and the fix; a frame that fails any check is refused whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from tsstore.errors import ValidationError
from tsstore.model.names import validate_column_name
from tsstore.model.points import MEASURE_NAME, Points, keys_frame
from tsstore.model.schema import INT64_NULL, MeasureType, null_mask

__all__ = ["infer_measure_type", "points_from_frame", "time_to_ns"]


def _row_label(df: pd.DataFrame, pos: int) -> str:
    return f"row {pos} (index {df.index[pos]!r})"


def time_to_ns(values: pd.Series | np.ndarray, what: str = "time") -> np.ndarray:
    """Times (datetime64, tz-aware or naive = UTC, or Arrow timestamps) as int64 ns since epoch."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.ArrowDtype):
        s = s.astype(_arrow_to_pandas_dtype(s.dtype))
    if not (pd.api.types.is_datetime64_any_dtype(s.dtype)):
        try:
            s = pd.to_datetime(s, utc=True)
        except (TypeError, ValueError) as e:
            raise ValidationError(
                f"column {what!r} is not a time column ({s.dtype}); convert it with "
                f"pd.to_datetime(df[{what!r}], utc=True)"
            ) from e
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = s.to_numpy(dtype="datetime64[ns]")
    ns = arr.view(np.int64)
    bad = np.flatnonzero(ns == INT64_NULL)
    if len(bad):
        raise ValidationError(
            f"column {what!r} has NaT at row {bad[0]} ({len(bad)} rows in all); every point needs "
            "a time: drop those rows or fill them"
        )
    return ns


def _arrow_to_pandas_dtype(dtype: pd.ArrowDtype) -> object:
    pat = dtype.pyarrow_dtype
    if pa.types.is_timestamp(pat):
        return pd.DatetimeTZDtype("ns", pat.tz) if pat.tz else np.dtype("datetime64[ns]")
    return dtype.numpy_dtype


def infer_measure_type(s: pd.Series, name: str) -> MeasureType:
    """The measure type of a column, or a ValidationError naming the problem."""
    dt = s.dtype
    if isinstance(dt, pd.ArrowDtype):
        pat = dt.pyarrow_dtype
        if pa.types.is_floating(pat):
            return MeasureType.DOUBLE
        if pa.types.is_integer(pat):
            return MeasureType.BIGINT
        if pa.types.is_boolean(pat):
            return MeasureType.BOOLEAN
        if pa.types.is_timestamp(pat):
            return MeasureType.TIMESTAMP
        if pa.types.is_string(pat) or pa.types.is_large_string(pat):
            return MeasureType.VARCHAR
        raise ValidationError(f"measure {name!r} has Arrow type {pat}, which tsstore cannot store")
    if pd.api.types.is_bool_dtype(dt):
        return MeasureType.BOOLEAN
    if pd.api.types.is_integer_dtype(dt):
        return MeasureType.BIGINT
    if pd.api.types.is_float_dtype(dt):
        return MeasureType.DOUBLE
    if pd.api.types.is_datetime64_any_dtype(dt):
        return MeasureType.TIMESTAMP
    if isinstance(dt, pd.StringDtype):
        return MeasureType.VARCHAR
    if isinstance(dt, pd.CategoricalDtype):
        return infer_measure_type(s.astype(dt.categories.dtype), name)
    if dt == object:
        kinds = {type(v) for v in s.dropna().to_numpy()[:100_000]}
        if kinds <= {str}:
            return MeasureType.VARCHAR
        if kinds <= {bool, np.bool_}:
            return MeasureType.BOOLEAN
        raise ValidationError(
            f"measure {name!r} mixes types {sorted(k.__name__ for k in kinds)}; a measure has one "
            "type: convert the column (e.g. df[col].astype(float) or .astype('string'))"
        )
    raise ValidationError(f"measure {name!r} has dtype {dt}, which tsstore cannot store")


def _measure_column(df: pd.DataFrame, name: str, mtype: MeasureType) -> np.ndarray:
    """The storage array of one measure, validated (NaN / inf / out-of-range are refused)."""
    s = df[name]
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.dtype.categories.dtype)
    if mtype is MeasureType.DOUBLE:
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        raw_nan = np.isnan(vals)
        if not isinstance(s.dtype, np.dtype):  # nullable Float64 / Arrow: <NA> means no value
            raw_nan &= ~s.isna().to_numpy()
        bad = np.flatnonzero(raw_nan | np.isinf(vals))
        if len(bad):
            v = vals[bad[0]]
            raise ValidationError(
                f"measure {name!r} is {v} at {_row_label(df, bad[0])} ({len(bad)} such rows); "
                "NaN and inf are not measure values: drop those rows, or use a nullable dtype "
                f"(df[{name!r}].astype('Float64')) where <NA> means 'no value'"
            )
        return vals
    if mtype is MeasureType.BIGINT:
        mask = s.isna().to_numpy()
        if s.dtype == np.uint64 and len(s) and s.max() > np.iinfo(np.int64).max:
            pos = int(np.argmax(s.to_numpy() > np.iinfo(np.int64).max))
            raise ValidationError(
                f"measure {name!r} at {_row_label(df, pos)} exceeds the BIGINT range; "
                "store it as DOUBLE or VARCHAR"
            )
        vals = s.to_numpy(dtype=np.int64, na_value=0)
        bad = np.flatnonzero((vals == INT64_NULL) & ~mask)
        if len(bad):
            raise ValidationError(
                f"measure {name!r} is -2**63 at {_row_label(df, bad[0])}; that value is reserved "
                "as tsstore's null for BIGINT"
            )
        return np.where(mask, INT64_NULL, vals) if mask.any() else vals
    if mtype is MeasureType.BOOLEAN:
        mask = s.isna().to_numpy()
        vals = s.to_numpy(dtype=object) if mask.any() else s.to_numpy()
        out = np.where(mask, 0, vals).astype(bool).astype(np.int8)
        out[mask] = -1
        return out
    if mtype is MeasureType.TIMESTAMP:
        if isinstance(s.dtype, pd.ArrowDtype):
            s = s.astype(_arrow_to_pandas_dtype(s.dtype))
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.to_numpy(dtype="datetime64[ns]").view(np.int64)
    vals = s.astype(object).to_numpy(dtype=object)
    mask = s.isna().to_numpy()
    if mask.any():
        vals = vals.copy()
        vals[mask] = None
    return vals


def _factorize_keys(df: pd.DataFrame, key_cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Series id per row and the key table, for the combination of ``key_cols``."""
    n = len(df)
    if not key_cols:
        return np.zeros(n, np.int32), keys_frame({})
    codes = None
    for col in key_cols:
        c, _ = pd.factorize(df[col], use_na_sentinel=True)
        c = c.astype(np.int64) + 1  # 0 = missing
        if codes is None:
            codes = c
        else:
            card = int(c.max()) + 1 if n else 1
            base = int(codes.max()) + 1 if n else 1
            if base * card < 2**62:
                codes = codes * card + c
            else:
                codes = pd.factorize(pd.MultiIndex.from_arrays([codes, c]))[0].astype(np.int64)
            codes = pd.factorize(codes)[0].astype(np.int64)  # keep the range small
    assert codes is not None
    series, uniques = pd.factorize(codes)
    first = np.zeros(len(uniques), dtype=np.int64)
    first[series[::-1]] = np.arange(n - 1, -1, -1)  # first row of each series
    keys = {}
    for col in key_cols:
        vals = df[col].to_numpy(dtype=object)[first]
        keys[col] = [None if (v is None or v is pd.NA or v != v) else str(v) for v in vals]
    return series.astype(np.int32), keys_frame(keys)


def points_from_frame(
    df: pd.DataFrame,
    *,
    dimensions: Sequence[str],
    time: str = "time",
    measure_name: str | None = None,
    measures: Sequence[str] | None = None,
    version: str | int | None = None,
) -> Points:
    """Validate a DataFrame of multi-measure rows and turn it into Points.

    Parameters
    ----------
    df : DataFrame
        One row per point: a time column, dimension columns, and measure columns.
    dimensions : sequence of str
        Columns that identify a series (stored as strings; every row needs a value).
    time : str
        The time column: datetime64 (tz-naive is taken as UTC, tz-aware is converted).
    measure_name : str, optional
        The measure name of every row (Timestream's ``MeasureName`` of a multi-measure record).
    measures : sequence of str, optional
        Measure columns; default every column that is not time, a dimension or the version.
    version : str or int, optional
        A version column or one version for every row (default 1).

    Raises
    ------
    ValidationError
        Missing columns, NaN/NaT times, missing dimension values, NaN/inf measures, mixed types,
        reserved or over-long names, more than 128 dimensions.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"write() takes a pandas DataFrame, got {type(df).__name__}")
    dims = list(dimensions)
    cols = set(df.columns)
    if len(df.columns) != len(cols):
        dup = df.columns[df.columns.duplicated()].tolist()
        raise ValidationError(f"the frame has duplicate columns {dup}; rename them")
    if time not in cols:
        cands = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c].dtype)]
        hint = f"; pass time={cands[0]!r}" if cands else ""
        raise ValidationError(f"the frame has no time column {time!r}{hint}")
    missing = [d for d in dims if d not in cols]
    if missing:
        raise ValidationError(f"dimension columns {missing} are not in the frame: {list(cols)}")
    if len(dims) > 128:
        raise ValidationError(f"{len(dims)} dimensions given; Timestream allows at most 128")
    skip = {time, *dims}
    if isinstance(version, str):
        if version not in cols:
            raise ValidationError(f"version column {version!r} is not in the frame")
        skip.add(version)
    meas = list(measures) if measures is not None else [c for c in df.columns if c not in skip]
    if not meas:
        raise ValidationError(
            "the frame has no measure columns; every column that is not the time or a "
            "dimension is a measure"
        )
    for d in dims:
        validate_column_name(d, "dimension")
    for m in meas:
        validate_column_name(m, "measure")
    if measure_name is not None:
        validate_column_name(measure_name, "measure")

    t = time_to_ns(df[time], time)
    for d in dims:
        na = df[d].isna().to_numpy()
        if na.any():
            pos = int(np.argmax(na))
            raise ValidationError(
                f"dimension {d!r} has no value at {_row_label(df, pos)}; every point needs all of "
                f"its dimensions: fill them (df[{d!r}].fillna('unknown')) or drop those rows"
            )
    types = {m: infer_measure_type(df[m], m) for m in meas}
    columns = {m: _measure_column(df, m, types[m]) for m in meas}
    if len(meas) > 0 and len(df):
        present = np.zeros(len(df), dtype=bool)
        for m in meas:
            present |= ~null_mask(columns[m], types[m])
        if not present.all():
            pos = int(np.argmin(present))
            raise ValidationError(
                f"{_row_label(df, pos)} has no measure value at all; drop rows with no measures"
            )
    vers = None
    if isinstance(version, str):
        v = df[version]
        if v.isna().any() or not pd.api.types.is_integer_dtype(v.dtype):
            raise ValidationError(f"version column {version!r} must hold integers without gaps")
        vers = v.to_numpy(dtype=np.int64)
    elif version is not None:
        vers = np.full(len(df), int(version), dtype=np.int64)

    series, keys = _factorize_keys(df, dims)
    keys[MEASURE_NAME] = np.full(len(keys), measure_name, dtype=object)
    return Points(
        keys=keys,
        series=series,
        time=t,
        columns=columns,
        types=types,
        version=vers,
        row=np.arange(len(df), dtype=np.int64),
    )
