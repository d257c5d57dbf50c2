"""Score a fleet: every series of a table (or a frame), in parallel with Dask, scores and events
written back to the store.

- :func:`score_frame` scores a long frame (dimensions, ``time``, measures) series by series and
  groups alarms into events: the plain API under ``df.ts.anomalies``.
- :func:`detect` reads a table, scores it with one Dask task per group of series (on the active
  ``dask.distributed`` client when there is one, else Dask's threads), and writes the scores to
  ``<table>_anomalies`` and the events to ``<table>_anomaly_events``, with the table's
  dimensions, so that ``%%tsql`` queries them and the ``Monitor`` shows them.
  ``since=`` scores only newer points: the history each detector needs (its ``lookback``) is
  read again, so incremental scores equal a full run's.
"""

from __future__ import annotations

import itertools
import math
import os
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from tsstore.anomaly.alarms import _gap as _parse_gap
from tsstore.anomaly.alarms import events as find_events
from tsstore.errors import ValidationError
from tsstore.model.durations import to_utc_timestamp
from tsstore.storage.store import Store
from tsstore.storage.table import Table

__all__ = ["DetectResult", "detect", "is_univariate", "score_frame"]

#: Points per Dask task, roughly (a group of series is cut to about this size).
POINTS_PER_TASK = 200_000
#: Most tasks of one run.
MAX_TASKS = 256


def is_univariate(model: Any) -> bool:
    """Whether ``model`` scores one series at a time (tsstore's univariate detectors)."""
    from tsstore.anomaly.univariate import _Univariate

    return isinstance(model, _Univariate) or bool(getattr(model, "univariate", False))


def _is_fitted(model: Any) -> bool:
    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    return True


def _lookback_rows(model: Any) -> int:
    return int(getattr(model, "lookback", 0) or 0)


@dataclass(frozen=True, slots=True)
class DetectResult:
    """What a :func:`detect` run scored and wrote.

    Attributes
    ----------
    scores : DataFrame
        Dimensions, ``time``, ``score`` (the highest of the measures' scores), one
        ``score_<measure>`` per measure when a univariate detector scored several, and
        ``alarm`` (score at or over the threshold).
    events : DataFrame
        Dimensions and ``start``, ``end``, ``peak_time``, ``peak_score``, ``points``,
        ``measures`` (see :func:`tsstore.anomaly.events`).
    scores_table, events_table : str or None
        ``database.table`` written (None when nothing was written).
    last_time : Timestamp or None
        The newest point scored: pass it as ``since=`` to the next run.
    series, points, tasks : int
    seconds : float
        Wall time of the run.
    """

    scores: pd.DataFrame
    events: pd.DataFrame
    scores_table: str | None
    events_table: str | None
    last_time: pd.Timestamp | None
    series: int
    points: int
    tasks: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        """Points scored per second of wall time."""
        return self.points / self.seconds if self.seconds > 0 else float("nan")


# -- scoring one series ----------------------------------------------------------------------
def _measure_columns(df: pd.DataFrame, measures: Sequence[str] | None, skip: set[str]) -> list[str]:
    if measures is not None:
        missing = [m for m in measures if m not in df.columns]
        if missing:
            raise ValidationError(
                f"measures {missing} are not columns of the data; columns are {list(df.columns)}"
            )
        return list(measures)
    cols = [
        c
        for c in df.columns
        if c not in skip
        and (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]))
    ]
    if not cols:
        raise ValidationError(
            f"no numeric measure to score among {list(df.columns)}: pass measures=[...]"
        )
    return cols


