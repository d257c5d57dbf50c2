"""Window features: causal rolling statistics and spectral bands per measure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsstore.anomaly import window_features
from tsstore.errors import ValidationError


def test_rolling_stats_match_pandas_and_slope_matches_polyfit():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=200), "b": np.arange(200.0) * 2})
    f = window_features(df, 10, stats=("mean", "std", "min", "max", "slope", "last"))
    r = df.rolling(10)
    pd.testing.assert_series_equal(f["a__mean"], r.mean()["a"], check_names=False)
    pd.testing.assert_series_equal(f["a__std"], r.std()["a"], check_names=False)
    pd.testing.assert_series_equal(f["b__max"], r.max()["b"], check_names=False)
    np.testing.assert_allclose(f["b__slope"].iloc[9:], 2.0)
    i = 150
    expected = np.polyfit(np.arange(10), df["a"].iloc[i - 9 : i + 1], 1)[0]
    assert f["a__slope"].iloc[i] == pytest.approx(expected)
    assert f["a__last"].tolist() == df["a"].tolist()
    assert f.iloc[:9].drop(columns=["a__last", "b__last"]).isna().all().all()


def test_features_are_causal():
    x = pd.DataFrame({"v": np.random.default_rng(1).normal(size=500)})
    whole = window_features(x, 32, bands=4)
    head = window_features(x.iloc[:300], 32, bands=4)
    pd.testing.assert_frame_equal(head, whole.iloc[:300])


def test_spectral_bands_find_the_frequency():
    n = np.arange(2048)
    low = pd.DataFrame({"v": np.sin(2 * np.pi * n / 32)})  # 1/32 cycles per row
    high = pd.DataFrame({"v": np.sin(2 * np.pi * n / 2.5)})  # 0.4 cycles per row: the top band
    fl = window_features(low, 64, stats=(), bands=4).iloc[-1]
    fh = window_features(high, 64, stats=(), bands=4).iloc[-1]
    assert int(np.argmax(fl.to_numpy())) == 0
    assert int(np.argmax(fh.to_numpy())) == 3


def test_bad_arguments_name_the_fix():
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0]})
    with pytest.raises(ValidationError, match="at least 2"):
        window_features(df, 1)
    with pytest.raises(ValidationError, match="unknown stats"):
        window_features(df, 2, stats=("median",))
    with pytest.raises(ValidationError, match="not measures"):
        window_features(df, 2, bands=2, band_columns=["w"])
    with pytest.raises(ValidationError, match="non-numeric"):
        window_features(pd.DataFrame({"v": ["a", "b"]}), 2)
