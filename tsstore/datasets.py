"""Loaders for the real labelled benchmarks: NAB, SKAB and NASA C-MAPSS.

The data are not part of tsstore (nor of its wheel): they are read, never copied, from a folder
laid out as ``shared/datasets/`` is (see its ``README.md``)::

    <root>/nab/data/<category>/<file>.csv       timestamp,value
    <root>/nab/labels/combined_windows.json    anomaly windows per "category/file.csv"
    <root>/skab/data/{valve1,valve2,other}/*.csv, <root>/skab/data/anomaly-free/anomaly-free.csv
    <root>/cmapss/{train,test,RUL}_FD001.txt

Every loader takes ``root=`` (the folder above ``nab/``, ``skab/`` and ``cmapss/``); without it
:func:`default_root` finds one. Rows keep their file order: NAB scores by row position, and a
few NAB files repeat timestamps (``realKnownCause/machine_temperature_system_failure.csv`` even
goes back in time for an hour), so nothing is sorted or de-duplicated.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tsstore.errors import NotFoundError, ValidationError

__all__ = [
    "CMAPSS",
    "CMAPSS_COLUMNS",
    "DATASETS_ENV",
    "SKAB_SENSORS",
    "NABSeries",
    "SKABFile",
    "default_root",
    "load_cmapss",
    "load_nab",
    "load_skab",
    "load_skab_anomaly_free",
    "train_rul",
]

DATASETS_ENV = "TSSTORE_DATASETS"
"""The environment variable that names the datasets folder."""

SKAB_SENSORS: tuple[str, ...] = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
"""The eight sensor columns of every SKAB file, in file order."""

CMAPSS_COLUMNS: tuple[str, ...] = (
    "unit",
    "cycle",
    *(f"setting_{i}" for i in range(1, 4)),
    *(f"s_{i}" for i in range(1, 22)),
)
"""The 26 columns of the C-MAPSS text files: unit, cycle, 3 operating settings, 21 sensors."""

_CMAPSS_SUBSETS = ("FD001", "FD002", "FD003", "FD004")


@dataclass(frozen=True, slots=True)
class NABSeries:
    """One NAB data file with its labelled anomaly windows.

    Attributes
    ----------
    name : str
        ``"<category>/<file>.csv"`` (the key of NAB's label files), e.g.
        ``"realKnownCause/machine_temperature_system_failure.csv"``.
    data : DataFrame
        ``time`` (datetime64, UTC) and ``value`` (float64), in file order.
    windows : list of (Timestamp, Timestamp)
        The anomaly windows, inclusive, as UTC timestamps of rows of ``data``; empty for a file
        without anomalies.
    """

    name: str
    data: pd.DataFrame
    windows: list[tuple[pd.Timestamp, pd.Timestamp]]


@dataclass(frozen=True, slots=True)
class SKABFile:
    """One SKAB experiment file.

    Attributes
    ----------
    name : str
        ``"<folder>/<file>.csv"``, e.g. ``"valve1/0.csv"``.
    data : DataFrame
        ``time`` (datetime64, UTC: the bench's wall clock, read as UTC), the eight
        :data:`SKAB_SENSORS` as float64 columns, and the ``anomaly`` and ``changepoint``
        labels as int64 (0 or 1).
    """

    name: str
    data: pd.DataFrame


@dataclass(frozen=True, slots=True)
class CMAPSS:
    """One C-MAPSS subset: run-to-failure training engines, truncated test engines.

    Attributes
    ----------
    subset : str
        ``"FD001"`` ... ``"FD004"``.
    train, test : DataFrame
        Columns :data:`CMAPSS_COLUMNS`; ``unit`` and ``cycle`` are int64, the rest float64.
        Training engines run until failure; test engines stop some cycles before it.
    test_rul : Series
        The true remaining useful life (cycles) of each test engine after its last cycle,
        indexed by ``unit``.
    """

    subset: str
    train: pd.DataFrame
    test: pd.DataFrame
    test_rul: pd.Series


def default_root() -> Path:
    """The datasets folder: ``$TSSTORE_DATASETS``, else ``../shared/datasets``.

    ``../shared/datasets`` is tried relative to the current directory first, then relative to
    the repository root (the folder above the ``tsstore`` package).

    Returns
    -------
    Path
        An existing folder.

    Raises
    ------
    NotFoundError
        If ``$TSSTORE_DATASETS`` names a folder that does not exist, or no candidate exists.
    """
    env = os.environ.get(DATASETS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise NotFoundError(
                f"{DATASETS_ENV}={env!r} is not a folder; point it at the datasets folder (the "
                "one holding nab/, skab/ and cmapss/) or unset it"
            )
        return path
    candidates = [
        Path.cwd().parent / "shared" / "datasets",
        Path(__file__).resolve().parents[1].parent / "shared" / "datasets",
    ]
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise NotFoundError(
        f"no datasets folder found (looked in {looked}); pass root= to the loader or set "
        f"{DATASETS_ENV} to the folder holding nab/, skab/ and cmapss/"
    )


def _root(root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        return default_root()
    path = Path(root).expanduser()
    if not path.is_dir():
        raise NotFoundError(
            f"datasets folder {str(path)!r} does not exist; pass root= the folder holding nab/, "
            f"skab/ and cmapss/ (or leave root=None to use ${DATASETS_ENV} / ../shared/datasets)"
        )
    return path


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise NotFoundError(
            f"{what} not found at {path}; check root= (the folder holding nab/, skab/ and "
            f"cmapss/) or ${DATASETS_ENV}"
        )
    return path


def _utc(ts: str) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def load_nab(
    root: str | os.PathLike[str] | None = None, *, files: list[str] | None = None
) -> dict[str, NABSeries]:
    """The Numenta Anomaly Benchmark (v1.1): 58 univariate series with anomaly windows.

    Parameters
    ----------
    root : path, optional
        The datasets folder (default :func:`default_root`).
    files : list of str, optional
        Load only these files (names as ``"realTweets/Twitter_volume_AAPL.csv"``).

    Returns
    -------
    dict of str to NABSeries
        Keyed by name, in name order. The whole corpus holds 365,558 rows and 116 windows.

    Raises
    ------
    NotFoundError
        If the folder, the label file, a data file, or a name in ``files`` does not exist.

    Examples
    --------
    >>> nab = load_nab(files=["realKnownCause/nyc_taxi.csv"])  # doctest: +SKIP
    >>> s = nab["realKnownCause/nyc_taxi.csv"]  # doctest: +SKIP
    >>> len(s.data), len(s.windows)  # doctest: +SKIP
    (10320, 5)
    """
    base = _need(_root(root) / "nab", "the NAB folder (nab/)")
    labels_path = _need(base / "labels" / "combined_windows.json", "NAB's combined_windows.json")
    with labels_path.open() as f:
        labels: dict[str, list[list[str]]] = json.load(f)
    names = sorted(labels)
    if files is not None:
        missing = [n for n in files if n not in labels]
        if missing:
            raise NotFoundError(
                f"NAB has no file(s) {missing[:5]}; names look like "
                f"'realKnownCause/nyc_taxi.csv' (known: {len(names)} files, e.g. {names[:2]})"
            )
        wanted = set(files)
        names = [n for n in names if n in wanted]
    out: dict[str, NABSeries] = {}
    for name in names:
        path = _need(base / "data" / name, f"NAB data file {name!r}")
        raw = pd.read_csv(path, dtype={"value": np.float64})
        data = pd.DataFrame(
            {
                "time": pd.to_datetime(raw["timestamp"], format="%Y-%m-%d %H:%M:%S", utc=True),
                "value": raw["value"].to_numpy(np.float64),
            }
        )
        windows = [(_utc(a), _utc(b)) for a, b in labels[name]]
        out[name] = NABSeries(name=name, data=data, windows=windows)
    return out


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _read_skab(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=";")
    missing = [c for c in ("datetime", *SKAB_SENSORS) if c not in raw.columns]
    if missing:
        raise ValidationError(
            f"SKAB file {path} lacks column(s) {missing}; expected a ';'-separated file with "
            f"'datetime' and {list(SKAB_SENSORS)}"
        )
    data = pd.DataFrame(
        {"time": pd.to_datetime(raw["datetime"], format="%Y-%m-%d %H:%M:%S", utc=True)}
    )
    for col in SKAB_SENSORS:
        data[col] = raw[col].to_numpy(np.float64)
    for col in ("anomaly", "changepoint"):
        if col in raw.columns:
            data[col] = raw[col].to_numpy().astype(np.int64)
    return data


def load_skab(root: str | os.PathLike[str] | None = None) -> list[SKABFile]:
    """The Skoltech Anomaly Benchmark (v0.9): the 34 labelled experiment files.

    ``anomaly-free/anomaly-free.csv`` (normal operation, no labels) is left out: see
    :func:`load_skab_anomaly_free`.

    Parameters
    ----------
    root : path, optional
        The datasets folder (default :func:`default_root`).

    Returns
    -------
    list of SKABFile
        Folders in name order (``other``, ``valve1``, ``valve2``), files in natural order
        (``valve1/0.csv``, ``valve1/1.csv``, ..., ``valve1/10.csv``). 37,401 rows in all.

    Raises
    ------
    NotFoundError
        If the folder does not exist or holds no files.

    Examples
    --------
    >>> files = load_skab()  # doctest: +SKIP
    >>> files[0].name, len(files)  # doctest: +SKIP
    ('other/1.csv', 34)
    """
    base = _need(_root(root) / "skab" / "data", "the SKAB folder (skab/data/)")
    paths = [p for p in base.glob("*/*.csv") if p.parent.name != "anomaly-free"]
    if not paths:
        raise NotFoundError(f"no SKAB files under {base}; expected valve1/*.csv and the like")
    names = sorted((p.relative_to(base).as_posix() for p in paths), key=_natural_key)
    return [SKABFile(name=n, data=_read_skab(base / n)) for n in names]


def load_skab_anomaly_free(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """SKAB's anomaly-free run: normal operation only (9,405 rows, no label columns).

    Parameters
    ----------
    root : path, optional
        The datasets folder (default :func:`default_root`).

    Returns
    -------
    DataFrame
        ``time`` (UTC) and the eight :data:`SKAB_SENSORS` as float64.
    """
    path = _root(root) / "skab" / "data" / "anomaly-free" / "anomaly-free.csv"
    return _read_skab(_need(path, "SKAB's anomaly-free.csv"))


def _read_cmapss(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep=r"\s+", header=None, engine="c")
    df = df.dropna(axis=1, how="all")
    if df.shape[1] != len(CMAPSS_COLUMNS):
        raise ValidationError(
            f"C-MAPSS file {path} has {df.shape[1]} columns; expected {len(CMAPSS_COLUMNS)} "
            "(unit, cycle, 3 settings, 21 sensors), whitespace separated"
        )
    df.columns = list(CMAPSS_COLUMNS)
    df = df.astype({c: np.float64 for c in CMAPSS_COLUMNS[2:]})
    return df.astype({"unit": np.int64, "cycle": np.int64})


def load_cmapss(root: str | os.PathLike[str] | None = None, subset: str = "FD001") -> CMAPSS:
    """NASA's C-MAPSS turbofan degradation data, one subset.

    Parameters
    ----------
    root : path, optional
        The datasets folder (default :func:`default_root`).
    subset : {"FD001", "FD002", "FD003", "FD004"}
        Which subset (the shared folder holds FD001 only).

    Returns
    -------
    CMAPSS
        For FD001: 20,631 training rows and 13,096 test rows, 100 engines each, 100 true RULs.

    Raises
    ------
    ValidationError
        If ``subset`` is not one of the four.
    NotFoundError
        If a file of the subset does not exist.

    Examples
    --------
    >>> c = load_cmapss()  # doctest: +SKIP
    >>> c.train.shape, c.test_rul.loc[1]  # doctest: +SKIP
    ((20631, 26), 112)
    """
    if subset not in _CMAPSS_SUBSETS:
        raise ValidationError(f"C-MAPSS subset {subset!r} is unknown; use one of {_CMAPSS_SUBSETS}")
    base = _need(_root(root) / "cmapss", "the C-MAPSS folder (cmapss/)")
    train = _read_cmapss(_need(base / f"train_{subset}.txt", f"C-MAPSS train_{subset}.txt"))
    test = _read_cmapss(_need(base / f"test_{subset}.txt", f"C-MAPSS test_{subset}.txt"))
    rul_path = _need(base / f"RUL_{subset}.txt", f"C-MAPSS RUL_{subset}.txt")
    rul = pd.read_csv(rul_path, sep=r"\s+", header=None).dropna(axis=1, how="all").iloc[:, 0]
    units = np.sort(test["unit"].unique())
    if len(rul) != len(units):
        raise ValidationError(
            f"{rul_path} holds {len(rul)} RUL values but the test set has {len(units)} engines; "
            "the files must come from the same subset"
        )
    test_rul = pd.Series(
        rul.to_numpy(np.int64), index=pd.Index(units, name="unit"), name="rul", dtype=np.int64
    )
    return CMAPSS(subset=subset, train=train, test=test, test_rul=test_rul)


def train_rul(train: pd.DataFrame, cap: int | None = 125) -> pd.Series:
    """The remaining-useful-life target of each training row: cycles left before failure.

    A training engine fails after its last cycle, so a row's RUL is the unit's last cycle minus
    the row's cycle, clipped at ``cap`` (the usual piecewise-linear target: an engine is taken
    as healthy while more than ``cap`` cycles remain).

    Parameters
    ----------
    train : DataFrame
        With ``unit`` and ``cycle`` columns (e.g. :attr:`CMAPSS.train`).
    cap : int or None
        Upper clip (125 by convention); None for the raw RUL.

    Returns
    -------
    Series
        int64 named ``rul``, aligned with ``train``'s index.

    Examples
    --------
    >>> df = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "cycle": [1, 2, 3, 1, 2]})
    >>> train_rul(df).tolist()
    [2, 1, 0, 1, 0]
    >>> train_rul(df, cap=1).tolist()
    [1, 1, 0, 1, 0]
    """
    missing = [c for c in ("unit", "cycle") if c not in train.columns]
    if missing:
        raise ValidationError(
            f"train lacks column(s) {missing}; pass a C-MAPSS frame with 'unit' and 'cycle'"
        )
    last = train.groupby("unit")["cycle"].transform("max")
    rul = (last - train["cycle"]).astype(np.int64)
    if cap is not None:
        if cap < 0:
            raise ValidationError(f"cap must be >= 0 (or None); got {cap}")
        rul = rul.clip(upper=cap)
    return rul.rename("rul")
