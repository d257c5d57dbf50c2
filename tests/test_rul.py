"""Remaining useful life (tsstore.anomaly.rul): RULRegressor on small synthetic run-to-failure
fleets (targets, cap, causality, padding, timestamps, intervals, errors, persistence), the
near-constant rule, and C-MAPSS FD001 (skipped without the data)."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import r2_score

from tsstore.anomaly import load_model, save_model
from tsstore.anomaly.rul import CMAPSS_CONFIG, RULRegressor, near_constant
from tsstore.errors import NotFoundError, ValidationError

# Small, fast models for the synthetic fleets (a fit takes about a second with calibration).
FAST = {"windows": (5, 15), "max_iter": 60, "learning_rate": 0.1, "min_samples_leaf": 10}
COLUMNS = ["unit", "cycle", "rul", "lower", "upper"]
# 16 training units living 60..199 cycles, seeded
TRAIN_LIVES = [int(v) for v in np.random.default_rng(100).integers(60, 200, size=16)]


def fleet(lives, seed: int = 0, first_unit: int = 1, noise: float = 0.03) -> pd.DataFrame:
    """Machines run to failure: ``wear`` rises as failure nears (a noisy exp(-RUL/40)),
    ``temp`` never moves, ``stuck`` sits at one reading with rare flickers to a neighbour."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, life in enumerate(lives):
        cycle = np.arange(1, life + 1)
        rul = life - cycle
        parts.append(
            pd.DataFrame(
                {
                    "unit": first_unit + k,
                    "cycle": cycle,
                    "wear": np.exp(-rul / 40.0) + noise * rng.normal(size=life),
                    "temp": 20.0,
                    "stuck": np.where(rng.random(life) < 0.02, 21.60, 21.61),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def cut(runs: pd.DataFrame, seed: int, shortest: int = 5) -> tuple[pd.DataFrame, pd.Series]:
    """Each unit observed up to a random cycle; the true RUL after it (Series by unit)."""
    rng = np.random.default_rng(seed)
    keep, truth = [], {}
    for u, g in runs.groupby("unit"):
        k = int(rng.integers(shortest, len(g) + 1))
        keep.append(g.iloc[:k])
        truth[u] = len(g) - k
    return pd.concat(keep), pd.Series(truth, name="rul")


def row_targets(runs: pd.DataFrame) -> pd.Series:
    """The run-to-failure RUL of every row (uncapped)."""
    return runs.groupby("unit")["cycle"].transform("max") - runs["cycle"]


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return fleet(TRAIN_LIVES, seed=0)


@pytest.fixture(scope="module")
def model(train) -> RULRegressor:
    return RULRegressor(**FAST, interval_folds=4).fit(train)


@pytest.fixture(scope="module")
def unseen() -> pd.DataFrame:
    """40 other machines, never seen in training."""
    lives = np.random.default_rng(200).integers(60, 200, size=40)
    return fleet(lives, seed=50, first_unit=1000)


@pytest.fixture(scope="module")
def observed(unseen) -> tuple[pd.DataFrame, pd.Series]:
    return cut(unseen, seed=7)


@pytest.fixture(scope="module")
def uncapped(train) -> RULRegressor:
    """cap=None and no interval models."""
    return RULRegressor(**FAST, cap=None, quantiles=None).fit(train)


# -- near_constant ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([21.61] * 98 + [21.60] * 2, True),  # stuck sensor with a rare flicker
        (list(np.linspace(0.0, 1.0, 100)), False),  # a ramp
        ([np.nan] * 10, True),  # nothing to go on
        ([3.0], True),  # a single value
        ([], True),
        ([5.0] * 10 + [np.nan] * 90, True),  # missing values are not a second value
        ([0.0, 1.0] * 50, False),  # two values, balanced
        ([0.0] * 95 + [1.0] * 5, False),  # ratio 19 is not *more* than 19
        ([0.0] * 96 + [1.0] * 4, True),  # ratio 24
        ([0.0] * 95 + [1.0, 2.0, 3.0, 4.0, 5.0], True),  # 6% distinct, ratio 95
        ([0.0] * 25 + [1.0, 2.0, 3.0, 4.0, 5.0], False),  # ratio 25 but 20% distinct
    ],
    ids=[
        "flicker",
        "ramp",
        "all-nan",
        "single",
        "empty",
        "one-value-and-nans",
        "balanced",
        "ratio-19",
        "ratio-24",
        "few-distinct",
        "many-distinct",
    ],
)
def test_near_constant_examples(values, expected):
    assert near_constant(pd.Series(values, dtype=np.float64)) is expected


def test_near_constant_thresholds_are_parameters():
    s = pd.Series([0.0] * 90 + [1.0] * 10)  # ratio 9, 2% distinct
    assert near_constant(s) is False
    assert near_constant(s, freq_ratio=5.0) is True
    assert near_constant(s, freq_ratio=5.0, unique_fraction=0.01) is False


# -- defaults --------------------------------------------------------------------------------


def test_defaults_are_the_cmapss_config():
    params = RULRegressor().get_params()
    for k, v in CMAPSS_CONFIG["params"].items():
        assert params[k] == v, k
    assert params["unit"] == "unit" and params["time"] == "cycle"


# -- fit and predict -------------------------------------------------------------------------


def test_fit_drops_constant_measures_and_names_features(model):
    assert model.dropped_measures_ == ["temp", "stuck"]
    assert model.measures_ == ["wear"]
    assert model.n_features_in_ == 1 and list(model.feature_names_in_) == ["wear"]
    assert model.feature_names_ == [
        "wear__mean_w5",
        "wear__slope_w5",
        "wear__mean_w15",
        "wear__slope_w15",
        "age",
    ]
    assert model.lower_model_ is not None and model.upper_model_ is not None


def test_measures_and_drop_constant_choose_the_inputs(train):
    small = {**FAST, "max_iter": 5, "quantiles": None}
    kept = RULRegressor(**small, drop_constant=False).fit(train)
    assert kept.measures_ == ["wear", "temp", "stuck"] and kept.dropped_measures_ == []
    named = RULRegressor(**small, measures=["wear", "temp"]).fit(train)
    assert named.measures_ == ["wear"] and named.dropped_measures_ == ["temp"]
    flags = RULRegressor(**small).fit(train.assign(alarm=train["wear"] > 0.5))
    assert "alarm" not in flags.measures_ + flags.dropped_measures_  # booleans are no measures


def test_predict_one_row_per_unit_with_ordered_bounds(model, observed):
    obs, _ = observed
    p = model.predict(obs)
    assert list(p.columns) == COLUMNS
    assert len(p) == obs["unit"].nunique()
    assert p["unit"].tolist() == sorted(obs["unit"].unique())
    last = obs.groupby("unit")["cycle"].max()
    assert p["cycle"].tolist() == last.loc[p["unit"]].tolist()  # the time of the last row
    for c in ("rul", "lower", "upper"):
        assert p[c].dtype == np.float64 and p[c].notna().all()
    assert (p["lower"] >= 0).all()
    assert (p["lower"] <= p["rul"]).all() and (p["rul"] <= p["upper"]).all()
    assert (p["upper"] <= 125.0).all()
    assert (p["upper"] > p["lower"]).mean() > 0.9  # a real interval, not a point


def test_predictions_beat_the_naive_predictor_on_held_out_units(model, observed):
    obs, truth = observed
    p = model.predict(obs)
    y = np.minimum(truth.loc[p["unit"]].to_numpy(np.float64), 125.0)
    err = np.sqrt(np.mean((p["rul"].to_numpy() - y) ** 2))
    naive = np.sqrt(np.mean((y - y.mean()) ** 2))  # the best constant prediction
    assert naive > 25.0  # the cuts spread the truth
    assert err < 0.25 * naive, (err, naive)
    assert err < 8.0


def test_quantiles_none_gives_nan_bounds(uncapped, observed):
    obs, _ = observed
    assert uncapped.lower_model_ is None and uncapped.upper_model_ is None
    assert np.isnan(uncapped.interval_adjust_)
    p = uncapped.predict(obs)
    assert list(p.columns) == COLUMNS
    assert p["lower"].isna().all() and p["upper"].isna().all()
    assert p["rul"].notna().all() and (p["rul"] >= 0).all()
    rows = uncapped.predict_rows(obs)
    assert rows["lower"].isna().all() and rows["upper"].isna().all()


def test_fit_is_deterministic(train, model, observed):
    obs, _ = observed
    again = RULRegressor(**FAST, interval_folds=4).fit(train)
    pd.testing.assert_frame_equal(again.predict(obs), model.predict(obs))
    assert again.interval_adjust_ == model.interval_adjust_


# -- cap -------------------------------------------------------------------------------------


def test_cap_bounds_targets_and_predictions(model, train):
    young = fleet([400], seed=9, first_unit=5).iloc[:30]  # long-lived, early in life
    p = model.predict(young)
    assert 0.9 * 125.0 <= p["rul"].iloc[0] <= 125.0
    assert p["upper"].iloc[0] <= 125.0
    rows = model.predict_rows(train)
    assert rows.to_numpy().max() <= 125.0 and rows.to_numpy().min() >= 0.0
    # early rows of long units (true RUL far above the cap) all sit near the cap
    far = row_targets(train) > 160
    assert far.any() and (rows.loc[far, "rul"] > 110.0).all()


def test_cap_none_only_clips_at_zero(uncapped, train):
    rows = uncapped.predict_rows(train)
    assert (rows["rul"] >= 0.0).all()
    truth = row_targets(train)
    assert rows["rul"].max() > 150.0  # learned the uncapped target
    young = truth > 150
    assert (rows.loc[young, "rul"] > 125.0).mean() > 0.8


def test_bad_cap_is_refused(train):
    for cap in (0, -5.0, float("nan")):
        with pytest.raises(ValidationError, match="cap"):
            RULRegressor(**FAST, cap=cap).fit(train)


# -- causality and row order -----------------------------------------------------------------


def test_predict_rows_is_what_predict_said_at_each_row(model, unseen):
    runs = unseen[unseen["unit"].isin([1000, 1001, 1002])]
    rows = model.predict_rows(runs)
    assert list(rows.columns) == ["rul", "lower", "upper"] and rows.index.equals(runs.index)
    picks = [(1000, 1), (1000, 3), (1000, 14), (1001, 16), (1001, 40), (1002, 59)]
    for unit, cycle in picks:
        # the history as it stood then: this unit up to that row, the others in full
        then = runs[~((runs["unit"] == unit) & (runs["cycle"] > cycle))]
        p = model.predict(then).set_index("unit").loc[unit]
        assert p["cycle"] == cycle
        idx = runs.index[(runs["unit"] == unit) & (runs["cycle"] == cycle)][0]
        np.testing.assert_allclose(
            rows.loc[idx, ["rul", "lower", "upper"]].to_numpy(np.float64),
            p[["rul", "lower", "upper"]].to_numpy(np.float64),
            rtol=1e-9,
            atol=1e-9,
        )
    # and the last row of each unit is predict on the whole history
    whole = model.predict(runs)
    last = runs.groupby("unit")["cycle"].idxmax()
    np.testing.assert_allclose(
        rows.loc[last.to_numpy()].to_numpy(), whole[["rul", "lower", "upper"]].to_numpy()
    )


def test_future_rows_do_not_change_the_past(model, unseen):
    runs = unseen[unseen["unit"] == 1003]
    early = runs.iloc[:25]
    np.testing.assert_allclose(
        model.predict_rows(runs).iloc[:25].to_numpy(),
        model.predict_rows(early).to_numpy(),
        rtol=1e-9,
        atol=1e-9,
    )


def test_predict_rows_keeps_index_and_order_of_shuffled_x(model, observed):
    obs, _ = observed
    ref = model.predict_rows(obs)
    shuffled = obs.sample(frac=1.0, random_state=3)
    shuffled.index = pd.Index([f"r{i}" for i in range(len(obs))][::-1])  # strings, any order
    rows = model.predict_rows(shuffled)
    assert rows.index.equals(shuffled.index)
    back = ref.reset_index(drop=True)
    # row i of the shuffled frame is row position[i] of the original
    position = obs.index.get_indexer(obs.sample(frac=1.0, random_state=3).index)
    np.testing.assert_allclose(rows.to_numpy(), back.iloc[position].to_numpy(), atol=1e-9)
    # a repeated index is fine too: rows are matched by position
    dup = obs.reset_index(drop=True).set_axis(np.zeros(len(obs), dtype=int))
    np.testing.assert_allclose(model.predict_rows(dup).to_numpy(), ref.to_numpy(), atol=1e-9)


def test_predict_does_not_depend_on_row_order(model, observed):
    obs, _ = observed
    ref = model.predict(obs)
    shuffled = obs.sample(frac=1.0, random_state=11).set_axis(np.arange(len(obs))[::-1] * 3)
    pd.testing.assert_frame_equal(model.predict(shuffled), ref)


def test_features_are_indexed_like_x_and_causal(model, observed):
    obs, _ = observed
    shuffled = obs.sample(frac=1.0, random_state=5)
    f = model.features(shuffled)
    assert f.index.equals(shuffled.index) and list(f.columns) == model.feature_names_
    np.testing.assert_allclose(f["age"].to_numpy(), shuffled["cycle"].to_numpy() - 1.0)
    np.testing.assert_allclose(f.loc[obs.index].to_numpy(), model.features(obs).to_numpy())


# -- short units -----------------------------------------------------------------------------


def test_units_shorter_than_the_windows_are_padded(model):
    short = pd.DataFrame(
        {
            "unit": [7, 8, 8, 8, 9, 9, 9, 9, 9, 9],
            "cycle": [1, 1, 2, 3, 1, 2, 3, 4, 5, 6],
            "wear": [0.1, 0.2, 0.3, 0.9, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            "temp": 20.0,
            "stuck": 21.61,
        }
    )
    p = model.predict(short)
    assert p["unit"].tolist() == [7, 8, 9] and p["cycle"].tolist() == [1, 3, 6]
    assert p[["rul", "lower", "upper"]].notna().all().all()
    assert ((p["lower"] <= p["rul"]) & (p["rul"] <= p["upper"])).all()
    assert model.predict_rows(short).notna().all().all()
    f = model.features(short)
    # a one-row history: the machine stood still before it
    assert f.loc[0, "wear__mean_w15"] == pytest.approx(0.1)
    assert f.loc[0, "wear__slope_w5"] == pytest.approx(0.0, abs=1e-12)
    assert f.loc[0, "age"] == 0.0
    # unit 8 at cycle 2: window 5 holds [0.2, 0.2, 0.2, 0.2, 0.3]
    assert f.loc[2, "wear__mean_w5"] == pytest.approx(0.22)
    # unit 9 at cycle 6: a full 5-row window of a ramp of 0.1 per row
    assert f.loc[9, "wear__mean_w5"] == pytest.approx(0.3)
    assert f.loc[9, "wear__slope_w5"] == pytest.approx(0.1)


def test_missing_readings_are_carried_forward(model, observed):
    obs, _ = observed
    holes = obs.copy()
    second = holes.groupby("unit").cumcount() == 3
    holes.loc[second, "wear"] = np.nan
    filled = holes.copy()
    filled["wear"] = filled.groupby("unit")["wear"].ffill()
    np.testing.assert_allclose(
        model.predict_rows(holes).to_numpy(), model.predict_rows(filled).to_numpy()
    )


# -- explicit targets ------------------------------------------------------------------------


def test_explicit_targets_series_and_array(train):
    params = {**FAST, "quantiles": None}
    ref = RULRegressor(**params).fit(train).predict_rows(train)
    # the same rows, shuffled, with a non-default index; y as a Series in yet another order
    X = train.sample(frac=1.0, random_state=1)
    X.index = 10_000 + np.arange(len(X))[::-1]
    y = row_targets(X).astype(np.float64)
    by_series = RULRegressor(**params).fit(X, y.sample(frac=1.0, random_state=2))
    by_array = RULRegressor(**params).fit(X, y.to_numpy())
    assert not np.array_equal(X["cycle"].to_numpy(), train["cycle"].to_numpy())
    for m in (by_series, by_array):
        got = m.predict_rows(train)
        np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-9, atol=1e-9)


def test_explicit_targets_are_capped(train):
    params = {**FAST, "quantiles": None, "cap": 30.0}
    y = np.full(len(train), 500.0)  # far above the cap: every row learns the cap
    m = RULRegressor(**params).fit(train, y)
    rows = m.predict_rows(train)
    np.testing.assert_allclose(rows["rul"].to_numpy(), 30.0)


@pytest.mark.parametrize(
    ("make_y", "match"),
    [
        (lambda X: np.ones(len(X) - 1), r"y has \d+ values for \d+ rows"),
        (lambda X: np.r_[np.nan, np.ones(len(X) - 1)], "1 missing"),
        (lambda X: np.r_[-1.0, np.ones(len(X) - 1)], "1 negative"),
        (lambda X: ["a"] * len(X), "y must be numbers"),
        (lambda X: pd.Series(1.0, index=X.index + 1), "1 missing"),  # one label not in X
    ],
    ids=["length", "nan", "negative", "text", "misaligned-series"],
)
def test_bad_targets_are_refused(train, make_y, match):
    X = train[train["unit"] <= 3]
    with pytest.raises(ValidationError, match=match):
        RULRegressor(**FAST).fit(X, make_y(X))


# -- timestamps ------------------------------------------------------------------------------


def test_timestamps_give_rul_in_hours(train, unseen):
    """Readings every 2 hours: the same model as with cycle numbers 2, 4, 6, ... in hours."""
    t0 = pd.Timestamp("2024-01-01")
    params = {**FAST, "quantiles": None, "cap": 250.0}

    def stamped(df):
        return df.assign(cycle=t0 + pd.to_timedelta(2 * df["cycle"], unit="h"))

    def doubled(df):
        return df.assign(cycle=2 * df["cycle"])

    by_time = RULRegressor(**params, time_unit="h").fit(stamped(train))
    by_number = RULRegressor(**params).fit(doubled(train))
    runs = unseen[unseen["unit"] < 1010]
    obs, truth = cut(runs, seed=4, shortest=20)
    p = by_time.predict(stamped(obs))
    assert pd.api.types.is_datetime64_any_dtype(p["cycle"])
    last = obs.groupby("unit")["cycle"].max()
    assert (p["cycle"] == t0 + pd.to_timedelta(2 * last.to_numpy(), unit="h")).all()
    np.testing.assert_allclose(p["rul"].to_numpy(), by_number.predict(doubled(obs))["rul"])
    hours = np.minimum(2.0 * truth.loc[p["unit"]].to_numpy(), 250.0)
    assert np.sqrt(np.mean((p["rul"].to_numpy() - hours) ** 2)) < 16.0  # 8 cycles of 2 h
    np.testing.assert_allclose(
        by_time.features(stamped(obs))["age"].to_numpy(), 2.0 * (obs["cycle"] - 1).to_numpy()
    )


def test_timestamp_errors(train):
    X = train[train["unit"] <= 3]
    stamped = X.assign(cycle=pd.Timestamp("2024-01-01") + pd.to_timedelta(X["cycle"], unit="h"))
    with pytest.raises(ValidationError, match=r"timestamps.*time_unit"):
        RULRegressor(**FAST).fit(stamped)
    with pytest.raises(ValidationError, match="holds numbers"):
        RULRegressor(**FAST, time_unit="h").fit(X)
    with pytest.raises(ValidationError, match="not a pandas time unit"):
        RULRegressor(**FAST, time_unit="fortnight").fit(stamped)
    with pytest.raises(ValidationError, match="cycle numbers or timestamps"):
        RULRegressor(**FAST).fit(X.assign(cycle=X["cycle"].astype(str)))


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_x", "match"),
    [
        (lambda X: X.to_numpy(), "X is a ndarray; pass a DataFrame"),
        (lambda X: X.to_dict("list"), "X is a dict"),
        (lambda X: X.drop(columns="unit"), r"lacks column\(s\) \['unit'\]"),
        (lambda X: X.drop(columns="cycle"), r"lacks column\(s\) \['cycle'\]"),
        (lambda X: X.iloc[:0], "has no rows"),
        (lambda X: pd.concat([X, X.iloc[[5]]]), r"repeated \['unit', 'cycle'\]"),
        (lambda X: X.assign(unit=X["unit"].where(X.index != 3)), r"\['unit'\] has 1 missing"),
        (lambda X: X[["unit", "cycle"]].assign(name="a"), "no numeric measure"),
        (lambda X: X.drop(columns="wear"), r"nearly\) constant"),
    ],
    ids=[
        "ndarray",
        "dict",
        "no-unit",
        "no-time",
        "empty",
        "duplicate",
        "nan-unit",
        "no-measure",
        "all-constant",
    ],
)
def test_bad_histories_are_refused(train, make_x, match):
    X = train[train["unit"] <= 3]
    with pytest.raises(ValidationError, match=match):
        RULRegressor(**FAST).fit(make_x(X))


