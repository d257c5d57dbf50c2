"""The autoencoder detector (tsstore.anomaly.autoencoder): the multivariate Detector contract on
synthetic data (the machine of tests/test_multivariate.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from machines import SETUPS, machine
from sklearn.base import clone
from sklearn.neural_network import MLPRegressor

from tsstore.anomaly.autoencoder import AutoencoderDetector
from tsstore.errors import ValidationError


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return machine()


@pytest.fixture(scope="module")
def faulty(data) -> pd.DataFrame:
    X = data.copy()
    X.loc[2000:2099, "pressure"] += 8.0  # pressure leaves its relation with the load
    return X


@pytest.fixture(scope="module")
def fitted(faulty) -> dict[str, AutoencoderDetector]:
    """One fit per setup, on the normal rows (the fault comes later), shared by the tests."""
    return {k: AutoencoderDetector(**v).fit(faulty[:1000]) for k, v in SETUPS.items()}


def test_clone_get_set_params():
    det = AutoencoderDetector(window=20, smooth=3, hidden=(16, 4, 16), alpha=0.01, threshold=0.7)
    params = det.get_params()
    assert params["window"] == 20 and params["smooth"] == 3 and params["threshold"] == 0.7
    assert params["hidden"] == (16, 4, 16) and params["alpha"] == 0.01
    assert params["random_state"] == 0 and params["solver"] == "lbfgs"
    twin = clone(det)
    assert twin is not det and twin.get_params() == params
    assert twin.set_params(window=5, hidden=(8,)) is twin
    assert twin.window == 5 and twin.hidden == (8,) and det.window == 20


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_scores_in_unit_interval_and_training_rows_below_the_limit(setup, fitted, faulty):
    det = fitted[setup]
    s = det.score_samples(faulty)
    assert s.shape == (len(faulty),) and s.dtype == np.float64
    ok = ~np.isnan(s)
    w = SETUPS[setup].get("window", 1)
    assert ok[w - 1 :].all() and not ok[: w - 1].any()  # NaN exactly before the first window
    assert ((s[ok] >= 0.0) & (s[ok] < 1.0)).all()
    # the limit is the training 99th percentile of the reconstruction error
    assert np.nanmean(s[:1000] >= 0.5) <= 0.02
    p = det.predict(faulty)
    assert p.dtype == np.int8 and np.array_equal(
        p, (np.nan_to_num(s) >= det.threshold_).astype(np.int8)
    )


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_planted_shift_outscores_every_normal_row(setup, fitted, faulty):
    det = fitted[setup]
    s = det.score_samples(faulty)
    opts = SETUPS[setup]
    settle = opts.get("window", 1) + opts.get("smooth", 1)
    fault = s[2000 + settle : 2100]
    normal = np.r_[s[1000:2000], s[2100 + settle :]]
    assert fault.min() > np.nanmax(normal)
    assert fault.min() > 0.5 and (det.predict(faulty)[2000 + settle : 2100] == 1).all()


def test_the_model_reconstructs_its_standardised_input(fitted, faulty):
    det = fitted["window"]
    assert isinstance(det.model_, MLPRegressor)
    assert det.hidden_ == (20, 10, 20)  # (1.0, 0.5, 1.0) of 4 measures x 5 stats
    assert det.model_.early_stopping is False and 1 <= det.n_iter_ <= det.max_iter
    Z, _ = det._standardised(faulty[:1000])
    Z = Z[9:]
    err = ((Z - det.model_.predict(Z)) ** 2).sum(axis=1)
    assert det.limit_ == pytest.approx(np.quantile(err, 0.99))
    assert err.mean() < 0.5 * Z.shape[1]  # much better than predicting the mean (0 here)
    r = err / det.limit_
    np.testing.assert_allclose(det.score_samples(faulty[:1000])[9:], r / (r + 1.0))


def test_fits_are_repeatable(data):
    a = AutoencoderDetector(window=5).fit(data[:600]).score_samples(data)
    b = AutoencoderDetector(window=5).fit(data[:600]).score_samples(data)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_causal_appending_rows_does_not_change_earlier_scores(setup, fitted, data):
    det = fitted[setup]
    full = det.score_samples(data)
    for n in (1, 7, 1500):
        part = det.score_samples(data[:n])
        np.testing.assert_allclose(part, full[:n], rtol=1e-9, atol=1e-12)
    start = 2000
    piece = det.score_samples(data[start - det.lookback :])[det.lookback :]
    np.testing.assert_allclose(piece, full[start:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("window", [None, 10], ids=["raw", "window"])
def test_contributions_name_the_shifted_measure_and_sum_to_the_statistic(window, data):
    X = data.copy()
    X.loc[2000:2099, "flow"] += 3.0
    det = AutoencoderDetector(window=window).fit(X[:1000])
    c = det.contributions(X)
    assert list(c.columns) == list(X.columns) and c.index.equals(X.index)
    assert (c.iloc[20:].to_numpy() >= 0).all()
    assert (c.loc[2020:2099].idxmax(axis=1) == "flow").all()
    s = det.score_samples(X)
    np.testing.assert_allclose(c.sum(axis=1).to_numpy()[20:], (s / (1.0 - s))[20:], rtol=1e-9)


def test_hidden_sizes_relative_to_the_features(data):
    det = AutoencoderDetector(window=10, stats=("mean", "std"), hidden=(2.0, 0.25)).fit(data[:500])
    assert len(det.feature_names_) == 8 and det.hidden_ == (16, 2)
    assert AutoencoderDetector(hidden=(0.1,)).fit(data[:500]).hidden_ == (1,)


def test_not_fitted_raises(data):
    det = AutoencoderDetector()
    for call in (det.score_samples, det.predict, det.contributions):
        with pytest.raises(ValidationError, match="not fitted yet"):
            call(data)


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"window": 0}, "window=0"),
        ({"smooth": 0}, "smooth=0"),
        ({"quantile": 1.0}, "quantile"),
        ({"window": 5, "stats": ("mean", "median")}, "stats"),
        ({"hidden": ()}, "hidden"),
        ({"hidden": 8}, "hidden"),
        ({"hidden": (8, 0)}, "hidden"),
        ({"hidden": (8, -0.5)}, "hidden"),
        ({"hidden": (True,)}, "hidden"),
        ({"hidden": ("8",)}, "hidden"),
        ({"activation": "gelu"}, "activation"),
        ({"solver": "newton"}, "solver"),
        ({"alpha": -1.0}, "alpha"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"tol": 0.0}, "tol"),
    ],
)
def test_bad_parameters_raise(opts, match, data):
    with pytest.raises(ValidationError, match=match):
        AutoencoderDetector(**opts).fit(data[:200])


def test_saved_without_pickle_and_loaded(data, tmp_path):
    from tsstore.anomaly.persist import load_model, save_model, untrusted_types

    det = AutoencoderDetector(window=5, smooth=3, solver="adam", max_iter=20).fit(data[:1000])
    path = save_model(det, tmp_path / "ae.skops")
    assert untrusted_types(path) == []
    back = load_model(path)
    assert isinstance(back, AutoencoderDetector) and back.get_params() == det.get_params()
    np.testing.assert_array_equal(back.score_samples(data), det.score_samples(data))
    np.testing.assert_array_equal(back.contributions(data), det.contributions(data))
    lbfgs = AutoencoderDetector().fit(data[:1000])
    again = load_model(save_model(lbfgs, tmp_path / "lbfgs.skops"))
    np.testing.assert_array_equal(again.score_samples(data), lbfgs.score_samples(data))


def test_score_frame_scores_every_machine_and_names_the_measure(data):
    from tsstore.anomaly.detect import score_frame

    start = pd.Timestamp("2024-01-01", tz="UTC")
    parts = []
    for k, device in enumerate(("m-0", "m-1")):
        d = machine(1500, seed=k).assign(
            time=pd.date_range(start, periods=1500, freq="min"), device_id=device
        )
        if device == "m-1":
            d.loc[1200:1259, "flow"] += 3.0
        parts.append(d)
    df = pd.concat(parts, ignore_index=True)
    det = AutoencoderDetector(window=10).fit(data[:1000])
    scores, events = score_frame(df, det, client=False)
    assert list(scores.columns) == ["device_id", "time", "score", "alarm"]
    worst = scores.loc[scores.groupby("device_id")["score"].idxmax()].set_index("device_id")
    assert worst.loc["m-1", "score"] > 0.9 > worst.loc["m-0", "score"]
    ev = events[events.device_id == "m-1"]
    top = ev.loc[ev["peak_score"].idxmax()]
    assert (
        start + pd.Timedelta(1200, "min") <= top["peak_time"] <= start + pd.Timedelta(1269, "min")
    )
    assert top["measures"].split(", ")[0] == "flow"
