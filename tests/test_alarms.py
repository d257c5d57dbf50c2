"""Thresholds a person understands (alarm budget, labels) and events from alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsstore.anomaly import events, threshold_for_budget, threshold_from_labels
from tsstore.errors import ValidationError


def test_events_group_alarms_with_their_peak():
    s = [0.1, 0.7, 0.9, 0.2, 0.6, 0.1, 0.1, 0.6]
    ev = events(s, gap=0)
    assert ev[["start", "end", "peak_time", "points"]].values.tolist() == [
        [1, 2, 2, 2],
        [4, 4, 4, 1],
        [7, 7, 7, 1],
    ]
    ev = events(s, gap=1)
    assert ev[["start", "end", "points"]].values.tolist() == [[1, 4, 3], [7, 7, 1]]
    assert ev["peak_score"].tolist() == [0.9, 0.6]
    assert len(events(s, gap=1, min_points=2)) == 1


def test_events_with_times_and_a_duration_gap():
    t = pd.date_range("2024-01-01", periods=10, freq="1min", tz="UTC")
    s = np.array([0, 0.8, 0, 0, 0.9, 0, 0, 0, 0, 0.7])
    ev = events(s, t, gap="3min")
    assert ev["start"].tolist() == [t[1], t[9]]
    assert ev["end"].tolist() == [t[4], t[9]]
    assert ev["peak_time"].tolist() == [t[4], t[9]]
    with pytest.raises(ValidationError, match="duration"):
        events(s, gap="3min")


def test_events_name_the_measures_that_contributed_most():
    s = np.array([0.0, 0.9, 0.8, 0.0, 0.9])
    c = pd.DataFrame({"temp": [0, 5, 4, 0, 0.1], "vib": [9, 1, 1, 0, 3], "rpm": [0, 0, 3, 0, 0]})
    ev = events(s, contributions=c, top=2)
    # only alarmed rows count: vib's 9 at row 0 is not part of any event
    assert ev["measures"].tolist() == ["temp, rpm", "vib, temp"]
    with pytest.raises(ValidationError, match="rows"):
        events(s, contributions=c.iloc[:3])


def test_nan_scores_never_alarm():
    assert len(events([np.nan, np.nan, 0.2])) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=80), st.integers(0, 3))
def test_events_cover_every_alarm_exactly_once(scores, gap):
    s = np.asarray(scores)
    ev = events(s, threshold=0.5, gap=gap)
    assert ev["points"].sum() == int((s >= 0.5).sum())
    covered = np.zeros(len(s), dtype=bool)
    for a, b in zip(ev["start"], ev["end"], strict=True):
        assert not covered[a : b + 1].any()
        covered[a : b + 1] = True
        assert s[a] >= 0.5 and s[b] >= 0.5
    # between two events lie more than `gap` normal points
    starts, ends = ev["start"].to_numpy(), ev["end"].to_numpy()
    assert (starts[1:] - ends[:-1] > gap + 1).all()


def test_threshold_for_budget_pages_at_most_the_budget():
    rng = np.random.default_rng(1)
    t = pd.date_range("2024-01-01", periods=4 * 7 * 24 * 60, freq="min", tz="UTC")  # 4 weeks
    s = rng.beta(1, 30, len(t))
    thr = threshold_for_budget(s, t, alarms_per_week=2)
    n = len(events(s, t, threshold=thr))
    assert n <= 8
    # and it is the lowest such threshold among the candidates: a bit lower pages more
    assert len(events(s, t, threshold=thr - 1e-3)) > 8 or thr < 1e-3


def test_threshold_for_budget_counts_per_machine():
    t1 = pd.date_range("2024-01-01", periods=7 * 24, freq="h", tz="UTC")
    times = np.r_[t1, t1]
    series = np.r_[["a"] * len(t1), ["b"] * len(t1)]
    s = np.zeros(len(times))
    s[[10, 50, 100, 200, 250]] = [0.9, 0.8, 0.7, 0.95, 0.6]
    # two machines x one week x 1 alarm/week: two events allowed
    assert threshold_for_budget(s, times, alarms_per_week=1, series=series) == 0.9
    with pytest.raises(ValidationError, match="times"):
        threshold_for_budget(s, None, alarms_per_week=1)


def test_threshold_from_labels_maximises_f1():
    s = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.85])
    y = np.array([0, 0, 1, 1, 0, 0])
    assert threshold_from_labels(s, y) == 0.8
    with pytest.raises(ValidationError, match="no anomaly"):
        threshold_from_labels(s, np.zeros(6))


def test_a_gap_in_points_with_times_counts_rows_not_nanoseconds():
    t = pd.date_range("2024-01-01", periods=8, freq="1min", tz="UTC")
    s = np.array([0, 0.9, 0.8, 0, 0.7, 0, 0, 0.6])
    ev = events(s, t, gap=1)
    assert ev["start"].tolist() == [t[1], t[7]] and ev["points"].tolist() == [3, 1]
