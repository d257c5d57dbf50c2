"""Charts of query results and time series with hvplot, rendered without internet.

hvplot and bokeh load their JavaScript from a CDN by default, and panel (which hvplot uses)
its stylesheets; a notebook on a machine without internet would show empty or unstyled cells.
:func:`offline` makes HoloViews embed the JavaScript in the notebook instead
(``hv.extension.inline = True`` before hvplot's extension loads) and panel inline its CSS
(``panel.config.inline = True``); every chart made here goes through it. The browser test
(``tests/integration/test_browser.py``) refuses every request that is not to 127.0.0.1 and
checks that none was made.

Needs the ``viz`` extra (``pip install "tsstore[viz]"``): hvplot, holoviews, bokeh.

Examples
--------
>>> import pandas as pd
>>> from tsstore.plot import chart
>>> df = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=3, freq="1min"),
...                    "temperature": [20.5, 21.0, 20.8]})
>>> chart(df).__class__.__name__
'Curve'
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pandas as pd

from tsstore.errors import ValidationError

__all__ = ["KINDS", "chart", "is_label", "offline", "shade_events", "time_column"]

#: Chart kinds accepted by :func:`chart` (hvplot's names).
KINDS = ("line", "scatter", "step", "area", "bar", "barh", "heatmap", "hist", "box", "table")


@functools.cache
def offline() -> None:
    """Load hvplot for pandas with JavaScript embedded in the notebook (no CDN); once."""
    try:
        import holoviews as hv
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            'charts need hvplot: pip install "tsstore[viz]" (hvplot, holoviews, bokeh)'
        ) from e
    hv.extension.inline = True
    try:  # panel (hvplot's dependency) styles its models with CSS files from a CDN unless inline
        import panel as pn
        from bokeh.models import UIElement
        from panel.io.notebook import patch_inline_stylesheets
        from panel.viewable import Viewable
    except ImportError:  # pragma: no cover - older hvplot without panel
        pass
    else:
        pn.config.inline = True

        # HoloViews renders charts in a notebook through panel without the inlining step
        # panel's own display applies; a preprocessing hook (run on every rendered root)
        # replaces the CDN stylesheets with their text from panel's package.
        def inline_stylesheets(viewable: Any, root: Any, *_: Any) -> None:
            for model in root.select({"type": UIElement}):
                patch_inline_stylesheets(model)

        Viewable._preprocessing_hooks.append(inline_stylesheets)
    import hvplot.pandas  # noqa: F401  (registers DataFrame.hvplot)


def is_label(dtype: object) -> bool:
    """Whether a column of ``dtype`` holds labels (series names, dimension values): strings as
    ``object`` or ``str`` (query results), or categories."""
    return pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, pd.StringDtype | pd.CategoricalDtype
    )


def time_column(df: pd.DataFrame) -> str | None:
    """The frame's time column: ``time`` if present, else the first datetime column."""
    if "time" in df.columns:
        return "time"
    for name in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[name].dtype):
            return str(name)
    return None


def chart(
    df: pd.DataFrame,
    kind: str = "line",
    *,
    x: str | None = None,
    y: str | Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
    **options: Any,
) -> Any:
    """An hvplot chart of a (long-format) time-series frame.

    Parameters
    ----------
    df : DataFrame
        Query result or series frame.
    kind : str, default "line"
        One of :data:`KINDS`.
    x : str, optional
        Default: the time column (see :func:`time_column`), else the first column.
    y : str or list of str, optional
        Default: every numeric column but ``x``.
    by : str or list of str, optional
        Columns that split the data into one series each. Default: the string columns (the
        dimensions of a query result), when there are any and ``y`` is one column.
    **options
        Passed to hvplot (``title``, ``width``, ``height``, ``legend`` ...).

    Returns
    -------
    holoviews.Element or Overlay
        Displayed by Jupyter; ``holoviews.render(chart)`` gives the bokeh figure.
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown chart kind {kind!r}; use one of {', '.join(KINDS)}")
    offline()
    if kind == "table":
        return df.hvplot.table(**options)
    x = x or time_column(df) or (str(df.columns[0]) if len(df.columns) else None)
    if x is None:
        raise ValidationError("cannot chart a frame without columns")
    if x not in df.columns:
        raise ValidationError(f"x={x!r} is not a column; columns are {list(df.columns)}")
    if y is None:
        y = [
            str(c)
            for c in df.columns
            if c != x
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
        if not y:
            raise ValidationError(
                f"no numeric column to chart against {x!r}; pass y= (columns: {list(df.columns)})"
            )
    ys = [y] if isinstance(y, str) else list(y)
    missing = [c for c in ys if c not in df.columns]
    if missing:
        raise ValidationError(f"y columns {missing} are not in the frame: {list(df.columns)}")
    if by is None and len(ys) == 1:
        keys = [str(c) for c in df.columns if c not in (x, *ys) and is_label(df[c].dtype)]
        by = keys or None
    if kind == "heatmap":  # time x series, colour = the value
        rows = [by] if isinstance(by, str) else list(by or [])
        if len(rows) != 1:
            raise ValidationError("a heatmap needs one series column: pass by='device_id'")
        return df.hvplot.heatmap(x=x, y=rows[0], C=ys[0], **options)
    return getattr(df.hvplot, kind)(x=x, y=ys if len(ys) > 1 else ys[0], by=by, **options)


def shade_events(
    figure: Any,
    events: pd.DataFrame,
    *,
    start: str = "start",
    end: str = "end",
    color: str = "#e65100",
    alpha: float = 0.2,
) -> Any:
    """Shade each event's time span on a time chart (anomaly events, maintenance windows).

    Parameters
    ----------
    figure : holoviews element or overlay
        A chart whose x axis is time (:func:`chart`).
    events : DataFrame
        One row per event with ``start`` and ``end`` times (what
        :func:`tsstore.anomaly.events` and ``detect`` return).
    start, end : str
        The columns holding each event's bounds.
    color, alpha
        The shading.

    Returns
    -------
    holoviews.Overlay
        The chart with one ``VSpan`` per event (a ``VLine`` for a one-point event).
    """
    import holoviews as hv

    missing = [c for c in (start, end) if c not in events.columns]
    if missing:
        raise ValidationError(
            f"events have no column {missing}; expected event bounds in "
            f"{start!r} and {end!r} (columns: {list(events.columns)})"
        )

    def naive(v: Any) -> Any:  # the charts draw UTC times as naive ones
        ts = pd.Timestamp(v)
        return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts

    spans = []
    for a, b in zip(events[start], events[end], strict=True):
        lo, hi = naive(a), naive(b)
        if lo == hi:  # a one-point event: a line
            spans.append(hv.VLine(lo).opts(color=color, alpha=min(1.0, 3 * alpha)))
        else:
            spans.append(hv.VSpan(lo, hi).opts(color=color, alpha=alpha, line_width=0))
    return figure * hv.Overlay(spans) if spans else figure
