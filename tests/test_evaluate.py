"""The benchmark scorers: NAB (hand-computed cases, real labels, the threshold sweep), SKAB and
C-MAPSS metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsstore.anomaly.evaluate import (
    NAB_PROFILES,
    SKAB_SENSORS,
    NABProfile,
    cmapss_score,
    nab_evaluate,
    nab_optimise,
    nab_probation_length,
    nab_score,
    nab_windows_to_index,
    rmse,
    scaled_sigmoid,
    skab_evaluate,
    skab_metrics,
)
from tsstore.datasets import SKABFile, default_root, load_nab, load_skab
from tsstore.errors import NotFoundError, ValidationError

try:
    ROOT = default_root()
except NotFoundError:  # pragma: no cover - depends on the machine
    ROOT = None

needs_data = pytest.mark.skipif(ROOT is None, reason="shared/datasets is not available here")

STD = NAB_PROFILES["standard"]


def sigma(y: float) -> float:
    """The scaled sigmoid written another way: 2/(1+e^(5y)) - 1 = -tanh(5y/2)."""
    return -math.tanh(2.5 * y)


def one_file(n: int, hits: list[int], windows: list[tuple[int, int]], profile="standard"):
    d = np.zeros(n, dtype=bool)
    d[hits] = True
    return nab_score({"f": d}, {"f": windows}, profile, probation_percent=0.0)


# -- NAB: the definitions, by hand ---------------------------------------------------------


def test_profiles_are_nabs():
    assert NAB_PROFILES["standard"] == NABProfile(1.0, 0.11, 1.0, 1.0, "standard")
    p = NAB_PROFILES["reward_low_FP_rate"]
    assert (p.tp, p.fp, p.tn, p.fn) == (1.0, 0.22, 1.0, 1.0)
    p = NAB_PROFILES["reward_low_FN_rate"]
    assert (p.tp, p.fp, p.tn, p.fn) == (1.0, 0.11, 1.0, 2.0)


def test_scaled_sigmoid():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.01) == -1.0
    y = np.linspace(-1, 3, 9)
    np.testing.assert_allclose(scaled_sigmoid(y), [sigma(v) for v in y])


def test_probation_length():
    assert nab_probation_length(100) == 15
    assert nab_probation_length(4032) == 604  # floor(604.8)
    assert nab_probation_length(10_000) == 750  # capped at 0.15 * 5000
    with pytest.raises(ValidationError, match="probation_percent"):
        nab_probation_length(100, 1.5)


def test_detection_inside_a_window():
    # window rows 5..9 (w = 5), detection at row 7: y = -(9 - 7 + 1) / 5 = -0.6
    r = one_file(20, [7], [(5, 9)])
    assert r.raw == pytest.approx(sigma(-0.6) / sigma(-1.0))
    assert (r.tp, r.fn, r.fp) == (1, 0, 0)


def test_detection_at_the_window_start_earns_a_tp_and_at_the_end_little():
    assert one_file(20, [5], [(5, 9)]).raw == pytest.approx(1.0)
    assert one_file(20, [9], [(5, 9)]).raw == pytest.approx(sigma(-0.2) / sigma(-1.0))
    assert one_file(20, [5], [(5, 9)], "reward_low_FN_rate").raw == pytest.approx(1.0)


def test_only_the_earliest_detection_of_a_window_counts():
    r = one_file(20, [6, 8, 9], [(5, 9)])
    assert r.raw == pytest.approx(sigma(-(9 - 6 + 1) / 5) / sigma(-1.0))
    assert (r.tp, r.fp) == (1, 0)


def test_missed_window_costs_a_fn():
    assert one_file(20, [], [(5, 9)]).raw == -1.0
    assert one_file(20, [], [(5, 9)], "reward_low_FN_rate").raw == -2.0
    assert one_file(30, [], [(5, 9), (20, 22)]).fn == 2


def test_false_positive_before_any_window_costs_a_fp():
    r = one_file(20, [2, 5], [(5, 9)])
    assert r.raw == pytest.approx(1.0 - 0.11)
    assert one_file(20, [2, 5], [(5, 9)], "reward_low_FP_rate").raw == pytest.approx(1.0 - 0.22)
    assert one_file(20, [3], []).raw == pytest.approx(-0.11)


def test_false_positive_after_a_window_costs_less_near_it():
    # after window 5..9 (w = 5): y = (i - 9) / (w - 1)
    near = one_file(40, [5, 10], [(5, 9)]).raw - 1.0
    far = one_file(40, [5, 30], [(5, 9)]).raw - 1.0
    assert near == pytest.approx(0.11 * sigma(1 / 4))
    assert far == pytest.approx(0.11 * sigma(21 / 4)) and far == pytest.approx(-0.11)
    assert -0.11 < near < 0
    # the nearest preceding window counts, not the first one
    r = one_file(60, [5, 20, 26], [(5, 9), (20, 24)])
    assert r.raw == pytest.approx(2.0 + 0.11 * sigma(2 / 4))


def test_probation_rows_are_not_scored():
    # 100 rows: rows 0..14 are probationary
    d = np.zeros(100, dtype=bool)
    d[[3, 50]] = True
    r = nab_score({"f": d}, {"f": [(50, 59)]})
    assert r.raw == pytest.approx(1.0) and r.fp == 0
    # a window inside the probation is not scored at all
    r = nab_score({"f": np.zeros(100, bool)}, {"f": [(2, 8), (50, 59)]})
    assert (r.fn, r.null, r.perfect) == (1, -1.0, 1.0)


def test_normalisation_null_zero_perfect_hundred():
    w = {"a": [(5, 9)], "b": [(3, 4), (10, 19)], "c": []}
    lengths = {"a": 30, "b": 40, "c": 10}
    null = {k: np.zeros(n, bool) for k, n in lengths.items()}
    perfect = {k: np.isin(np.arange(n), [s for s, _ in w[k]]) for k, n in lengths.items()}
    for name in NAB_PROFILES:
        assert nab_score(null, w, name, probation_percent=0).normalised == 0.0
        r = nab_score(perfect, w, name, probation_percent=0)
        assert r.normalised == pytest.approx(100.0) and r.tp == 3
        assert r.perfect == 3.0 and r.null == -3.0 * NAB_PROFILES[name].fn


def test_nab_score_rejects_bad_input():
    with pytest.raises(ValidationError, match="no windows"):
        nab_score({"f": np.zeros(5, bool)}, {})
    with pytest.raises(ValidationError, match="inside the file"):
        nab_score({"f": np.zeros(5, bool)}, {"f": [(3, 7)]})
    with pytest.raises(ValidationError, match="overlap"):
        nab_score({"f": np.zeros(20, bool)}, {"f": [(3, 7), (6, 9)]})
    with pytest.raises(ValidationError, match="booleans"):
        nab_score({"f": np.full(5, 0.5)}, {"f": []})
    with pytest.raises(ValidationError, match="profile"):
        nab_score({"f": np.zeros(5, bool)}, {"f": []}, "strict")
    with pytest.raises(ValidationError, match="infinities"):
        nab_optimise({"f": np.array([0.1, np.inf])}, {"f": []})


def test_windows_to_index():
    t = pd.Series(pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC"))
    got = nab_windows_to_index(t, [(t[2], t[4]), ("2024-01-01 06:30", "2024-01-01 08:00")])
    assert got == [(2, 4), (7, 8)]
    with pytest.raises(ValidationError, match="no row"):
        nab_windows_to_index(t, [("2024-01-01 04:10", "2024-01-01 04:20")])
    with pytest.raises(ValidationError, match="ends before"):
        nab_windows_to_index(t, [(t[4], t[2])])


# -- NAB: the threshold sweep equals brute force --------------------------------------------


@st.composite
def corpora(draw):
    files = {}
    windows = {}
    for k in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 60))
        levels = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0, math.nan])
        files[f"f{k}"] = np.array(draw(st.lists(levels, min_size=n, max_size=n)))
        cuts = sorted(draw(st.sets(st.integers(0, n - 1), max_size=6)))
        pairs = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
        windows[f"f{k}"] = pairs
    pp = draw(st.sampled_from([0.0, 0.15, 0.3]))
    profile = draw(st.sampled_from([*NAB_PROFILES.values(), NABProfile(2.0, 0.5, 1.0, 0.3)]))
    return files, windows, pp, profile


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
def test_optimised_threshold_matches_brute_force(case):
    scores, windows, pp, profile = case
    got = nab_optimise(scores, windows, profile, probation_percent=pp)
    values = np.concatenate(list(scores.values()))
    candidates = [math.inf, *np.unique(values[~np.isnan(values)])]
    brute = {
        t: nab_score(
            {k: np.nan_to_num(v, nan=-1.0) >= t for k, v in scores.items()},
            windows,
            profile,
            probation_percent=pp,
        ).raw
        for t in candidates
    }
    best = max(brute.values())
    assert got.raw == pytest.approx(best, abs=1e-9)
    assert brute[got.threshold] == pytest.approx(best, abs=1e-9)


# -- NAB on the real labels -----------------------------------------------------------------


@pytest.fixture(scope="module")
def nab():
    return load_nab(ROOT)


@pytest.fixture(scope="module")
def nab_windows(nab):
    return {k: nab_windows_to_index(s.data["time"], s.windows) for k, s in nab.items()}


@needs_data
def test_real_null_and_perfect_detectors(nab, nab_windows):
    null = {k: np.zeros(len(s.data), bool) for k, s in nab.items()}
    perfect = {}
    for k, s in nab.items():
        d = np.zeros(len(s.data), bool)
        d[[start for start, _ in nab_windows[k]]] = True
        perfect[k] = d
    for name in NAB_PROFILES:
        r0 = nab_score(null, nab_windows, name)
        assert r0.normalised == 0.0 and r0.fn == 116
        r1 = nab_score(perfect, nab_windows, name)
        assert r1.normalised >= 99.0 and (r1.tp, r1.fp, r1.fn) == (116, 0, 0)
        assert r1.perfect == 116.0


@needs_data
def test_real_random_detector_scores_low(nab, nab_windows):
    rng = np.random.default_rng(0)
    scores = {k: rng.random(len(s.data)) for k, s in nab.items()}
    res = nab_evaluate(scores, nab)
    assert set(res) == set(NAB_PROFILES)
    for r in res.values():
        assert -1e-9 <= r.normalised < 30.0  # optimising never does worse than detecting nothing
        assert r.threshold is not None
    fixed = {k: rng.random(len(s.data)) < 0.01 for k, s in nab.items()}
    assert nab_score(fixed, nab_windows).normalised < 0


@needs_data
def test_nab_evaluate_checks_lengths_and_names(nab):
    name = "realKnownCause/nyc_taxi.csv"
    with pytest.raises(ValidationError, match="one score per row"):
        nab_evaluate({name: np.zeros(3)}, nab)
    with pytest.raises(ValidationError, match="no NAB series"):
        nab_evaluate({"nyc_taxi.csv": np.zeros(3)}, nab)


# -- SKAB ------------------------------------------------------------------------------------


def test_skab_metrics_by_hand():
    m = skab_metrics([0, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 1])
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 2, 1)
    assert m.f1 == pytest.approx(2 / (2 + (1 + 1) / 2))  # SKAB's TP / (TP + (FN + FP) / 2)
    assert m.far == pytest.approx(1 / 3) and m.mar == pytest.approx(1 / 3)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert math.isnan(skab_metrics([0, 0], [0, 0]).f1)
    with pytest.raises(ValidationError, match="one prediction per row"):
        skab_metrics([0, 1], [0])
    with pytest.raises(ValidationError, match="NaN"):
        skab_metrics([0, 1], [0, np.nan])
    with pytest.raises(ValidationError, match="0/1"):
        skab_metrics([0, 2], [0, 1])


def _skab_file(name: str, n: int, anomalous_from: int) -> SKABFile:
    data = pd.DataFrame({"time": pd.date_range("2020-01-01", periods=n, freq="s", tz="UTC")})
    for c in SKAB_SENSORS:
        data[c] = 0.0
    data.loc[anomalous_from:, "Current"] = 5.0
    data["anomaly"] = (np.arange(n) >= anomalous_from).astype(np.int64)
    data["changepoint"] = 0
    return SKABFile(name, data)


def test_skab_evaluate_protocol():
    files = [_skab_file("a.csv", 500, 450), _skab_file("b.csv", 600, 420)]
    seen = []

    def predict(train, test):
        seen.append((len(train), len(test), "anomaly" in test.columns))
        return (test["Current"] > train["Current"].max()).to_numpy()

    m = skab_evaluate(predict, files)
    assert seen == [(400, 500, False), (400, 600, False)]
    assert (m.f1, m.far, m.mar, m.tn) == (1.0, 0.0, 0.0, 450 + 420)
    seen.clear()
    m = skab_evaluate(predict, files, score_train_rows=False)
    assert seen == [(400, 100, False), (400, 200, False)] and m.tn == 50 + 20
    with pytest.raises(ValidationError, match="one label per"):
        skab_evaluate(lambda train, test: np.zeros(3), files)


@needs_data
def test_skab_evaluate_on_the_real_files():
    files = load_skab(ROOT)

    def predict(train, test):  # a 3-sigma rule on every sensor
        mu, sd = train[list(SKAB_SENSORS)].mean(), train[list(SKAB_SENSORS)].std() + 1e-9
        return ((test[list(SKAB_SENSORS)] - mu).abs() > 3 * sd).any(axis=1).to_numpy()

    m = skab_evaluate(predict, files)
    assert m.tp + m.fp + m.tn + m.fn == 37_401
    assert 0 < m.f1 < 1 and 0 <= m.far <= 1 and 0 <= m.mar <= 1


# -- C-MAPSS ---------------------------------------------------------------------------------


def test_rmse_and_phm08_score():
    assert rmse([10, 20, 30], [10, 20, 30]) == 0.0
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    # early by 13 cycles: e^1 - 1; late by 10: e^1 - 1; late is penalised harder per cycle
    assert cmapss_score([50, 50], [37, 60]) == pytest.approx(2 * (math.e - 1))
    assert cmapss_score([50], [60]) > cmapss_score([50], [40])
    assert cmapss_score([1, 2], [1, 2]) == 0.0
    with pytest.raises(ValidationError, match="one prediction per engine"):
        rmse([1, 2], [1])
    with pytest.raises(ValidationError, match="finite"):
        cmapss_score([1.0], [np.nan])