def test_all_constant_is_fine_without_dropping(train):
    X = train[train["unit"] <= 3].drop(columns="wear")
    m = RULRegressor(**{**FAST, "max_iter": 5}, quantiles=None, drop_constant=False).fit(X)
    assert m.measures_ == ["temp", "stuck"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"windows": (1,)}, r"windows=\(1,\)"),
        ({"windows": ()}, r"windows=\(\)"),
        ({"windows": (2.5, 10)}, "at least 2"),
        ({"windows": 1}, "windows=1"),
        ({"stats": ("median",)}, r"stats=\('median',\): unknown"),
        ({"stats": ()}, "unknown or empty"),
        ({"cap": 0}, "cap=0"),
        ({"cap": -1.0}, "must be > 0"),
        ({"quantiles": (0.9, 0.1)}, r"quantiles=\(0.9, 0.1\)"),
        ({"quantiles": (0.1,)}, "0 < lower < upper < 1"),
        ({"quantiles": (0.0, 0.9)}, "0 < lower < upper < 1"),
        ({"quantiles": (0.1, 1.0)}, "0 < lower < upper < 1"),
        ({"measures": ["wear", "nope"]}, r"measures \['nope'\] are not columns"),
        ({"measures": ["wear", "label"]}, r"measures \['label'\] are not numeric"),
        ({"windows": "abc"}, "windows='abc'"),
        ({"cap": "125"}, "cap='125'"),
        ({"interval_folds": "x"}, "interval_folds='x'"),
        ({"interval_folds": -1}, "number of folds >= 2"),
    ],
    ids=[
        "window-1",
        "no-window",
        "fractional-window",
        "scalar-window-1",
        "unknown-stat",
        "no-stat",
        "cap-0",
        "cap-negative",
        "quantiles-reversed",
        "one-quantile",
        "quantile-0",
        "quantile-1",
        "unknown-measure",
        "text-measure",
        "text-window",
        "text-cap",
        "text-folds",
        "negative-folds",
    ],
)
def test_bad_parameters_are_refused(train, params, match):
    X = train[train["unit"] <= 3].assign(label="x")
    with pytest.raises(ValidationError, match=match):
        RULRegressor(**{**FAST, **params}).fit(X)


