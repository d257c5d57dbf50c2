"""The dataset loaders on the real shared data (skipped where ../shared/datasets is absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsstore.datasets import (
    CMAPSS_COLUMNS,
    DATASETS_ENV,
    SKAB_SENSORS,
    default_root,
    load_cmapss,
    load_nab,
    load_skab,
    load_skab_anomaly_free,
    train_rul,
)
from tsstore.errors import NotFoundError, ValidationError

try:
    ROOT = default_root()
except NotFoundError:  # pragma: no cover - depends on the machine
    ROOT = None

needs_data = pytest.mark.skipif(ROOT is None, reason="shared/datasets is not available here")


@pytest.fixture(scope="module")
def nab():
    return load_nab(ROOT)


# -- finding the folder ----------------------------------------------------------------------


def test_missing_root_is_a_clear_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="root=") as e:
        load_nab(tmp_path / "nowhere")
    assert "nowhere" in str(e.value)


def test_root_without_the_dataset_names_the_file(tmp_path):
    with pytest.raises(NotFoundError, match="nab"):
        load_nab(tmp_path)
    with pytest.raises(NotFoundError, match="cmapss"):
        load_cmapss(tmp_path)


def test_env_var_pointing_nowhere_is_not_found(monkeypatch, tmp_path):
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "missing"))
    with pytest.raises(NotFoundError, match=DATASETS_ENV):
        default_root()


def test_env_var_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path))
    assert default_root() == tmp_path


def test_nothing_found_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tsstore.datasets.__file__", str(tmp_path / "a" / "b" / "datasets.py"))
    with pytest.raises(NotFoundError, match=f"root=.*{DATASETS_ENV}"):
        default_root()


# -- NAB -------------------------------------------------------------------------------------


@needs_data
def test_nab_has_58_files_and_365558_rows(nab):
    assert len(nab) == 58
    assert sum(len(s.data) for s in nab.values()) == 365_558
    assert sum(len(s.windows) for s in nab.values()) == 116
    assert list(nab) == sorted(nab)


@needs_data
def test_nab_frames_are_typed(nab):
    s = nab["realKnownCause/machine_temperature_system_failure.csv"]
    assert s.name == "realKnownCause/machine_temperature_system_failure.csv"
    assert list(s.data.columns) == ["time", "value"]
    assert str(s.data["time"].dtype) == "datetime64[ns, UTC]"
    assert s.data["value"].dtype == np.float64
    assert len(s.data) == 22_695 and len(s.windows) == 4


@needs_data
def test_nab_keeps_file_order_with_repeated_timestamps(nab):
    t = nab["realKnownCause/machine_temperature_system_failure.csv"].data["time"]
    assert not t.is_monotonic_increasing  # the file steps back one hour; rows stay as written
    assert nab["realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv"].data["time"].duplicated().any()


@needs_data
def test_nab_windows_are_timestamps_of_rows_inside_each_file(nab):
    for name, s in nab.items():
        times = s.data["time"]
        prev_end = None
        for start, end in s.windows:
            assert start.tzinfo is not None and end.tzinfo is not None
            assert times.iloc[0] <= start < end <= times.iloc[-1], name
            assert (times == start).any() and (times == end).any(), name
            assert prev_end is None or start > prev_end
            prev_end = end
    assert nab["artificialNoAnomaly/art_flatline.csv"].windows == []


@needs_data
def test_nab_files_selects_and_unknown_names_fail():
    one = load_nab(ROOT, files=["realKnownCause/nyc_taxi.csv"])
    assert list(one) == ["realKnownCause/nyc_taxi.csv"]
    assert len(one["realKnownCause/nyc_taxi.csv"].windows) == 5
    with pytest.raises(NotFoundError, match="nyc_taxi"):
        load_nab(ROOT, files=["nyc_taxi.csv"])


# -- SKAB ------------------------------------------------------------------------------------


@needs_data
def test_skab_files_rows_and_order():
    files = load_skab(ROOT)
    names = [f.name for f in files]
    assert len(files) == 34
    assert "anomaly-free/anomaly-free.csv" not in names
    assert names[names.index("valve1/0.csv") : names.index("valve1/0.csv") + 3] == [
        "valve1/0.csv",
        "valve1/1.csv",
        "valve1/2.csv",
    ]
    assert names.index("valve1/9.csv") < names.index("valve1/10.csv")
    assert sum(len(f.data) for f in files) == 37_401
    free = load_skab_anomaly_free(ROOT)
    assert len(free) == 9_405
    assert sum(len(f.data) for f in files) + len(free) == 46_806  # the README's total


@needs_data
def test_skab_columns_and_labels():
    f = load_skab(ROOT)[0]
    assert list(f.data.columns) == ["time", *SKAB_SENSORS, "anomaly", "changepoint"]
    assert str(f.data["time"].dtype) == "datetime64[ns, UTC]"
    assert all(f.data[c].dtype == np.float64 for c in SKAB_SENSORS)
    assert f.data["anomaly"].dtype == np.int64 and set(f.data["anomaly"].unique()) <= {0, 1}
    free = load_skab_anomaly_free(ROOT)
    assert list(free.columns) == ["time", *SKAB_SENSORS]


# -- C-MAPSS ---------------------------------------------------------------------------------


@needs_data
def test_cmapss_fd001_shapes():
    c = load_cmapss(ROOT)
    assert c.train.shape == (20_631, 26) and c.test.shape == (13_096, 26)
    assert list(c.train.columns) == list(CMAPSS_COLUMNS)
    assert c.train["unit"].nunique() == 100 and c.test["unit"].nunique() == 100
    assert c.train["unit"].dtype == np.int64 and c.train["cycle"].dtype == np.int64
    assert c.train["s_21"].dtype == np.float64
    assert len(c.test_rul) == 100 and c.test_rul.index.tolist() == list(range(1, 101))
    assert c.test_rul.loc[1] == 112


@needs_data
def test_train_rul_ends_at_zero_and_is_capped():
    c = load_cmapss(ROOT)
    rul = train_rul(c.train)
    assert rul.max() == 125 and rul.min() == 0
    last = c.train.groupby("unit")["cycle"].idxmax()
    assert (rul.loc[last] == 0).all()
    assert train_rul(c.train, cap=None).max() == c.train.groupby("unit")["cycle"].max().max() - 1


def test_cmapss_unknown_subset():
    with pytest.raises(ValidationError, match="FD001"):
        load_cmapss("/nonexistent", subset="FD005")


def test_train_rul_small_frame():
    df = pd.DataFrame({"unit": [2, 2, 1, 1, 1], "cycle": [1, 2, 1, 2, 3]}, index=[9, 8, 7, 6, 5])
    rul = train_rul(df, cap=1)
    assert rul.to_dict() == {9: 1, 8: 0, 7: 1, 6: 1, 5: 0}
    with pytest.raises(ValidationError, match="cycle"):
        train_rul(df[["unit"]])
