"""Scoring a fleet stored in a table: scores and events written back, incremental runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tsstore
from tsstore.anomaly import ForecastResidual, NoveltyDetector, RollingZScore
from tsstore.anomaly.detect import detect, score_frame
from tsstore.errors import ValidationError

START = pd.Timestamp("2026-11-01", tz="UTC")
SPIKES = {"m-0": 3000, "m-1": 3500, "m-2": 4000}


def _fleet(n: int = 5000, start: pd.Timestamp = START) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    frames = []
    for i, device in enumerate(["m-0", "m-1", "m-2"]):
        temp = 20 + np.sin(np.arange(n) / 200) + rng.normal(0, 0.1, n)
        vib = 1 + rng.normal(0, 0.05, n)
        if SPIKES[device] < n:
            temp[SPIKES[device]] += 5.0
        frames.append(
            pd.DataFrame(
                {
                    "time": t,
                    "device_id": device,
                    "factory": f"f-{i % 2}",
                    "temperature": temp,
                    "vibration": vib,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def store(tmp_path):
    s = tsstore.connect(tmp_path / "store", lifecycle_interval=None)
    t = s.create_database("plant").create_table("machines", memory_retention="8766h")
    t.write(_fleet(), dimensions=["device_id", "factory"])
    yield s
    s.close()


def test_detect_writes_scores_and_events_queryable_with_sql(store):
    table = store.table("plant.machines")
    r = detect(table, RollingZScore(window=60, threshold=0.7), gap=2)
    assert r.scores_table == "plant.machines_anomalies"
    assert r.events_table == "plant.machines_anomaly_events"
    assert r.series == 3 and r.points == 15000
    assert r.last_time == START + pd.Timedelta(4999, "min")
    got = store.query(
        "SELECT device_id, factory, count(*) AS n, max_by(time, score) AS worst, max(score) AS s "
        "FROM plant.machines_anomalies GROUP BY 1, 2 ORDER BY 1"
    )
    assert got["device_id"].tolist() == ["m-0", "m-1", "m-2"]
    assert got["factory"].tolist() == ["f-0", "f-1", "f-0"]
    for device, i in SPIKES.items():
        row = got[got.device_id == device].iloc[0]
        assert row["worst"] == START + pd.Timedelta(i, "min")
        assert row["s"] > 0.7
    ev = store.query(
        'SELECT device_id, time, "end", peak_score, points, measures '
        "FROM plant.machines_anomaly_events ORDER BY peak_score DESC LIMIT 3"
    )
    assert sorted(ev["device_id"]) == ["m-0", "m-1", "m-2"]
    assert set(ev["measures"]) == {"temperature"}  # vibration stayed normal
    for _, e in ev.iterrows():
        assert e["time"] == START + pd.Timedelta(SPIKES[e["device_id"]], "min")
    # the table's own measures are described, and the Monitor's contract holds
    desc = store.table("plant.machines_anomalies").describe()
    assert desc["dimensions"] == ["device_id", "factory"]
    assert {"score", "score_temperature", "score_vibration", "alarm"} <= set(desc["measures"])


@pytest.mark.parametrize(
    "model",
    [ForecastResidual(window=60), NoveltyDetector(history=1000, period="12h")],
    ids=["forecast", "novelty"],
)
def test_incremental_runs_score_only_new_points_and_equal_a_full_run(store, model):
    table = store.table("plant.machines")
    first = detect(table, model)
    more = _fleet(300, start=START + pd.Timedelta(5000, "min"))
    table.write(more, dimensions=["device_id", "factory"])
    second = detect(table, model, since=first.last_time)
    assert second.points == 900
    assert second.scores["time"].min() > first.last_time
    full = detect(table, model, write=False)
    want = full.scores[full.scores["time"] > first.last_time]
    key = ["device_id", "time"]
    a = want.sort_values(key).reset_index(drop=True)
    b = second.scores.sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-6, atol=1e-9)
    n = store.query("SELECT count(*) AS n FROM plant.machines_anomalies")["n"].iloc[0]
    assert n == first.points + second.points - first.scores["score"].isna().sum()
    # nothing new: nothing scored, nothing written
    third = detect(table, model, since=second.last_time)
    assert third.points == 0 and third.scores_table is None


def test_rerun_over_the_same_points_replaces_their_scores(store):
    table = store.table("plant.machines")
    detect(table, RollingZScore(window=60))
    detect(table, RollingZScore(window=30))
    got = store.query("SELECT count(*) AS n FROM plant.machines_anomalies")["n"].iloc[0]
    want = detect(table, RollingZScore(window=30), write=False).scores["score"].notna().sum()
    assert got == want


def test_where_and_time_range_limit_the_series_and_points(store):
    table = store.table("plant.machines")
    r = detect(
        table,
        RollingZScore(window=30),
        where={"device_id": ["m-1"]},
        time_range=(START, START + pd.Timedelta(1000, "min")),
        measures=["temperature"],
        write=False,
    )
    assert set(r.scores["device_id"]) == {"m-1"} and r.points == 1000
    assert "score_temperature" not in r.scores.columns


def test_detect_by_name_needs_the_store(store):
    with pytest.raises(ValidationError, match="store="):
        detect("plant.machines", RollingZScore())
    r = detect("plant.machines", RollingZScore(), store=store, write=False)
    assert r.points == 15000


def test_score_frame_works_without_a_store():
    df = _fleet(3600)
    scores, ev = score_frame(df, RollingZScore(window=60, threshold=0.7), measures=["temperature"])
    assert list(scores.columns) == ["device_id", "factory", "time", "score", "alarm"]
    assert len(scores) == 3 * 3600
    worst = scores.loc[scores.groupby("device_id")["score"].idxmax()]
    assert worst["time"].tolist()[:2] == [
        START + pd.Timedelta(SPIKES[d], "min") for d in ("m-0", "m-1")
    ]
    assert (ev["peak_score"] >= 0.7).all()
    assert (scores["alarm"] == (scores["score"] >= 0.7)).all()
    with pytest.raises(ValidationError, match="'time'"):
        score_frame(df.rename(columns={"time": "ts"}), RollingZScore())


def test_the_monitor_shows_the_scores_detect_wrote(tmp_path):
    from tsstore.widgets import Monitor

    now = START + pd.Timedelta(5000, "min")
    with tsstore.connect(tmp_path / "s", lifecycle_interval=None, clock=lambda: now) as store:
        t = store.create_database("plant").create_table("machines", memory_retention="8766h")
        t.write(_fleet(), dimensions=["device_id", "factory"])
        m = Monitor(t, "temperature", window="30m", autostart=False, store=store)
        assert m.scores is None
        r = detect(t, RollingZScore(window=60), store=store)
        m.refresh()
        latest = r.scores.sort_values("time").groupby("device_id").tail(1)
        want = dict(zip(latest["device_id"], latest["score"], strict=True))
        assert m.scores == pytest.approx(want)
        m.close()


def test_a_fitted_multivariate_detector_scores_every_machine_and_names_the_measure(store):
    from tsstore.anomaly import PCADetector

    table = store.table("plant.machines")
    normal = table.read((START, START + pd.Timedelta(1000, "min")), where={"device_id": "m-0"})
    model = PCADetector().fit(normal[["temperature", "vibration"]])
    r = detect(table, model, measures=["temperature", "vibration"], write=False)
    assert r.series == 3 and "score_temperature" not in r.scores.columns
    for device, i in SPIKES.items():
        ev = r.events[r.events.device_id == device]
        top = ev.loc[ev["peak_score"].idxmax()]
        assert top["peak_time"] == START + pd.Timedelta(i, "min")
        assert top["measures"].split(", ")[0] == "temperature"


@pytest.mark.parametrize(
    "model",
    [RollingZScore(window=2000), "pca"],
    ids=["zscore", "fitted-pca"],
)
def test_an_event_open_at_the_last_run_is_carried_on_not_duplicated(tmp_path, model):
    # m-1 runs hot from minute 4700 to 5200: the event is open when the first run ends at
    # minute 4999 and goes on in the points written after it
    s = tsstore.connect(tmp_path / "store", lifecycle_interval=None)
    table = s.create_database("plant").create_table("machines", memory_retention="8766h")
    data = _fleet(5400)
    hot = (data.device_id == "m-1") & data.time.between(
        START + pd.Timedelta(4700, "min"), START + pd.Timedelta(5199, "min")
    )
    data.loc[hot, "vibration"] += 0.6 * np.sign(np.sin(np.arange(hot.sum())))
    if model == "pca":
        from tsstore.anomaly import PCADetector

        normal = data[data.device_id == "m-0"].iloc[:1000]
        model = PCADetector().fit(normal[["temperature", "vibration"]])
    cut = START + pd.Timedelta(5000, "min")
    dims = ["device_id", "factory"]
    table.write(data[data.time < cut], dimensions=dims)
    first = detect(table, model, gap=5, measures=["temperature", "vibration"])
    table.write(data[data.time >= cut], dimensions=dims)
    detect(table, model, gap=5, measures=["temperature", "vibration"], since=first.last_time)
    stored = s.query(
        'SELECT device_id, time AS start, "end", peak_score, points '
        "FROM plant.machines_anomaly_events ORDER BY device_id, start"
    )
    full = detect(table, model, gap=5, measures=["temperature", "vibration"], write=False)
    want = full.events[["device_id", "start", "end", "peak_score", "points"]]
    want = want.sort_values(["device_id", "start"]).reset_index(drop=True)
    hot_events = want[(want.device_id == "m-1") & (want.points > 100)]
    assert len(hot_events) == 1  # the fault is one long event in a full run
    assert hot_events["start"].iloc[0] <= START + pd.Timedelta(4710, "min")
    assert hot_events["end"].iloc[0] >= cut
    pd.testing.assert_frame_equal(stored, want, check_dtype=False, atol=1e-9)
    s.close()