def _score_series(
    frame: pd.DataFrame,
    model: Any,
    measures: list[str],
    univariate: bool,
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Scores of one series' rows (in time order): (score columns, contributions or None)."""
    values = frame[measures].astype("float64")
    index = pd.DatetimeIndex(frame["time"])
    out = pd.DataFrame(index=frame.index)
    if univariate:
        per = {}
        for m in measures:
            x = values[m]
            ok = x.notna().to_numpy()
            s = np.full(len(x), np.nan)
            if ok.any():
                series = pd.Series(x.to_numpy()[ok], index=index[ok])
                det = model if _is_fitted(model) else clone(model).fit(series)
                s[ok] = det.score_samples(series)
            per[m] = s
        stacked = np.vstack([per[m] for m in measures]).T
        with np.errstate(all="ignore"), pd.option_context("mode.chained_assignment", None):
            out["score"] = np.where(
                np.isnan(stacked).all(axis=1),
                np.nan,
                np.nanmax(np.nan_to_num(stacked, nan=-np.inf), axis=1),
            )
        if len(measures) > 1:
            for m in measures:
                out[f"score_{m}"] = per[m]
            # an event names the measures whose own score alarmed, by their summed scores
            alarmed = np.nan_to_num(stacked, nan=0.0)
            alarmed[alarmed < threshold] = 0.0
            return out, pd.DataFrame(alarmed, columns=measures)
        return out, None
    X = values.ffill()
    complete = X.notna().all(axis=1).to_numpy()
    s = np.full(len(X), np.nan)
    contrib = None
    if complete.any():
        Xc = X[complete]
        det = model if _is_fitted(model) else clone(model).fit(Xc)
        s[complete] = det.score_samples(Xc)
        if hasattr(det, "contributions"):
            c = np.zeros((len(X), len(measures)))
            c[complete] = np.asarray(det.contributions(Xc), dtype=np.float64)
            contrib = pd.DataFrame(c, columns=measures)
    out["score"] = s
    return out, contrib


def _score_group(
    group: pd.DataFrame,
    model: Any,
    keys: list[str],
    measures: list[str],
    univariate: bool,
    threshold: float,
    gap: object,
    min_points: int,
    since_ns: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and events of a group of whole series (a Dask task)."""
    score_parts, event_parts = [], []
    bounds = _series_bounds(group, keys)
    for a, b in itertools.pairwise(bounds):
        frame = group.iloc[a:b].reset_index(drop=True)
        scores, contrib = _score_series(frame, model, measures, univariate, threshold)
        scores.insert(0, "time", frame["time"].to_numpy())
        for k in reversed(keys):
            scores.insert(0, k, frame[k].to_numpy())
        scores["alarm"] = np.nan_to_num(scores["score"].to_numpy(), nan=-np.inf) >= threshold
        ev = find_events(
            scores["score"].to_numpy(),
            frame["time"],
            threshold=threshold,
            gap=gap,
            min_points=min_points,
            contributions=contrib,
        )
        if since_ns is not None:
            new = pd.DatetimeIndex(frame["time"]).asi8 > since_ns
            scores = scores[new]
            ev = ev[pd.DatetimeIndex(ev["end"]).asi8 > since_ns]
        for k in reversed(keys):
            ev.insert(0, k, frame[k].iloc[0] if len(frame) else None)
        score_parts.append(scores)
        event_parts.append(ev)
    scores = pd.concat(score_parts, ignore_index=True) if score_parts else pd.DataFrame()
    evs = pd.concat(event_parts, ignore_index=True) if event_parts else pd.DataFrame()
    return scores, evs


def _series_bounds(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Row bounds of each series in a frame sorted by series (then time)."""
    if not keys or len(df) == 0:
        return np.array([0, len(df)])
    change = np.zeros(len(df), dtype=bool)
    for k in keys:
        v = df[k].astype(object).to_numpy()
        change[1:] |= ~((v[1:] == v[:-1]) | (pd.isna(v[1:]) & pd.isna(v[:-1])))
    return np.r_[0, np.flatnonzero(change[1:]) + 1, len(df)]


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values([*keys, "time"], kind="stable").reset_index(drop=True)


def _threshold(model: Any, threshold: float | None) -> float:
    if threshold is not None:
        return float(threshold)
    return float(getattr(model, "threshold_", getattr(model, "threshold", 0.5)))


# -- running the groups ----------------------------------------------------------------------
def _groups(df: pd.DataFrame, keys: list[str], per_task: int) -> list[pd.DataFrame]:
    bounds = _series_bounds(df, keys)
    groups, start = [], 0
    for i in range(1, len(bounds)):
        if bounds[i] - bounds[start] >= per_task or i == len(bounds) - 1:
            groups.append(df.iloc[bounds[start] : bounds[i]])
            start = i
    return [g for g in groups if len(g)]


def _run(
    groups: list[pd.DataFrame], client: Any, kwargs: Mapping[str, Any]
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    if client is None:
        from tsstore.query.distributed import active_client

        client = active_client()
    if client is not None and client is not False:
        futures = client.map(_score_group, groups, **kwargs, pure=False)
        return list(client.gather(futures))
    import dask

    tasks = [dask.delayed(_score_group)(g, **kwargs) for g in groups]
    return list(dask.compute(*tasks, scheduler="threads"))


def score_frame(
    df: pd.DataFrame,
    model: Any,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every series of a long frame; (scores, events).

    Parameters
    ----------
    df : DataFrame
        One row per point: a ``time`` column, dimension columns naming the series, measures.
    model : detector
        A tsstore detector (fitted: applied to every series as it is; not fitted: a copy is
        fitted on each series' own rows — right for the univariate detectors, which learn as
        they go; fit multivariate detectors on normal data first).
    dimensions : sequence of str, optional
        The series columns (default: the string and categorical columns).
    measures : sequence of str, optional
        Measures to score (default: every numeric column). A univariate detector scores each
        one; ``score`` is then the highest of them, with ``score_<measure>`` columns.
    threshold : float, optional
        Alarm threshold (default the model's ``threshold_``).
    gap, min_points
        How alarms group into events (:func:`tsstore.anomaly.events`).
    client : dask.distributed.Client or False, optional
        Where the tasks run (default: the active client, else Dask's threads; False: Dask's
        threads even with a client active).
    since : time, optional
        Return only scores and events after this time (the earlier rows are history).

    Returns
    -------
    (DataFrame, DataFrame)
        Scores (dimensions, ``time``, ``score``..., ``alarm``) and events (dimensions,
        ``start``, ``end``, ``peak_time``, ``peak_score``, ``points``, ``measures``).

    Examples
    --------
    >>> from tsstore.anomaly import RollingZScore
    >>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=200, freq="min"),
    ...                    "device_id": "m-1", "temp": np.r_[np.zeros(150), 9.0, np.zeros(49)]})
    >>> scores, events = score_frame(df, RollingZScore(window=20))
    >>> events[["device_id", "start", "peak_score"]]
      device_id                     start  peak_score
    0       m-1 2024-01-01 02:30:00+00:00         1.0
    """
    scores, evs, _ = _score_frame(df, model, **options)
    return scores, evs


def _score_frame(
    df: pd.DataFrame,
    model: Any,
    *,
    dimensions: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    threshold: float | None = None,
    gap: object = 0,
    min_points: int = 1,
    client: Any = None,
    since: object | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """:func:`score_frame`, and the number of tasks it ran."""
    if "time" not in df.columns:
        raise ValidationError(
            f"the frame has no 'time' column (columns: {list(df.columns)}); rename yours "
            "to 'time' or reset a DatetimeIndex with df.reset_index()"
        )
    frame = df.copy()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    if dimensions is None:
        keys = [
            c
            for c in frame.columns
            if c != "time"
            and (
                pd.api.types.is_object_dtype(frame[c])
                or isinstance(frame[c].dtype, (pd.CategoricalDtype, pd.StringDtype))
            )
        ]
    else:
        keys = list(dimensions)
    cols = _measure_columns(frame, measures, {"time", *keys})
    frame = _sorted(frame[[*keys, "time", *cols]], keys)
    univariate = is_univariate(model)
    thr = _threshold(model, threshold)
    since_ns = None if since is None else int(to_utc_timestamp(since, "since").value)
    n_series = len(_series_bounds(frame, keys)) - 1
    per_task = _per_task(len(frame), n_series)
    kwargs = {
        "model": model,
        "keys": keys,
        "measures": cols,
        "univariate": univariate,
        "threshold": thr,
        "gap": gap,
        "min_points": min_points,
        "since_ns": since_ns,
    }
    groups = _groups(frame, keys, per_task)
    results = _run(groups, client, kwargs)
    scores = [r[0] for r in results if len(r[0])]
    evs = [r[1] for r in results if len(r[1])]
    score_cols = ["score", *(f"score_{m}" for m in cols if univariate and len(cols) > 1)]
    empty_scores = pd.DataFrame(columns=[*keys, "time", *score_cols, "alarm"])
    empty_events = pd.DataFrame(
        columns=[*keys, "start", "end", "peak_time", "peak_score", "points", "measures"]
    )
    return (
        pd.concat(scores, ignore_index=True) if scores else empty_scores,
        pd.concat(evs, ignore_index=True) if evs else empty_events,
        len(groups),
    )


def _per_task(points: int, series: int) -> int:
    workers = os.cpu_count() or 1
    tasks = max(1, min(series, MAX_TASKS, max(4 * workers, math.ceil(points / POINTS_PER_TASK))))
    return max(1, math.ceil(points / tasks))


# -- the store -------------------------------------------------------------------------------
def _resolve(table: Table | str, store: Store | None) -> tuple[Table, Store | None]:
    if isinstance(table, Table):
        return table, store
    if not isinstance(table, str):
        raise ValidationError(
            f"detect() scores a tsstore Table (db.table('name')) or a 'database.table' name "
            f"with store=, not a {type(table).__name__}"
        )
    if store is None:
        raise ValidationError(
            f"table={table!r} is a name: pass the store too, detect({table!r}, model, store=store)"
        )
    return store.table(table), store


def _output_table(source: Table, store: Store | None, name: str) -> Table:
    owner = store if store is not None else source.store
    if owner is None:
        raise ValidationError(
            "writing scores back needs the table's store, which is closed: pass "
            "detect(table, model, store=store), or write=False to only return them"
        )
    db = owner.database(source.database)
    if name in db.list_tables():
        return db.table(name)
    retention = source.describe()
    return db.create_table(
        name,
        memory_retention=retention["memory_retention"],
        magnetic_retention=retention["magnetic_retention"],
        exist_ok=True,
    )


def _read_with_history(
    table: Table,
    time_range: tuple[Any, Any],
    where: Mapping[str, Any] | None,
    measures: list[str] | None,
    since: pd.Timestamp,
    lookback_rows: int,
    lookback_ns: int,
    keys: list[str],
    open_events: pd.DataFrame | None = None,
    gap: object = 0,
) -> pd.DataFrame:
    """The new points (after ``since``) and, per series, at least ``lookback_rows`` before it
    (or all there are): the read window widens until each series has them.

    ``open_events`` (``time`` = start and ``end`` of the events an earlier run stored): those
    that end within ``gap`` of ``since`` may go on in the new points, so the read reaches back
    to their start (and the history before it): they are found again whole, with the start
    they were stored under, and replace the stored rows instead of overlapping them.
    """
    start, end = time_range
    new = table.read((since + pd.Timedelta(1, "ns"), end), where=where, measures=measures)
    if len(new) == 0:
        return new
    steps = (
        new.groupby(keys, observed=True, dropna=False)["time"].diff()
        if keys
        else (new["time"].diff())
    )
    step = steps.median()
    step_ns = int(step.value) if pd.notna(step) and step.value > 0 else 10**9
    gap_ns = _gap_ns(gap, step_ns)
    reach = since
    if open_events is not None and len(open_events):
        ends = pd.to_datetime(open_events["end"], utc=True)
        still = open_events[ends >= since - pd.Timedelta(gap_ns + step_ns, "ns")]
        if len(still):
            reach = min(since, pd.Timestamp(still["time"].min()))
    if lookback_rows <= 0 and lookback_ns <= 0 and reach == since:
        return new
    # the rows a detector needs, before them the duration its profile needs, and the points
    # a gap may bridge before the start of an event still open
    span = max(lookback_ns + step_ns * lookback_rows * 2, 10**9) + gap_ns + step_ns
    widest = span * 64
    floor = None if start is None else to_utc_timestamp(start, "time_range start")
    earliest = table.describe()["time_min"]
    if earliest is not None and (floor is None or earliest > floor):
        floor = earliest
    while True:
        lo = reach - pd.Timedelta(span, "ns")
        if floor is not None and lo < floor:
            lo = floor
        df = table.read((lo, end), where=where, measures=measures)
        before = df[df["time"] <= since]
        if keys:
            counts = before.groupby(keys, observed=True, dropna=False).size()
            wanted = new.groupby(keys, observed=True, dropna=False).size()
            enough = len(counts) >= len(wanted) and bool((counts >= lookback_rows).all())
        else:
            enough = len(before) >= lookback_rows
        # a series with no point in 64 times the history it needs is taken as new
        if enough or (floor is not None and lo <= floor) or span >= widest:
            return df
        span *= 4


def _gap_ns(gap: object, step_ns: int) -> int:
    """How far apart (ns) two alarms of one event may be: a duration, or points of ``step_ns``."""
    value, is_duration = _parse_gap(gap, True)
    return value if is_duration else value * step_ns


def _stored_events(
    source: Table, store: Store | None, name: str, where: Any, since: pd.Timestamp
) -> pd.DataFrame | None:
    """The events an earlier run stored that started by ``since`` (None: no events table)."""
    owner = store if store is not None else source.store
    if owner is None:
        return None
    db = owner.database(source.database)
    if name not in db.list_tables():
        return None
    stored = db.table(name).read((None, since + pd.Timedelta(1, "ns")), where=where)
    if len(stored) == 0 or "end" not in stored.columns:
        return None
    return stored[["time", "end"]]


def detect(
    table: Table | str,
    model: Any,
    *,
    store: Store | None = None,
    time_range: tuple[Any, Any] | None = None,
    where: Mapping[str, Sequence[str] | str] | None = None,
    measures: Sequence[str] | None = None,
    since: object | None = None,
    threshold: float | None = None,
    gap: object = 0,
    min_points: int = 1,
    write: bool = True,
    output: str | None = None,
    client: Any = None,
) -> DetectResult:
    """Score every series of a table and write the scores and events back to the store.

    Parameters
    ----------
    table : Table or str
        The table (``db.table("machines")``), or ``"database.table"`` with ``store=``.
    model : detector
        A tsstore detector. Fitted, it is applied to every series as it is (fit the
        multivariate ones on normal data first); not fitted, a copy is fitted on each series'
        rows (the univariate detectors learn as they go and need no training).
    store : Store, optional
        The store the table belongs to (needed to create the output tables).
    time_range : (start, end), optional
        Points with ``start <= time < end`` (either may be None).
    where : dict, optional
        Allowed values per dimension: ``{"device_id": ["m-1", "m-2"]}``.
    measures : sequence of str, optional
        Measures scored (default every numeric measure).
    since : time, optional
        Score only points after this time: the ``last_time`` of the previous run. The history
        each series needs before it (the detector's ``lookback`` rows, or its
        ``lookback_duration``) is read again, so the scores are those a full run gives.
    threshold : float, optional
        Alarm threshold (default the model's ``threshold_``).
    gap, min_points
        How alarms group into events (:func:`tsstore.anomaly.events`).
    write : bool, default True
        Write the scores to ``<table>_anomalies`` (measures ``score``, ``score_<measure>``,
        ``alarm``) and the events to ``<table>_anomaly_events`` (time = the event's start;
        measures ``end``, ``peak_time``, ``peak_score``, ``points``, ``measures``), both with
        the table's dimensions, created when missing. Rows are written with the run's time as
        their version, so a re-run over the same points replaces their scores, and an event
        still open at the last run is extended in place.
    output : str, optional
        Name of the scores table (default ``<table>_anomalies``; events go to
        ``<output>`` with ``_anomalies`` replaced by ``_anomaly_events``, or
        ``<output>_events``).
    client : dask.distributed.Client or False, optional
        Run the tasks there (default: the active client, else Dask's threads; False: Dask's
        threads even with a client active).

    Returns
    -------
    DetectResult

    Examples
    --------
    >>> result = detect(db.table("machines"), RollingZScore(), store=store)  # doctest: +SKIP
    >>> later = detect(db.table("machines"), RollingZScore(), store=store,
    ...                since=result.last_time)  # doctest: +SKIP
    """
    began = _time.perf_counter()
    source, store = _resolve(table, store)
    keys = list(source.schema.dimensions)
    tr = (None, None) if time_range is None else tuple(time_range)
    if len(tr) != 2:
        raise ValidationError(f"time_range={time_range!r}: expected (start, end)")
    wanted = None if measures is None else list(measures)
    since_ts = None if since is None else to_utc_timestamp(since, "since")
    name = output or f"{source.name}_anomalies"
    ev_name = (
        name[: -len("_anomalies")] + "_anomaly_events"
        if name.endswith("_anomalies")
        else f"{name}_events"
    )
    if since_ts is None:
        df = source.read(tr, where=where, measures=wanted)
    else:
        df = _read_with_history(
            source,
            tr,
            where,
            wanted,
            since_ts,
            _lookback_rows(model),
            int(getattr(model, "lookback_duration", None) or 0),
            keys,
            open_events=_stored_events(source, store, ev_name, where, since_ts),
            gap=gap,
        )
    if "measure_name" in df.columns:
        keys = [*keys, "measure_name"]
    keys = [k for k in keys if k in df.columns]
    thr = _threshold(model, threshold)
    if len(df) == 0:
        scores, evs, tasks = _score_frame(
            pd.DataFrame(
                {
                    **{k: pd.Series(dtype=object) for k in keys},
                    "time": pd.Series(dtype="datetime64[ns, UTC]"),
                    "value": pd.Series(dtype=float),
                }
            ),
            model,
            dimensions=keys,
            threshold=thr,
        )
    else:
        for k in keys:
            df[k] = df[k].astype(object)
        scores, evs, tasks = _score_frame(
            df,
            model,
            dimensions=keys,
            measures=wanted,
            threshold=thr,
            gap=gap,
            min_points=min_points,
            client=client,
            since=since_ts,
        )
    scores_name = events_name = None
    if write and len(scores):
        version = _time.time_ns()
        dims = [k for k in keys if k != "measure_name"]
        out = _output_table(source, store, name)
        out.write(_drop_nan_scores(scores), dimensions=dims, version=version)
        scores_name = out.full_name
        if len(evs):
            ev_table = _output_table(source, store, ev_name)
            ev_table.write(_event_rows(evs), dimensions=dims, version=version)
            events_name = ev_table.full_name
    last = None if len(scores) == 0 else pd.Timestamp(scores["time"].max())
    n_series = 0 if len(scores) == 0 else len(_series_bounds(_sorted(scores, keys), keys)) - 1
    return DetectResult(
        scores=scores,
        events=evs,
        scores_table=scores_name,
        events_table=events_name,
        last_time=last,
        series=n_series,
        points=len(scores),
        tasks=tasks,
        seconds=_time.perf_counter() - began,
    )


def _drop_nan_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows with a score (the warm-up rows before a detector can score are not written)."""
    out = scores[scores["score"].notna()].copy()
    out["alarm"] = out["alarm"].astype(bool)
    return out


def _event_rows(evs: pd.DataFrame) -> pd.DataFrame:
    out = evs.rename(columns={"start": "time"}).copy()
    out["points"] = out["points"].astype("int64")
    out["measures"] = out["measures"].where(out["measures"].astype(bool), None)
    return out
