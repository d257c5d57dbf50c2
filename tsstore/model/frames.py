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
from tsstore.model.schema import (
    INT64_NULL,
    MAX_DIMENSION_VALUE_BYTES,
    MAX_DIMENSIONS,
    MAX_MEASURES_PER_RECORD,
    MAX_VARCHAR_BYTES,
    MeasureType,
    null_mask,
)

__all__ = ["infer_measure_type", "points_from_frame", "time_to_ns"]


def _row_label(df: pd.DataFrame, pos: int) -> str:
    return f"row {pos} (index {df.index[pos]!r})"


def time_to_ns(values: pd.Series | np.ndarray, what: str = "time") -> np.ndarray:
    """Times (datetime64, tz-aware or naive = UTC, Arrow timestamps, or ISO strings) as int64
    nanoseconds since the epoch. Numbers are refused: their unit would be a guess.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.ArrowDtype):
        if not pa.types.is_timestamp(s.dtype.pyarrow_dtype):
            raise ValidationError(
                f"column {what!r} has Arrow type {s.dtype.pyarrow_dtype}, not a timestamp; convert "
                f"it with pd.to_datetime(df[{what!r}], utc=True)"
            )
        s = s.astype(_arrow_to_pandas_dtype(s.dtype))
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise ValidationError(
            f"column {what!r} holds numbers ({s.dtype}), not times; convert it naming the unit, "
            f"e.g. pd.to_datetime(df[{what!r}], unit='ms', utc=True)"
        )
    if not (pd.api.types.is_datetime64_any_dtype(s.dtype)):
        try:
            s = pd.to_datetime(s, utc=True)
        except (TypeError, ValueError, OverflowError) as e:
            raise ValidationError(
                f"column {what!r} is not a time column ({s.dtype}); convert it with "
                f"pd.to_datetime(df[{what!r}], utc=True)"
            ) from e
    ns = _datetimes_to_ns(s, what)
    bad = np.flatnonzero(ns == INT64_NULL)
    if len(bad):
        raise ValidationError(
            f"column {what!r} has NaT at row {bad[0]} ({len(bad)} rows in all); every point needs "
            "a time: drop those rows or fill them"
        )
    return ns


def _datetimes_to_ns(s: pd.Series, what: str) -> np.ndarray:
    """A datetime64 Series (any unit, tz-aware or naive = UTC) as int64 ns; NaT stays INT64_NULL.

    Times that nanoseconds cannot hold (before 1677-09-22 or after 2262-04-11) are refused,
    never wrapped around.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype) and s.dtype.unit == "ns":
        return s.array.asi8  # UTC nanoseconds already: a view, no conversion
    if s.dtype == np.dtype("datetime64[ns]"):
        return s.to_numpy().view(np.int64)
    try:
        if isinstance(s.dtype, pd.ArrowDtype):
            s = s.astype(_arrow_to_pandas_dtype(s.dtype))
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        s = s.astype("datetime64[ns]")
    except (OverflowError, ValueError) as e:  # pandas' OutOfBoundsDatetime is a ValueError
        raise ValidationError(
            f"column {what!r} has a time outside the range 1677-09-22 .. 2262-04-11 that "
            f"nanoseconds hold ({e}); drop or fix those rows"
        ) from e
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


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
    if isinstance(dt, np.dtype) and dt.kind == "O":
        kind = pd.api.types.infer_dtype(s, skipna=True)  # looks at every value, in C
        if kind in ("string", "empty"):
            return MeasureType.VARCHAR
        if kind == "boolean":
            return MeasureType.BOOLEAN
        kinds = sorted({type(v).__name__ for v in s.dropna().to_numpy()})
        if len(kinds) > 1:
            raise ValidationError(
                f"measure {name!r} mixes types {kinds}; a measure has one type: convert the "
                f"column (e.g. df[{name!r}].astype(float) or .astype('string'))"
            )
        raise ValidationError(
            f"measure {name!r} is an object column of {kinds[0]} values; convert it to a "
            f"typed column (e.g. df[{name!r}].astype('Int64'), .astype('Float64') or "
            ".astype('string'))"
        )
    raise ValidationError(f"measure {name!r} has dtype {dt}, which tsstore cannot store")


