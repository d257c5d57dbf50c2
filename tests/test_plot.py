"""Charts (tsstore.plot): hvplot objects from query-shaped frames, JavaScript inline."""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import pytest

from tsstore.errors import ValidationError
from tsstore.plot import KINDS, chart, offline, time_column


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=6, freq="1min", tz="UTC"),
            "device": ["a", "a", "a", "b", "b", "b"],
            "temperature": [20.0, 21.0, 22.0, 30.0, 31.0, 32.0],
            "pressure": [1.0, 1.1, 1.2, 2.0, 2.1, 2.2],
        }
    )


def test_offline_embeds_javascript():
    offline()
    assert hv.extension.inline is True


def test_one_measure_is_one_curve_per_series(frame):
    c = chart(frame, y="temperature")
    assert isinstance(c, hv.NdOverlay) and list(c.keys()) == ["a", "b"]
    curve = c["a"]
    assert curve.kdims[0].name == "time" and curve.vdims[0].name == "temperature"
    assert curve.dimension_values("temperature").tolist() == [20.0, 21.0, 22.0]
    fig = hv.render(c, backend="bokeh")  # renders to a bokeh figure
    assert type(fig).__name__ == "figure"


def test_defaults_and_other_kinds(frame):
    both = chart(frame[["time", "temperature", "pressure"]])  # every numeric column
    assert list(both.keys()) == ["temperature", "pressure"]  # one curve per measure
    heat = chart(frame, "heatmap", y="temperature", by="device")
    assert isinstance(heat, hv.HeatMap)
    assert isinstance(chart(frame, "table"), hv.Table)
    assert isinstance(chart(frame, "bar", x="device", y="temperature", by=[]), hv.Bars)
    assert set(KINDS) >= {"line", "scatter", "bar", "heatmap"}
    assert time_column(frame.rename(columns={"time": "ts"})) == "ts"


def test_bad_requests_name_the_fix(frame):
    with pytest.raises(ValidationError, match="unknown chart kind 'pie'"):
        chart(frame, "pie")
    with pytest.raises(ValidationError, match="'nope'"):
        chart(frame, x="nope")
    with pytest.raises(ValidationError, match=r"y columns \['wat'\]"):
        chart(frame, y="wat")
    with pytest.raises(ValidationError, match="no numeric column"):
        chart(frame[["time", "device"]])
    with pytest.raises(ValidationError, match="heatmap needs one series column"):
        chart(frame[["time", "temperature"]], "heatmap")