def test_scalar_window_and_stat_are_accepted(train):
    X = train[train["unit"] <= 4]
    m = RULRegressor(windows=4, stats="mean", max_iter=5, quantiles=None).fit(X)
    assert m.feature_names_ == ["wear__mean_w4", "age"]


def test_predict_before_fit_is_refused(observed):
    obs, _ = observed
    for call in ("predict", "predict_rows", "features"):
        with pytest.raises(ValidationError, match="not fitted yet"):
            getattr(RULRegressor(), call)(obs)


def test_predict_needs_the_fitted_measures(model, observed):
    obs, _ = observed
    with pytest.raises(ValidationError, match=r"lacks the measure\(s\) \['wear'\]"):
        model.predict(obs.drop(columns="wear"))
    with pytest.raises(ValidationError, match=r"lacks the measure\(s\) \['wear'\]"):
        model.predict_rows(obs.drop(columns="wear"))
    with pytest.raises(ValidationError, match="X is a list"):
        model.predict([1, 2, 3])
    # constant measures dropped at fit are not needed
    p = model.predict(obs.drop(columns=["temp", "stuck"]))
    pd.testing.assert_frame_equal(p, model.predict(obs))


# -- a single machine ------------------------------------------------------------------------


def test_unit_none_is_one_machine(train):
    one = train[train["unit"] == TRAIN_LIVES.index(max(TRAIN_LIVES)) + 1].drop(columns="unit")
    m = RULRegressor(unit=None, windows=(5,), max_iter=60, min_samples_leaf=5).fit(one)
    assert m.interval_adjust_ == 0.0  # one unit: fewer than interval_folds, no calibration
    p = m.predict(one.iloc[: len(one) // 2])
    assert list(p.columns) == ["cycle", "rul", "lower", "upper"] and len(p) == 1
    assert p["cycle"].iloc[0] == len(one) // 2
    with pytest.raises(ValidationError, match="repeated"):
        m.predict(pd.concat([one.iloc[:3], one.iloc[:1]]))


# -- scikit-learn ----------------------------------------------------------------------------


def test_clone_get_set_params(model):
    params = model.get_params()
    assert params["windows"] == (5, 15) and params["interval_folds"] == 4
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    assert not hasattr(twin, "model_")  # a clone is unfitted
    assert twin.set_params(windows=(3,), cap=50.0) is twin
    assert twin.windows == (3,) and twin.cap == 50.0 and model.windows == (5, 15)
    assert RULRegressor(**twin.get_params()).get_params() == twin.get_params()


def test_score_is_r2_of_the_capped_truth(model, observed):
    obs, truth = observed
    p = model.predict(obs)
    y = np.minimum(truth.loc[p["unit"]].to_numpy(np.float64), 125.0)
    expected = r2_score(y, p["rul"].to_numpy())
    by_unit = truth.sample(frac=1.0, random_state=0)  # a Series indexed by unit, any order
    assert model.score(obs, by_unit) == pytest.approx(expected, rel=1e-12)
    in_order = truth.loc[p["unit"]].to_numpy()  # values in predict's order
    assert model.score(obs, in_order) == pytest.approx(expected, rel=1e-12)
    assert expected > 0.9
    with pytest.raises(ValidationError, match="true RUL of each"):
        model.score(obs, in_order[:-1])
    with pytest.raises(ValidationError, match="true RUL of each"):
        model.score(obs, truth.drop(truth.index[0]))  # a unit without its truth


# -- interval calibration --------------------------------------------------------------------


def test_interval_adjust_without_calibration(train, model):
    raw = RULRegressor(**FAST, interval_folds=None).fit(train)
    assert raw.interval_adjust_ == 0.0
    assert RULRegressor(**FAST, interval_folds=0).fit(train.iloc[:200]).interval_adjust_ == 0.0
    few = train[train["unit"] <= 3]  # 3 units for 4 folds: skipped
    assert RULRegressor(**FAST, interval_folds=4).fit(few).interval_adjust_ == 0.0
    assert np.isfinite(model.interval_adjust_) and model.interval_adjust_ != 0.0
    # the calibrated bounds are the raw ones moved by interval_adjust_ (then clipped)
    X = train[train["unit"] <= 4]
    a, b = model.predict_rows(X), raw.predict_rows(X)
    np.testing.assert_allclose(a["rul"], b["rul"])
    adj = model.interval_adjust_
    lo = np.minimum(np.clip(raw.lower_model_.predict(raw.features(X)) - adj, 0, 125), a["rul"])
    up = np.maximum(np.clip(raw.upper_model_.predict(raw.features(X)) + adj, 0, 125), a["rul"])
    np.testing.assert_allclose(a["lower"], lo)
    np.testing.assert_allclose(a["upper"], up)


def test_calibrated_interval_covers_the_nominal_level(model, unseen):
    """Every row of 40 unseen machines, each machine weighted equally: about 80% covered
    (measured 0.83 here, 0.82-0.87 over eight seeds of this set-up)."""
    rows = model.predict_rows(unseen)
    y = np.minimum(row_targets(unseen), 125.0)
    inside = ((rows["lower"] <= y) & (y <= rows["upper"])).astype(float)
    weight = 1.0 / unseen.groupby("unit")["cycle"].transform("size")
    coverage = float((inside * weight).sum() / weight.sum())
    assert 0.72 <= coverage <= 0.97, coverage
    width = (rows["upper"] - rows["lower"]).mean()
    assert width < 0.5 * 125.0  # not covered by being uselessly wide


# -- persistence -----------------------------------------------------------------------------


def test_save_and_load_round_trip(model, uncapped, observed, tmp_path):
    obs, _ = observed
    for name, m in (("calibrated", model), ("no-interval", uncapped)):
        path = save_model(m, tmp_path / f"{name}.skops")
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                assert not z.read(n).startswith(b"\x80"), f"{n} looks like a pickle"
        back = load_model(path)
        assert type(back) is RULRegressor and back.get_params() == m.get_params()
        assert back.measures_ == m.measures_ and back.dropped_measures_ == m.dropped_measures_
        assert back.feature_names_ == m.feature_names_
        np.testing.assert_equal(back.interval_adjust_, m.interval_adjust_)
        pd.testing.assert_frame_equal(back.predict(obs), m.predict(obs))
        pd.testing.assert_frame_equal(back.predict_rows(obs), m.predict_rows(obs))


# -- C-MAPSS FD001 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cmapss():
    from tsstore.datasets import load_cmapss

    try:
        return load_cmapss()
    except NotFoundError as e:  # the data are not part of the repository
        pytest.skip(f"C-MAPSS not available: {e}")


@pytest.mark.slow
def test_cmapss_fd001_with_the_defaults(cmapss):
    """The full default fit (about 17 s): measured RMSE 11.07, interval coverage 0.76."""
    from tsstore.anomaly.evaluate import RUL_CAP, rmse

    model = RULRegressor().fit(cmapss.train)
    assert model.dropped_measures_ == [
        "setting_3",
        "s_1",
        "s_5",
        "s_6",
        "s_10",
        "s_16",
        "s_18",
        "s_19",
    ]
    p = model.predict(cmapss.test)
    assert len(p) == 100 and p["unit"].tolist() == sorted(cmapss.test_rul.index)
    truth = np.minimum(cmapss.test_rul.loc[p["unit"]].to_numpy(np.float64), RUL_CAP)
    assert rmse(truth, p["rul"].to_numpy()) <= 13.0
    coverage = float(np.mean((p["lower"] <= truth) & (truth <= p["upper"])))
    assert coverage >= 0.6
    assert ((p["lower"] <= p["rul"]) & (p["rul"] <= p["upper"]) & (p["upper"] <= 125)).all()
    assert model.score(cmapss.test, cmapss.test_rul) > 0.85