def _measure_column(df: pd.DataFrame, name: str, mtype: MeasureType) -> np.ndarray:
    """The storage array of one measure, validated (NaN / inf / out-of-range are refused)."""
    s = df[name]
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.dtype.categories.dtype)
    plain = isinstance(s.dtype, np.dtype)  # NumPy-backed: no <NA>, and views, not copies
    if mtype is MeasureType.DOUBLE:
        if plain and s.dtype == np.float64:
            vals = s.to_numpy()
            bad = np.flatnonzero(~np.isfinite(vals))
        else:
            vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
            raw_nan = np.isnan(vals)
            if not plain:  # nullable Float64 / Arrow: <NA> means no value
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
        if plain and s.dtype.kind == "i":
            vals = s.to_numpy().astype(np.int64, copy=False)
            if s.dtype == np.int64 and (vals == INT64_NULL).any():
                pos = int(np.argmax(vals == INT64_NULL))
                raise ValidationError(
                    f"measure {name!r} is -2**63 at {_row_label(df, pos)}; that value is "
                    "reserved as tsstore's null for BIGINT"
                )
            return vals
        mask = s.isna().to_numpy()
        if _is_uint64(s.dtype):
            big = ~mask & (s.to_numpy(dtype=np.uint64, na_value=0) > np.iinfo(np.int64).max)
            if big.any():
                raise ValidationError(
                    f"measure {name!r} at {_row_label(df, int(np.argmax(big)))} exceeds the "
                    "BIGINT range (at most 2**63 - 1); store it as DOUBLE or VARCHAR"
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
        return _datetimes_to_ns(s, name)  # NaT is "no value"
    vals = s.astype(object).to_numpy(dtype=object)
    mask = s.isna().to_numpy()
    if mask.any():
        vals = vals.copy()
        vals[mask] = None
    _check_varchar_sizes(df, name, vals, mask)
    return vals


def _is_uint64(dtype: object) -> bool:
    if isinstance(dtype, pd.ArrowDtype):
        return bool(pa.types.is_uint64(dtype.pyarrow_dtype))
    return np.dtype(getattr(dtype, "numpy_dtype", dtype)) == np.uint64


def _check_varchar_sizes(df: pd.DataFrame, name: str, vals: np.ndarray, mask: np.ndarray) -> None:
    """VARCHAR values hold at most 2 KB of UTF-8, as in Timestream."""
    present = vals[~mask]
    if not len(present):
        return
    chars = np.fromiter((len(v) for v in present), dtype=np.int64, count=len(present))
    suspect = np.flatnonzero(chars * 4 > MAX_VARCHAR_BYTES)  # a char is at most 4 bytes
    for i in suspect:
        if len(present[i].encode()) > MAX_VARCHAR_BYTES:
            pos = int(np.flatnonzero(~mask)[i])
            raise ValidationError(
                f"measure {name!r} at {_row_label(df, pos)} is {len(present[i].encode())} bytes "
                f"long; VARCHAR values hold at most {MAX_VARCHAR_BYTES} bytes: shorten or split it"
            )


def _dimension_values(
    df: pd.DataFrame, col: str, raw: np.ndarray, uniques: object, rows: np.ndarray | None = None
) -> list[str]:
    """The stored strings of a factorized dimension column, checked.

    Values are compared after conversion to ``str`` (``1`` and ``"1"`` are one series); empty
    and over-2-KB values are refused, as Timestream refuses them. Missing values (code ``-1``)
    are absent dimensions: callers map them to ``None``. ``rows`` maps positions
    of ``raw`` to rows of ``df`` (default: the same).
    """

    def row(pos: int) -> int:
        return pos if rows is None else int(rows[pos])

    strings = [str(v) for v in np.asarray(uniques, dtype=object)]
    for k, v in enumerate(strings):
        if "\x00" in v:
            pos = row(int(np.argmax(raw == k)))
            raise ValidationError(
                f"dimension {col!r} holds a NUL character (\\x00) at {_row_label(df, pos)}; "
                "dimension values cannot contain NUL: remove it "
                f"(df[{col!r}].str.replace('\\x00', ''))"
            )
        size = len(v.encode())
        if size == 0 or size > MAX_DIMENSION_VALUE_BYTES:
            pos = row(int(np.argmax(raw == k)))
            problem = "is empty" if size == 0 else f"is {size} bytes long"
            raise ValidationError(
                f"dimension {col!r} {problem} at {_row_label(df, pos)}; dimension values hold "
                f"1 to {MAX_DIMENSION_VALUE_BYTES} bytes: fill or shorten them, or drop the rows"
            )
    return strings


def _with_absent(strings: list[str]) -> np.ndarray:
    """The stored values of a dimension and, last, ``None`` (absent): indexing it with the
    codes of a factorization (``-1`` for a missing value) gives each row's key value."""
    return np.asarray([*strings, None], dtype=object)


def _factorize_exact(values: np.ndarray | pd.Series) -> tuple[np.ndarray, object]:
    """``pd.factorize(values, use_na_sentinel=True)`` that keeps strings differing after a NUL
    apart: pandas' string hashing compares C strings (``"a"`` and ``"a\x00"`` are one value
    there), Arrow's does not. Strings go through Arrow's dictionary encoding (as fast); other
    values (numbers, mixed) through pandas, where a NUL cannot hide."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.factorize(values, use_na_sentinel=True)
    enc = arr.dictionary_encode()
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, np.asarray(enc.dictionary.to_pylist(), dtype=object)


def _factorize_objects(s: pd.Series) -> tuple[np.ndarray, object]:
    """``pd.factorize`` of a column, hashing object pointers first when that is cheaper.

    Rows of a dimension column usually share a few string objects (a DataFrame built from
    per-host values): factorizing the pointers as integers is several times faster than hashing
    strings, and the few distinct objects are then factorized by value (equal strings in
    distinct objects become one code). Columns of mostly distinct objects (read from a file)
    take the plain path.
    """
    vals = s.to_numpy(dtype=object) if s.dtype == object else None
    ptr = _pointers(vals) if vals is not None else None
    if ptr is not None and len(ptr) >= 1024:
        pcodes, pfirst = pd.factorize(ptr)
        if len(pfirst) * 16 <= len(ptr):
            first = _first_rows(pcodes)
            objs = vals[first]
            codes, uniques = _factorize_exact(objs)
            return codes[pcodes], uniques
    return _factorize_exact(s)


def _dimension_codes(df: pd.DataFrame, col: str) -> tuple[np.ndarray, list[str | None]]:
    """Codes (0..k-1, in order of first appearance) and distinct stored values of a column;
    a missing value (an absent dimension, as in a record without it) is the value ``None``."""
    raw, uniques = _factorize_objects(df[col])
    strings = _dimension_values(df, col, raw, uniques)
    codes, values = _factorize_exact(np.asarray(strings, dtype=object))
    if len(values) != len(strings):  # raw values sharing a string: renumber
        raw = np.where(raw < 0, -1, codes[raw])
    if len(raw) and raw.min() < 0:  # absent: one more value, numbered where it first appears
        codes, order = pd.factorize(np.where(raw < 0, len(values), raw))
        every = [*values, None]
        return codes, [every[i] for i in order]
    return raw, list(values)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of the first appearance of each code, for codes numbered in order of appearance."""
    if not len(codes):
        return np.empty(0, dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(np.concatenate([[True], seen[1:] > seen[:-1]]))


def _pointers(values: np.ndarray) -> np.ndarray | None:
    """The object pointers of an object array as integers (a view), or None if not viewable.

    Two equal pointers are the same Python object, hence equal values: comparing pointers
    proves most rows equal without calling ``__eq__`` on each.
    """
    if values.dtype != object or not values.flags.c_contiguous:
        return None
    try:
        return np.frombuffer(memoryview(values).cast("B"), dtype=np.intp)
    except (TypeError, ValueError, BufferError):
        return None


def _follows(col: np.ndarray, codes: np.ndarray, first: np.ndarray) -> bool:
    """Whether ``col`` has one value per group of ``codes`` (is determined by the groups)."""
    reps = col[first]
    ptr, rep_ptr = _pointers(col), _pointers(reps)
    if ptr is not None and rep_ptr is not None:
        differ = np.flatnonzero(ptr != rep_ptr[codes])
        if not len(differ):
            return True
        return bool(np.all(col[differ] == reps[codes[differ]]))
    return bool(np.all(col == reps[codes]))


def _factorize_keys(df: pd.DataFrame, key_cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Series id per row (0..k-1, in order of first appearance) and the key table.

    Dimensions usually follow from one another (a host has one region, one rack ...): a column
    with one value per group of the columns before it needs no factorizing of its own, which
    a comparison of object pointers proves in about a millisecond per million rows. When they
    do not (a few rows with a missing tag), :func:`_factorize_keys_by_identity` groups the rows
    by the objects they hold first.
    """
    fast = _factorize_keys_by_identity(df, key_cols)
    if fast is not None:
        return fast
    n = len(df)
    if not key_cols:  # one series (per measure name), or none in an empty frame
        return np.zeros(n, np.int32), pd.DataFrame(index=pd.RangeIndex(min(n, 1)))
    codes, strings = _dimension_codes(df, key_cols[0])
    codes = codes.astype(np.int64, copy=False)
    first = _first_rows(codes)
    keys: dict[str, np.ndarray] = {key_cols[0]: np.asarray(strings, dtype=object)[codes[first]]}
    for col in key_cols[1:]:
        s = df[col]
        vals = s.to_numpy(dtype=object) if s.dtype == object else None
        if vals is not None and len(first) and _follows(vals, codes, first):
            inv, uniq = _factorize_exact(vals[first])
            strings = _dimension_values(df, col, inv, uniq, rows=first)
            keys[col] = _with_absent(strings)[inv]
            continue
        c, strings = _dimension_codes(df, col)
        card = len(strings)
        base = len(first)
        if base * card < 2**62:
            combined = codes * card + c
        else:
            combined = pd.factorize(pd.MultiIndex.from_arrays([codes, c]))[0].astype(np.int64)
        codes = pd.factorize(combined)[0].astype(np.int64)
        first = _first_rows(codes)
        keys = {k: _key_at(df, k, first) for k in keys}  # earlier columns at the finer groups
        keys[col] = np.asarray(strings, dtype=object)[c[first]]
    return codes.astype(np.int32), keys_frame(keys)


#: Frames of fewer rows take the general path (the identity pass would not pay for itself).
IDENTITY_MIN_ROWS = 4096


def _factorize_keys_by_identity(
    df: pd.DataFrame, key_cols: list[str]
) -> tuple[np.ndarray, pd.DataFrame] | None:
    """:func:`_factorize_keys` through the objects each row holds, or None where that does
    not apply (a short frame, a non-object column, mostly distinct objects).

    Rows whose key cells are the same Python objects are the same series: one hash of the
    object pointers of every key column groups the rows (a collision is detected, and falls
    back), and only the first row of each group goes through the general path, which compares
    values and validates them. A frame built from per-device values, where a few rows lack a
    tag (TSBS iot), costs one factorization instead of one per column.
    """
    n = len(df)
    if n < IDENTITY_MIN_ROWS or len(key_cols) < 2:
        return None
    pointers = []
    for col in key_cols:
        s = df[col]
        if s.dtype != object:
            return None
        ptr = _pointers(s.to_numpy(dtype=object))
        if ptr is None:
            return None
        pointers.append(ptr.view(np.uint64))
    mixed = pointers[0].copy()
    for ptr in pointers[1:]:
        mixed *= np.uint64(0x9E3779B97F4A7C15)  # wraps: a hash, checked below
        mixed ^= ptr
    groups = pd.factorize(mixed)[0]
    first = _first_rows(groups)
    if len(first) * 16 > n:
        return None
    for ptr in pointers:  # a collision would join rows holding different objects
        if not np.array_equal(ptr, ptr[first][groups]):
            return None
    try:
        codes, keys = _factorize_keys(df.iloc[first], key_cols)
    except ValidationError:
        return None  # the general path over every row names the bad row
    return codes[groups], keys


def _key_at(df: pd.DataFrame, col: str, rows: np.ndarray) -> np.ndarray:
    """Stored strings of column ``col`` at ``rows`` (values already checked; None: absent)."""
    values = df[col].to_numpy(dtype=object)[rows]
    return np.asarray([None if _missing(v) else str(v) for v in values], dtype=object)


def _missing(v: object) -> bool:
    """Whether a dimension cell holds no value (None, NaN, NA, NaT)."""
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


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
        Columns that identify a series (stored as strings). A missing value (None, NaN) is
        an absent dimension, as in a record that does not list it.
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
        Missing columns, NaN/NaT times, missing or empty dimension values, NaN/inf measures,
        mixed types, reserved or over-long names, more than 128 dimensions, more than 256
        measure values in a row, versions below 1. The message names the row, the column and
        the fix; nothing of a refused frame is kept.

    Examples
    --------
    >>> df = pd.DataFrame({"time": pd.to_datetime(["2024-01-01"], utc=True),
    ...                    "device_id": ["m-1"], "temperature": [71.5]})
    >>> p = points_from_frame(df, dimensions=["device_id"], measure_name="metrics")
    >>> p.to_pandas()["temperature"].tolist()
    [71.5]
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"write() takes a pandas DataFrame, got {type(df).__name__}")
    dims = _dimension_list(dimensions)
    _check_columns(df, dims, time)
    skip = {time, *dims}
    if isinstance(version, str):
        if version not in df.columns:
            raise ValidationError(f"version column {version!r} is not in the frame")
        skip.add(version)
    meas = _measure_list(df, measures, skip)
    for d in dims:
        validate_column_name(d, "dimension")
    for m in meas:
        validate_column_name(m, "measure")
    if measure_name is not None:
        validate_column_name(measure_name, "measure")

    t = time_to_ns(df[time], time)
    series, keys = _factorize_keys(df, dims)  # refuses empty and over-long values
    types = {m: infer_measure_type(df[m], m) for m in meas}
    columns = {m: _measure_column(df, m, types[m]) for m in meas}
    _check_measure_counts(df, columns, types)
    vers = _versions(df, version)
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


def _dimension_list(dimensions: Sequence[str]) -> list[str]:
    if isinstance(dimensions, str):
        raise ValidationError(
            f"dimensions must be a list of column names, got the string {dimensions!r}; "
            f"write dimensions=[{dimensions!r}]"
        )
    dims = list(dimensions)
    twice = sorted({d for d in dims if dims.count(d) > 1})
    if twice:
        raise ValidationError(f"dimensions {twice} are listed more than once; list each once")
    if len(dims) > MAX_DIMENSIONS:
        raise ValidationError(
            f"{len(dims)} dimensions given; Timestream allows at most {MAX_DIMENSIONS}: move "
            "attributes that do not identify a series into measures"
        )
    return dims


def _check_columns(df: pd.DataFrame, dims: list[str], time: str) -> None:
    cols = list(df.columns)
    if len(cols) != len(set(cols)):
        dup = df.columns[df.columns.duplicated()].tolist()
        raise ValidationError(f"the frame has duplicate columns {dup}; rename them")
    if time not in cols:
        cands = [c for c in cols if pd.api.types.is_datetime64_any_dtype(df[c].dtype)]
        hint = f"; pass time={cands[0]!r}" if cands else ""
        raise ValidationError(f"the frame has no time column {time!r}{hint}")
    missing = [d for d in dims if d not in cols]
    if missing:
        raise ValidationError(f"dimension columns {missing} are not in the frame: {cols}")


def _measure_list(df: pd.DataFrame, measures: Sequence[str] | None, skip: set) -> list[str]:
    if measures is None:
        meas = [c for c in df.columns if c not in skip]
    else:
        if isinstance(measures, str):
            raise ValidationError(
                f"measures must be a list of column names, got the string {measures!r}; "
                f"write measures=[{measures!r}]"
            )
        meas = list(dict.fromkeys(measures))
        missing = [m for m in meas if m not in df.columns]
        if missing:
            raise ValidationError(
                f"measure columns {missing} are not in the frame: {list(df.columns)}"
            )
        clash = [m for m in meas if m in skip]
        if clash:
            raise ValidationError(
                f"columns {clash} are the time, the version or dimensions; they cannot also be "
                "measures: leave them out of measures="
            )
    if not meas:
        raise ValidationError(
            "the frame has no measure columns; every column that is not the time or a "
            "dimension is a measure"
        )
    return meas


def _check_measure_counts(
    df: pd.DataFrame, columns: dict[str, np.ndarray], types: dict[str, MeasureType]
) -> None:
    """Every row carries 1 to 256 measure values (a multi-measure record's limits)."""
    if not len(df):
        return
    if len(columns) <= MAX_MEASURES_PER_RECORD and any(
        not null_mask(v, types[m]).any() for m, v in columns.items()
    ):
        return  # a column with a value in every row: no row is empty, none can be too full
    count = np.zeros(len(df), dtype=np.int32)
    for m, values in columns.items():
        count += ~null_mask(values, types[m])
    empty = count == 0
    if empty.any():
        raise ValidationError(
            f"{_row_label(df, int(np.argmax(empty)))} has no measure value at all; drop rows "
            "with no measures"
        )
    full = count > MAX_MEASURES_PER_RECORD
    if full.any():
        pos = int(np.argmax(full))
        raise ValidationError(
            f"{_row_label(df, pos)} has {int(count[pos])} measure values; a multi-measure record "
            f"holds at most {MAX_MEASURES_PER_RECORD}: split the columns into several writes "
            "with different measure_name"
        )


def _versions(df: pd.DataFrame, version: str | int | None) -> np.ndarray | None:
    """The version of every row (None: all 1); versions are integers from 1 to 2**63 - 1."""
    if version is None:
        return None
    if isinstance(version, str):
        v = df[version]
        if v.isna().any() or not pd.api.types.is_integer_dtype(v.dtype):
            raise ValidationError(f"version column {version!r} must hold integers without gaps")
        if _is_uint64(v.dtype) and len(v) and v.max() > np.iinfo(np.int64).max:
            raise ValidationError(f"version column {version!r} exceeds 2**63 - 1")
        vers = v.to_numpy(dtype=np.int64)
        low = vers < 1
        if low.any():
            pos = int(np.argmax(low))
            raise ValidationError(
                f"version column {version!r} is {vers[pos]} at {_row_label(df, pos)}; versions "
                "start at 1 (Timestream's default)"
            )
        return vers
    if isinstance(version, bool) or not isinstance(version, int | np.integer):
        raise ValidationError(f"version must be an integer or a column name, got {version!r}")
    if not 1 <= int(version) <= np.iinfo(np.int64).max:
        raise ValidationError(f"version {version} is out of range; versions run from 1 to 2**63-1")
    return np.full(len(df), int(version), dtype=np.int64)
