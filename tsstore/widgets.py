"""Interactive views of a store in Jupyter: :class:`Explorer` and :class:`Monitor`.

Both are thin front ends (ipywidgets controls, hvplot charts) over plain Python: they build
Timestream SQL with :func:`explorer_query`, :func:`monitor_query` and :func:`latest_query`
and run it with ``store.query(sql, params)``. Values (dimension values, times) are always
bound as ``:name`` parameters through the syntax tree; identifiers (database, table, measure
and dimension names) are double-quoted (:func:`quote_identifier`); the only other text put
into the SQL is the bin size, a duration that went through :func:`parse_duration` and
:func:`format_duration` (``1m``, ``15s``: digits and a unit, nothing else). The SQL a widget
shows is :func:`display_sql` of what it ran: the same statement with the parameter values
written as literals, runnable as-is in a ``%%tsql`` cell or ``store.query(text)``.

Charts render without internet: :func:`tsstore.plot.offline` embeds bokeh's JavaScript in the
notebook, and every chart goes through :func:`tsstore.plot.chart`.

Examples
--------
>>> from tsstore.widgets import explorer_query, display_sql
>>> import pandas as pd
>>> sql, params = explorer_query(
...     "factory", "machines", ["temperature"], every="1m", by=["device_id"],
...     start=pd.Timestamp("2024-01-01", tz="UTC"), end=pd.Timestamp("2024-01-02", tz="UTC"),
...     filters={"device_id": ["m-0001"]})
>>> print(sql)
SELECT bin(time, 1m) AS "time", "device_id", avg("temperature") AS "temperature"
FROM "factory"."machines"
WHERE time BETWEEN :start AND :end AND "device_id" IN (:f_device_id)
GROUP BY 1, 2
ORDER BY 2, 1
>>> print(display_sql(sql, params, pretty=False))  # doctest: +NORMALIZE_WHITESPACE
SELECT bin(time, INTERVAL '1' MINUTE) AS "time", "device_id", avg("temperature") AS
"temperature" FROM "factory"."machines" WHERE time BETWEEN
from_iso8601_timestamp('2024-01-01T00:00:00Z') AND from_iso8601_timestamp('2024-01-02T00:00:00Z')
AND "device_id" IN ('m-0001') GROUP BY 1, 2 ORDER BY 2, 1
"""

from __future__ import annotations

import contextlib
import html
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

try:
    import ipywidgets as W
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'tsstore.widgets needs ipywidgets: pip install "tsstore[viz]" (ipywidgets, hvplot)'
    ) from e

from tsstore.client import Client
from tsstore.errors import NotFoundError, QueryError, TsstoreError, ValidationError
from tsstore.model.durations import format_duration, parse_duration
from tsstore.plot import chart, is_label, offline, time_column
from tsstore.query.dialect import Select, bind_params, parse_statement
from tsstore.storage.table import Table

__all__ = [
    "AGGREGATES",
    "BIN_SIZES",
    "Explorer",
    "Monitor",
    "SQLText",
    "display_sql",
    "explorer_query",
    "latest_query",
    "latest_table_html",
    "monitor_query",
    "quote_identifier",
    "time_steps",
]

#: Aggregates the Explorer offers (Timestream's names).
AGGREGATES = ("avg", "min", "max", "sum", "count")
#: Bin sizes the Explorer offers (``bin(time, <size>)``).
BIN_SIZES = ("1s", "10s", "1m", "5m", "15m", "1h", "1d")
#: Steps of the Explorer's time-range slider (at most; fewer for spans under 100 s).
TIME_STEPS = 100
#: Most distinct values a dimension filter lists.
MAX_FILTER_VALUES = 1000
#: Bin sizes a Monitor picks from: the smallest that cuts the window into at most 60 bins.
_NICE_BINS = (
    *("1s", "2s", "5s", "10s", "15s", "30s"),
    *("1m", "2m", "5m", "10m", "15m", "30m"),
    *("1h", "2h", "3h", "6h", "12h", "1d", "7d"),
)
_TIME_LABEL = "%Y-%m-%d %H:%M:%S"
_STYLE = """<style>
.tsstore-latest { border-collapse: collapse; font-size: 12px; }
.tsstore-latest th, .tsstore-latest td { padding: 2px 8px; border-bottom: 1px solid #ddd;
  text-align: right; }
.tsstore-latest th:first-child, .tsstore-latest td:first-child { text-align: left; }
.tsstore-latest td.tsstore-alarm { background: #fdecea; color: #b71c1c; font-weight: bold; }
.tsstore-latest tr.tsstore-anomaly td { background: #fff3e0; }
.tsstore-latest tr.tsstore-anomaly td:first-child { border-left: 4px solid #e65100; }
.tsstore-error { color: #b71c1c; }
</style>"""


# --------------------------------------------------------------------------------------------
# The plain Python API: SQL builders and the display text of a query
# --------------------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (a ``"`` inside is doubled).

    Examples
    --------
    >>> quote_identifier('a"b')
    '"a""b"'
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"an identifier is a non-empty str, not {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _table_sql(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def _duration_sql(every: object, what: str = "every") -> str:
    """A Timestream duration literal (``1m``): digits and a unit, from a parsed duration."""
    td = parse_duration(every, what)
    if td <= pd.Timedelta(0):
        raise ValidationError(f"{what} {every!r} must be positive, e.g. '1m'")
    return format_duration(td)


def _filter_param(dimension: str, index: int) -> str:
    """The parameter name of a dimension's filter: ``f_<dimension>`` when that is a plain
    identifier, else ``f_<position>`` (never the same: identifiers do not start with a digit).
    """
    if dimension.isascii() and dimension.isidentifier():
        return f"f_{dimension}"
    return f"f_{index}"


def explorer_query(
    database: str,
    table: str,
    measures: Sequence[str],
    *,
    start: object,
    end: object,
    every: object = "1m",
    agg: str = "avg",
    by: Sequence[str] = (),
    filters: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The Explorer's query: one aggregate per measure per bin and series.

    Parameters
    ----------
    database, table : str
        The table read.
    measures : sequence of str
        Measures aggregated, each into a column of its own name.
    start, end : time-like
        The time range, both ends included (``time BETWEEN :start AND :end``).
    every : str or timedelta, default "1m"
        The bin size (``bin(time, 1m)``).
    agg : {"avg", "min", "max", "sum", "count"}, default "avg"
    by : sequence of str
        Columns (dimensions) that split the data into series; grouped on.
    filters : mapping of str to sequence, optional
        Allowed values per column (``"dim" IN (:f_dim)``); an empty sequence filters nothing.

    Returns
    -------
    (str, dict)
        The SQL with ``:name`` parameters, and their values.
    """
    if agg not in AGGREGATES:
        raise ValidationError(f"unknown aggregate {agg!r}; use one of {', '.join(AGGREGATES)}")
    measures = list(measures)
    if not measures:
        raise ValidationError("no measure selected; pick one or more, e.g. measures=['cpu']")
    by = list(by)
    select = [f'bin(time, {_duration_sql(every)}) AS "time"']
    select += [quote_identifier(d) for d in by]
    select += [f"{agg}({quote_identifier(m)}) AS {quote_identifier(m)}" for m in measures]
    where = ["time BETWEEN :start AND :end"]
    params: dict[str, Any] = {"start": _timestamp(start, "start"), "end": _timestamp(end, "end")}
    for i, (dim, values) in enumerate((filters or {}).items()):
        values = list(values)
        if values:
            name = _filter_param(dim, i)
            where.append(f"{quote_identifier(dim)} IN (:{name})")
            params[name] = values
    keys = ", ".join(str(i) for i in range(1, len(by) + 2))
    order = ", ".join([*(str(i) for i in range(2, len(by) + 2)), "1"])
    sql = (
        f"SELECT {', '.join(select)}\n"
        f"FROM {_table_sql(database, table)}\n"
        f"WHERE {' AND '.join(where)}\n"
        f"GROUP BY {keys}\n"
        f"ORDER BY {order}"
    )
    return sql, params


def monitor_query(
    database: str, table: str, measures: Sequence[str], *, by: str, every: object
) -> str:
    """The Monitor's heatmap query: ``avg`` of each measure per bin and series, over
    ``time BETWEEN :start AND :end`` (bind ``start`` and ``end``)."""
    cols = ", ".join(f"avg({quote_identifier(m)}) AS {quote_identifier(m)}" for m in measures)
    return (
        f'SELECT bin(time, {_duration_sql(every)}) AS "time", {quote_identifier(by)}, {cols}\n'
        f"FROM {_table_sql(database, table)}\n"
        "WHERE time BETWEEN :start AND :end\n"
        "GROUP BY 1, 2\n"
        "ORDER BY 2, 1"
    )


def latest_query(database: str, table: str, measures: Sequence[str], *, by: str) -> str:
    """The latest value of each measure per series (``max_by(m, time)``, which skips nulls)
    and the series' latest time, over ``time BETWEEN :start AND :end``."""
    cols = ", ".join(
        f"max_by({quote_identifier(m)}, time) AS {quote_identifier(m)}" for m in measures
    )
    return (
        f'SELECT {quote_identifier(by)}, max(time) AS "time", {cols}\n'
        f"FROM {_table_sql(database, table)}\n"
        "WHERE time BETWEEN :start AND :end\n"
        "GROUP BY 1\n"
        "ORDER BY 1"
    )


def display_sql(sql: str, params: Mapping[str, Any] | None = None, *, pretty: bool = True) -> str:
    """The statement with its parameter values written as literals, for display.

    Built through the syntax tree (:func:`tsstore.query.dialect.bind_params`, then sqlglot's
    generator for the ``timestream`` dialect), so the text runs unchanged in ``%%tsql`` or
    ``store.query(text)`` and gives the same result; a quote in a value stays in the value.
    Durations come out as ``INTERVAL '1' MINUTE`` and times as
    ``from_iso8601_timestamp('...Z')`` (nanoseconds kept), both Timestream SQL.
    """
    stmt = parse_statement(sql)
    if not isinstance(stmt, Select):
        return sql
    tree = bind_params(stmt.ast, params)
    return tree.sql(dialect="timestream", pretty=pretty, normalize_functions="lower")


def latest_table_html(
    latest: pd.DataFrame,
    *,
    series: str,
    measures: Sequence[str],
    thresholds: Mapping[str, tuple[float | None, float | None]] | None = None,
    scores: Mapping[str, float] | None = None,
    anomaly_threshold: float = 0.5,
) -> str:
    """An HTML table of the latest values, one row per series.

    A value outside its ``thresholds[measure] = (lo, hi)`` (either end None for none) is a
    cell of class ``tsstore-alarm``; a series whose latest anomaly score is at least
    ``anomaly_threshold`` is a row of class ``tsstore-anomaly`` (with a ``score`` column).
    Every row carries ``data-series``, every value cell ``data-measure``.
    """
    thresholds = thresholds or {}
    head = [series, "time", *measures] + (["score"] if scores is not None else [])
    rows = []
    for _, rec in latest.iterrows():
        key = rec[series]
        score = None if scores is None else scores.get(str(key))
        row_class = (
            ' class="tsstore-anomaly"' if score is not None and score >= anomaly_threshold else ""
        )
        cells = [f"<td>{html.escape(str(key))}</td>", f"<td>{_fmt_time(rec.get('time'))}</td>"]
        for m in measures:
            value = rec.get(m)
            cls = ' class="tsstore-alarm"' if _outside(value, thresholds.get(m)) else ""
            cells.append(f'<td data-measure="{html.escape(m)}"{cls}>{_fmt_value(value)}</td>')
        if scores is not None:
            cells.append(f'<td data-measure="score">{_fmt_value(score)}</td>')
        rows.append(f'<tr data-series="{html.escape(str(key))}"{row_class}>{"".join(cells)}</tr>')
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        f'<table class="tsstore-latest"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _outside(value: Any, bounds: tuple[float | None, float | None] | None) -> bool:
    if bounds is None or value is None or pd.isna(value):
        return False
    lo, hi = bounds
    return (lo is not None and value < lo) or (hi is not None and value > hi)


def _fmt_value(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "&mdash;"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _fmt_time(value: Any) -> str:
    if value is None or pd.isna(value):
        return "&mdash;"
    return pd.Timestamp(value).strftime(_TIME_LABEL)


def _timestamp(value: object, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{what} {value!r} is not a time") from e
    if ts is pd.NaT:
        raise ValidationError(f"{what} is NaT; give a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


# --------------------------------------------------------------------------------------------
# Widget plumbing
# --------------------------------------------------------------------------------------------


#: One chart renders at a time (the Monitor's thread and the notebook's may both draw).
_RENDER_LOCK = threading.Lock()


def _show(output: W.Output, obj: Any) -> None:
    """Replace what an Output widget shows with ``obj`` (an HTML string or a HoloViews
    chart), in one update.

    A chart is rendered by HoloViews' bokeh renderer as in a notebook cell (HTML and the
    script that draws it with the bokeh JavaScript :func:`tsstore.plot.offline` embedded),
    but without a comm (the charts are static: nothing in the kernel to leak per refresh) and
    without panel's console-output handle (which would add an empty output to whatever cell
    runs at each refresh). Setting the widget's outputs works from any thread, where
    ``with output:`` does not.
    """
    if isinstance(obj, str):
        data: dict[str, Any] = {"text/html": obj, "text/plain": html.unescape(obj)}
        metadata: dict[str, Any] = {}
    else:
        import holoviews as hv
        from panel.config import config as panel_config

        with _RENDER_LOCK, panel_config.set(console_output="disable"):
            rendered, metadata = hv.renderer("bokeh").components(obj, comm=False)
        data = {**rendered, "text/plain": repr(obj)}
    output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)


def _css_name(name: str) -> str:
    """A DOM class fragment for a column name (``device_id`` stays; others are cleaned)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)


def _label(ts: pd.Timestamp) -> str:
    return ts.strftime(_TIME_LABEL)


def time_steps(
    lo: pd.Timestamp, hi: pd.Timestamp, steps: int = TIME_STEPS
) -> list[tuple[str, pd.Timestamp]]:
    """Slider options over ``[lo, hi]``: whole seconds, from ``lo`` floored to ``hi`` ceiled,
    at most ``steps`` steps, labelled ``YYYY-MM-DD HH:MM:SS``."""
    lo, hi = lo.floor("s"), hi.ceil("s")
    if hi <= lo:
        hi = lo + pd.Timedelta(seconds=1)
    n = max(1, min(steps, int((hi - lo) / pd.Timedelta(seconds=1))))
    points = pd.date_range(lo, hi, periods=n + 1)
    values = [lo, *(p.floor("s") for p in points[1:-1]), hi]
    return [(_label(v), v) for v in dict.fromkeys(values)]


def _numeric_measures(table: Table) -> list[str]:
    return [m for m, t in table.schema.measures.items() if t.value in ("DOUBLE", "BIGINT")]


def _series_columns(table: Table) -> list[str]:
    """The dimensions, plus ``measure_name`` when the table holds single-measure records."""
    dims = list(table.schema.dimensions)
    if any(m.startswith("measure_value::") for m in table.schema.measures):
        dims.append("measure_name")
    return dims


class SQLText(W.Textarea):
    """A Textarea that shows SQL and undoes edits: read-only, yet selectable and copyable (a
    disabled one is not, in some browsers). Change its text with :meth:`show`."""

    def __init__(self, height: str = "8em") -> None:
        super().__init__(
            value="",
            description="SQL",
            placeholder="the SQL that ran appears here",
            layout=W.Layout(width="95%", height=height),
        )
        self._text = ""
        self.observe(self._undo, names="value")

    def show(self, text: str) -> None:
        """Show ``text``."""
        self._text = text
        self.value = text

    def _undo(self, change: Mapping[str, Any]) -> None:
        if change["new"] != self._text:
            self.value = self._text


class _View:
    """What Explorer and Monitor share: display in a notebook, close."""

    widget: W.Box

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# --------------------------------------------------------------------------------------------
# Explorer
# --------------------------------------------------------------------------------------------


#: The Explorer's first chart splits into at most this many series: a fleet of 1000 machines
#: drawn as 1000 curves takes about 20 s to render and shows nothing readable.
MAX_DEFAULT_SERIES = 50


def _default_split(columns: Sequence[str], cardinality: Mapping[str, int]) -> tuple[str, ...]:
    """The series columns the Explorer splits by at first: all of them when their values
    make at most :data:`MAX_DEFAULT_SERIES` series, else the fewest-valued columns whose
    product stays within it (a fleet is split by factory, not by machine)."""
    chosen: list[str] = []
    series = 1
    for column in sorted(columns, key=lambda c: cardinality.get(c, 0)):
        n = max(cardinality.get(column, 0), 1)
        if series * n > MAX_DEFAULT_SERIES:
            break
        chosen.append(column)
        series *= n
    return tuple(c for c in columns if c in chosen)


class Explorer(_View):
    """Pick a table, measures, filters, a time range and a bin size; see the chart and its SQL.

    Every control is a public ipywidgets attribute; changing any of them re-runs the query
    (:meth:`run`), so a notebook user and a test drive it the same way::

        ex = Explorer(store)                      # last expression of a cell: displayed
        ex.measures.value = ("temperature",)      # re-runs
        ex.filters["device_id"].value = ("m-0001",)
        ex.data                                   # the result charted
        print(ex.sql.value)                       # runnable in %%tsql

    The query (:func:`explorer_query`)::

        SELECT bin(time, 1m) AS "time", "device_id", avg("temperature") AS "temperature"
        FROM "factory"."machines"
        WHERE time BETWEEN :start AND :end AND "device_id" IN (:f_device_id)
        GROUP BY 1, 2
        ORDER BY 2, 1

    Parameters
    ----------
    store : Client
        From :func:`tsstore.connect`.
    database, table : str, optional
        Initial selection (default: the first of each). ``table`` may be ``"db.table"``.
    measures : sequence of str, optional
        Initial measures (default: the table's first numeric measure).
    every : str, default "1m"
        Initial bin size; one of :data:`BIN_SIZES` or any duration (added to the list).
    agg : str, default "avg"
        One of :data:`AGGREGATES`.
    height : int, default 300
        Height of each chart in pixels (one chart per measure, stacked).

    Attributes
    ----------
    database, table, every, agg : ipywidgets.Dropdown
    measures, by : ipywidgets.SelectMultiple
        Measures charted (numeric ones), and the columns that split the data into series
        (default: every dimension; fewer aggregates across the others).
    filters : dict of str to ipywidgets.SelectMultiple
        Allowed values per dimension (``SELECT DISTINCT``); nothing selected is no filter.
        Rebuilt when the table changes.
    time_range : ipywidgets.SelectionRangeSlider
        Over the table's time span (``SELECT min(time), max(time)``), whole seconds.
    sql : SQLText
        The SQL that ran, values as literals (:func:`display_sql`): select and copy it into a
        ``%%tsql`` cell; edits are undone.
    caption : ipywidgets.HTML
        Rows, series, measures and time span of the data charted (also as ``data-*``
        attributes), or the error of the last run (class ``tsstore-error``).
    chart : ipywidgets.Output
        The chart (one per measure, stacked).
    data : DataFrame
        The last result; ``last_query`` holds its SQL and parameters, ``figure`` its chart.

    DOM classes (``add_class``): the box ``tsstore-explorer``; controls
    ``tsstore-database``, ``tsstore-table``, ``tsstore-measures``, ``tsstore-by``,
    ``tsstore-filter`` and ``tsstore-filter-<dimension>``, ``tsstore-time-range``,
    ``tsstore-every``, ``tsstore-agg``; outputs ``tsstore-sql``, ``tsstore-caption``,
    ``tsstore-chart``.

    Notes
    -----
    Beyond the first design: ``by`` (the split into series) is a control, since grouping by
    every dimension cannot otherwise be undone (a factory's average needs ``by=factory``);
    :meth:`run` re-runs the current query and :meth:`refresh` first re-reads the store (new
    tables, dimension values, a longer time span); ``sql`` is a Textarea that undoes edits
    rather than a disabled one, whose text browsers may not let you select. The bin size is
    written into the SQL as a duration literal (``bin(time, 1m)``, from a parsed duration:
    digits and a unit) so that the query reads as Timestream SQL; :func:`display_sql` writes
    it as ``INTERVAL '1' MINUTE``, which is the same in Timestream SQL.
    """

    def __init__(
        self,
        store: Client,
        *,
        database: str | None = None,
        table: str | None = None,
        measures: Sequence[str] | None = None,
        every: str = "1m",
        agg: str = "avg",
        height: int = 300,
    ) -> None:
        if not isinstance(store, Client):
            raise ValidationError(
                f"Explorer needs a tsstore client, not {type(store).__name__}: "
                "Explorer(tsstore.connect(path))"
            )
        if agg not in AGGREGATES:
            raise ValidationError(f"unknown aggregate {agg!r}; use one of {', '.join(AGGREGATES)}")
        every = _duration_sql(every)
        offline()
        self.store = store
        self.height = height
        self.data = pd.DataFrame()
        self.last_query: tuple[str, dict[str, Any]] | None = None
        self.figure: Any = None
        self.error: str | None = None
        self._quiet = 0

        databases = store.list_databases()
        if table is not None and database is None and "." in table:
            try:
                resolved = store.table(table)
            except NotFoundError as e:
                raise ValidationError(f"{e}; pick one of store.tables()") from e
            database, table = resolved.database, resolved.name
        if database is not None and database not in databases:
            raise ValidationError(f"unknown database {database!r}; databases are {databases}")
        database = database or (databases[0] if databases else None)
        tables = store.database(database).list_tables() if database else []
        if table is not None and table not in tables:
            raise ValidationError(f"unknown table {table!r} in {database!r}; tables are {tables}")

        self.database = W.Dropdown(options=databases, value=database, description="Database")
        self.table = W.Dropdown(options=tables, value=table or (tables[0] if tables else None))
        self.table.description = "Table"
        self.measures = W.SelectMultiple(options=[], description="Measures", rows=5)
        self.by = W.SelectMultiple(options=[], description="Split by", rows=5)
        self.filters: dict[str, W.SelectMultiple] = {}
        self.filter_box = W.HBox([])
        now = store.clock()
        self.time_range = W.SelectionRangeSlider(
            options=time_steps(now - pd.Timedelta(hours=1), now),
            description="Time",
            continuous_update=False,
            layout=W.Layout(width="95%"),
        )
        options = list(BIN_SIZES) if every in BIN_SIZES else [*BIN_SIZES, every]
        self.every = W.Dropdown(options=options, value=every, description="Bin")
        self.agg = W.Dropdown(options=list(AGGREGATES), value=agg, description="Aggregate")
        self.sql = SQLText(height="9em")
        self.caption = W.HTML(value="")
        self.chart = W.Output()
        for w, name in [
            (self.database, "database"),
            (self.table, "table"),
            (self.measures, "measures"),
            (self.by, "by"),
            (self.time_range, "time-range"),
            (self.every, "every"),
            (self.agg, "agg"),
            (self.sql, "sql"),
            (self.caption, "caption"),
            (self.chart, "chart"),
        ]:
            w.add_class(f"tsstore-{name}")
        self.widget = W.VBox(
            [
                W.HBox([self.database, self.table, self.every, self.agg]),
                W.HBox([self.measures, self.by, self.filter_box]),
                self.time_range,
                self.caption,
                self.chart,
                self.sql,
            ]
        )
        self.widget.add_class("tsstore-explorer")

        with self._quietly():
            self._load_table(measures)
        self.database.observe(self._on_database, names="value")
        self.table.observe(self._on_table, names="value")
        for w in (self.measures, self.by, self.time_range, self.every, self.agg):
            w.observe(self._on_control, names="value")
        self._run_safely()

    # -- reading the store ------------------------------------------------------------------
    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Changes made inside do not re-run the query (one run follows instead)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _table(self) -> Table | None:
        if not self.database.value or not self.table.value:
            return None
        return self.store.database(self.database.value).table(self.table.value)

    def _load_table(self, measures: Sequence[str] | None = None, *, keep: bool = False) -> None:
        """Fill measures, series columns, filters and the time range from the table."""
        table = self._table()
        if table is None:
            self.measures.options, self.by.options = [], []
            self._set_filters({}, keep=False)
            return
        numeric = _numeric_measures(table)
        if measures is not None:
            unknown = [m for m in measures if m not in numeric]
            if unknown:
                raise ValidationError(
                    f"unknown measures {unknown} in {table.full_name}; numeric measures are "
                    f"{numeric}"
                )
            chosen = list(measures)
        else:
            kept = [m for m in self.measures.value if m in numeric] if keep else []
            chosen = kept or numeric[:1]
        # An empty split chosen by hand stays empty; one from a table without columns does not.
        keep_by = keep and bool(self.by.options)
        old_by = self.by.value
        columns = _series_columns(table)
        self.measures.options = numeric
        self.measures.value = tuple(chosen)
        distinct = {c: self._distinct(table, c) for c in columns}
        self.by.options = columns
        self.by.value = (
            tuple(c for c in old_by if c in columns)
            if keep_by
            else _default_split(columns, {c: len(v) for c, v in distinct.items()})
        )
        self._set_filters(distinct, keep=keep)
        self._set_time_range(table, keep=keep)

    def _distinct(self, table: Table, column: str) -> list[Any]:
        sql = (
            f"SELECT DISTINCT {quote_identifier(column)} AS v "
            f"FROM {_table_sql(table.database, table.name)} "
            f"WHERE {quote_identifier(column)} IS NOT NULL ORDER BY 1 LIMIT {MAX_FILTER_VALUES}"
        )
        return self.store.query(sql)["v"].tolist()

    def _set_filters(self, values: Mapping[str, list[Any]], *, keep: bool) -> None:
        old = {k: w.value for k, w in self.filters.items()} if keep else {}
        for w in self.filters.values():
            w.unobserve(self._on_control, names="value")
            w.close()
        self.filters = {}
        for col, options in values.items():
            w = W.SelectMultiple(
                options=options,
                value=tuple(v for v in old.get(col, ()) if v in options),
                description=col,
                rows=min(5, max(1, len(options))),
            )
            w.add_class("tsstore-filter")
            w.add_class(f"tsstore-filter-{_css_name(col)}")
            w.observe(self._on_control, names="value")
            self.filters[col] = w
        self.filter_box.children = tuple(self.filters.values())

    def _set_time_range(self, table: Table, *, keep: bool) -> None:
        span = self.store.query(
            f"SELECT min(time) AS lo, max(time) AS hi FROM {_table_sql(table.database, table.name)}"
        )
        lo, hi = span["lo"].iloc[0], span["hi"].iloc[0]
        if pd.isna(lo):
            now = self.store.clock()
            lo, hi = now - pd.Timedelta(hours=1), now
        old = self.time_range.value
        was_full = old == (self.time_range.options[0][1], self.time_range.options[-1][1])
        options = time_steps(pd.Timestamp(lo), pd.Timestamp(hi))
        values = [v for _, v in options]
        if keep and not was_full:
            new = (_nearest(values, old[0]), _nearest(values, old[1]))
        else:
            new = (values[0], values[-1])
        self.time_range.options = options
        self.time_range.value = new

    # -- observers --------------------------------------------------------------------------
    def _on_database(self, change: Mapping[str, Any]) -> None:
        with self._quietly():
            db = change["new"]
            tables = self.store.database(db).list_tables() if db else []
            self.table.options = tables
            self.table.value = tables[0] if tables else None
            self._load_table()
        self._run_safely()

    def _on_table(self, change: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        with self._quietly():
            self._load_table()
        self._run_safely()

    def _on_control(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self._run_safely()

    # -- running ----------------------------------------------------------------------------
    def build_query(self) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters of the controls' current state (see :func:`explorer_query`).

        Raises
        ------
        ValidationError
            No table or no measure selected.
        """
        if not self.database.value or not self.table.value:
            raise ValidationError("no table selected; the store has no tables yet: write one")
        if not self.measures.options:
            raise ValidationError(
                f"{self.database.value}.{self.table.value} has no numeric measure to chart yet"
            )
        start, end = self.time_range.value
        return explorer_query(
            self.database.value,
            self.table.value,
            self.measures.value,
            start=start,
            end=end,
            every=self.every.value,
            agg=self.agg.value,
            by=self.by.value,
            filters={k: w.value for k, w in self.filters.items()},
        )

    def run(self) -> pd.DataFrame:
        """Run the query of the controls now; update ``data``, ``sql``, ``caption`` and the
        chart, and return the data.

        Raises
        ------
        TsstoreError
            No table or measure selected, or the query failed (the observers show the message
            in the caption instead).
        """
        sql, params = self.build_query()
        data = self.store.query(sql, params)
        self.last_query, self.data, self.error = (sql, params), data, None
        self.sql.show(display_sql(sql, params))
        self.caption.value = self._caption()
        self._draw()
        return data

    def refresh(self) -> pd.DataFrame:
        """Read the store again (databases, tables, dimension values, time span: new data
        written since), keeping the selections that still exist, then :meth:`run`."""
        with self._quietly():
            databases = self.store.list_databases()
            current = self.database.value
            self.database.options = databases
            self.database.value = current if current in databases else (databases or [None])[0]
            tables = self.store.database(self.database.value).list_tables() if databases else []
            current = self.table.value
            self.table.options = tables
            self.table.value = current if current in tables else (tables or [None])[0]
            self._load_table(keep=self.table.value == current)
        return self.run()

    def _run_safely(self) -> None:
        try:
            self.run()
        except TsstoreError as e:
            self.error = str(e)
            self.caption.value = (
                f'<div class="tsstore-caption tsstore-error">{html.escape(str(e))}</div>'
            )
            self.sql.show("")
            self.data = pd.DataFrame()
            self.figure = None
            _show(self.chart, "")

    def _series(self) -> int:
        if self.data.empty:
            return 0
        by = list(self.by.value)
        return len(self.data[by].drop_duplicates()) if by else 1

    def _caption(self) -> str:
        df = self.data
        measures = list(self.measures.value)
        attrs = {
            "rows": len(df),
            "series": self._series(),
            "measures": ",".join(measures),
            "start": df["time"].min().isoformat() if len(df) else "",
            "end": df["time"].max().isoformat() if len(df) else "",
        }
        data_attrs = " ".join(f'data-{k}="{html.escape(str(v))}"' for k, v in attrs.items())
        if df.empty:
            text = "no data in this range"
        else:
            text = (
                f"{len(df):,} rows charted &middot; {attrs['series']} series &middot; "
                f"{html.escape(', '.join(measures))} &middot; {_label(df['time'].min())} to "
                f"{_label(df['time'].max())} UTC &middot; {self.agg.value} per "
                f"{self.every.value}"
            )
        return f'<div class="tsstore-caption" {data_attrs}>{text}</div>'

    def _draw(self) -> None:
        df = self.data
        if df.empty:
            self.figure = None
            _show(self.chart, "<i>no data in this range</i>")
            return
        import holoviews as hv

        by = list(self.by.value) or None
        charts = [
            chart(
                df[["time", *(by or []), m]],
                "line",
                x="time",
                y=m,
                by=by,
                title=m,
                height=self.height,
                responsive=True,
                legend="right",
                xlabel="time (UTC)",
            )
            for m in self.measures.value
        ]
        self.figure = charts[0] if len(charts) == 1 else hv.Layout(charts).cols(1)
        _show(self.chart, self.figure)

    def close(self) -> None:
        """Close every widget (the view disappears from the notebook)."""
        _close_tree(self.widget)


def _close_tree(widget: W.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


def _nearest(values: list[pd.Timestamp], ts: pd.Timestamp) -> pd.Timestamp:
    return min(values, key=lambda v: abs(v - ts))


# --------------------------------------------------------------------------------------------
# Monitor
# --------------------------------------------------------------------------------------------


def _client_of(table: Table) -> Client | None:
    """The client a table was opened from, when it is a writer's (its catalog callback is a
    method of the store). Tables do not keep a reference to their store otherwise; pass
    ``store=`` for tables of a read-only client."""
    owner = getattr(table._save_entry, "__self__", None)
    return owner if isinstance(owner, Client) else None


def _auto_bin(window: pd.Timedelta) -> str:
    for text in _NICE_BINS:
        if parse_duration(text) * 60 >= window:
            return text
    return _NICE_BINS[-1]


def _heatmap_frame(data: pd.DataFrame, by: str) -> pd.DataFrame:
    """The data with time as text labels and series as text, so the heatmap's axes are
    categorical and sorted: a bin is one cell whatever its duration (HoloViews draws cells
    on a datetime axis with widths bokeh reads wrongly: nothing shows), and series read in
    order. Labels are ``HH:MM:SS`` when the bins share a day, else with the date (text that
    sorts in time order either way)."""
    times = pd.to_datetime(data["time"], utc=True)
    same_day = len(times) == 0 or times.min().date() == times.max().date()
    fmt = "%H:%M:%S" if same_day else _TIME_LABEL
    return data.assign(time=times.dt.strftime(fmt), **{by: data[by].astype(str)})


def _refresh_loop(ref: weakref.ref[Monitor], stop: threading.Event, seconds: float) -> None:
    """The background refresh: holds the monitor weakly, so a forgotten one stops."""
    while not stop.wait(seconds):
        monitor = ref()
        if monitor is None:
            return
        monitor._refresh_safely()
        del monitor


class Monitor(_View):
    """A live dashboard of a table's latest data: heatmaps per measure and a table of the
    latest values, with thresholds and anomalies highlighted.

    Every ``refresh`` (in a background thread, :meth:`start`/:meth:`stop`) it queries the last
    ``window`` before the store's clock (``store.clock()``, so a store with a fixed clock
    shows fixed data) and redraws:

    - a heatmap per measure, series by time, colour the ``avg`` per bin
      (:func:`monitor_query`, ``time BETWEEN :start AND :end`` with ``:start`` the window's
      start floored to the bin size and ``:end`` the clock's now);
    - the latest value of each measure per series (:func:`latest_query`); a value outside
      ``thresholds`` is marked ``tsstore-alarm`` (red);
    - when the database holds ``<table>_anomalies`` (the scores a detector writes, with the
      table's dimensions and a ``score`` measure), each series' latest score in the window;
      a series whose score is at least ``anomaly_threshold`` is marked ``tsstore-anomaly``.

    Parameters
    ----------
    table : Table or str
        The table, or its ``"db.table"`` name (then ``store`` is required).
    query_or_measures : list of str, str
        Measure names (or one), or a SQL query whose result has a time column, a series
        column (``by``, default its first text column) and numeric measure columns; it may
        use ``:start`` and ``:end``. The latest values of a query are the last non-null value
        per series in its result.
    store : Client, optional
        The client to query; default the writer the table was opened from.
    refresh : str, default "5s"
        How often the background refresh runs.
    window : str, default "15m"
        How far back the view reaches.
    every : str, optional
        The heatmap's bin size; default the smallest of 1s, 2s, 5s, 10s, 15s, 30s, 1m ... that
        cuts the window into at most 60 bins.
    by : str, optional
        The series column; default the table's first dimension.
    thresholds : dict of str to (lo, hi), optional
        Alarm bounds per measure; either end may be None.
    anomalies : "auto", str or None, default "auto"
        The table of scores: "auto" uses ``<table>_anomalies`` when it exists (checked at every
        refresh), a name uses that table of the same database, None none.
    anomaly_threshold : float, default 0.5
    autostart : bool, default True
        Start the background refresh at once (a dashboard is live when shown); False leaves
        it to :meth:`start`.
    height : int, optional
        Height of each heatmap (default from the number of series).

    Attributes
    ----------
    data : DataFrame
        The binned data of the heatmaps.
    latest : DataFrame
        The latest values per series (and ``score`` when scores exist).
    scores : dict of str to float, or None
        Latest anomaly score per series; None without a table of scores.
    values : ipywidgets.HTML
        The table of latest values (:func:`latest_table_html`).
    status : ipywidgets.HTML
        When the view was refreshed, the window, and whether the refresh runs.
    chart : ipywidgets.Output
        The heatmaps.
    sql : ipywidgets.Textarea
        The SQL of the heatmaps, values as literals.
    refreshes : int
        How many refreshes have completed.

    DOM classes: the box ``tsstore-monitor``; ``tsstore-status`` (its line carries
    ``data-refreshes``, ``data-alarms``, ``data-anomalies``), ``tsstore-values`` (holding a
    ``table.tsstore-latest`` whose rows carry ``data-series``), ``tsstore-chart``,
    ``tsstore-sql``; cells ``td.tsstore-alarm``, rows ``tr.tsstore-anomaly``.

    Notes
    -----
    Beyond the first design: ``autostart`` (a dashboard is live once made; tests and scripts
    pass False), ``every``, ``anomaly_threshold`` and ``height``. The refresh runs in a daemon
    thread that holds the monitor weakly: :meth:`stop` and :meth:`close` end it within one
    refresh, and a monitor nobody holds any more stops by itself. Charts are static bokeh
    (rendered without a comm), so nothing accumulates in the kernel per refresh. A ``Table``
    does not keep its client: without ``store=``, the monitor uses the writer client the table
    came from (read-only clients: pass ``store=``).
    """

    def __init__(
        self,
        table: Table | str,
        query_or_measures: Sequence[str] | str,
        *,
        store: Client | None = None,
        refresh: str = "5s",
        window: str = "15m",
        every: str | None = None,
        by: str | None = None,
        thresholds: Mapping[str, tuple[float | None, float | None]] | None = None,
        anomalies: str | None = "auto",
        anomaly_threshold: float = 0.5,
        autostart: bool = True,
        height: int | None = None,
    ) -> None:
        self.store, self.table = self._resolve(table, store)
        self.interval = parse_duration(refresh, "refresh")
        if self.interval <= pd.Timedelta(0):
            raise ValidationError(f"refresh {refresh!r} must be positive, e.g. '5s'")
        self.window = parse_duration(window, "window")
        if self.window <= pd.Timedelta(0):
            raise ValidationError(f"window {window!r} must be positive, e.g. '15m'")
        self.every = _duration_sql(every) if every is not None else _auto_bin(self.window)
        self.height = height
        self.anomaly_threshold = float(anomaly_threshold)
        schema = self.table.schema
        series_columns = _series_columns(self.table)

        query: str | None = None
        if isinstance(query_or_measures, str) and query_or_measures not in schema.measures:
            query = query_or_measures
            try:
                is_select = isinstance(parse_statement(query), Select)
            except QueryError as e:
                raise ValidationError(
                    f"{query!r} is neither a measure of {self.table.full_name} "
                    f"({list(schema.measures)}) nor a query: {e}"
                ) from e
            if not is_select:
                raise ValidationError(
                    f"{query!r} is neither a measure of {self.table.full_name} nor a SELECT query"
                )
            measures: list[str] = []
        else:
            measures = (
                [query_or_measures]
                if isinstance(query_or_measures, str)
                else list(query_or_measures)
            )
            if not measures:
                raise ValidationError("no measure to monitor; pass e.g. ['temperature']")
            numeric = _numeric_measures(self.table)
            unknown = [m for m in measures if m not in numeric]
            if unknown:
                raise ValidationError(
                    f"unknown measures {unknown} in {self.table.full_name}; its numeric measures "
                    f"are {numeric}"
                )
        self.query = query
        self.measures = measures
        if by is None and query is None:
            if not series_columns:
                raise ValidationError(
                    f"{self.table.full_name} has no dimension to split series by; pass by="
                )
            by = series_columns[0]
        if by is not None and query is None and by not in series_columns:
            raise ValidationError(
                f"by={by!r} is not a dimension of {self.table.full_name}; dimensions are "
                f"{series_columns}"
            )
        self.by = by
        self.thresholds = {k: (lo, hi) for k, (lo, hi) in (thresholds or {}).items()}
        if query is None:
            unknown = [m for m in self.thresholds if m not in measures]
            if unknown:
                raise ValidationError(
                    f"thresholds for {unknown}, which are not monitored; measures are {measures}"
                )
        self.anomalies = anomalies
        if anomalies not in (None, "auto"):
            names = self.store.database(self.table.database).list_tables()
            if anomalies not in names:
                raise ValidationError(
                    f"anomalies={anomalies!r} is not a table of {self.table.database!r}; "
                    f"tables are {names} (or pass anomalies='auto' or None)"
                )

        offline()
        self.data = pd.DataFrame()
        self.latest = pd.DataFrame()
        self.scores: dict[str, float] | None = None
        self.figure: Any = None
        self.error: str | None = None
        self.refreshes = 0
        self.updated: pd.Timestamp | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: dict[str, threading.Event] = {}
        self._finalizer = weakref.finalize(self, _stop_loop, self._loop)

        self.status = W.HTML(value="")
        self.values = W.HTML(value="")
        self.chart = W.Output()
        self.sql = SQLText(height="8em")
        for w, name in [
            (self.status, "status"),
            (self.values, "values"),
            (self.chart, "chart"),
            (self.sql, "sql"),
        ]:
            w.add_class(f"tsstore-{name}")
        self.widget = W.VBox([self.status, self.values, self.chart, self.sql])
        self.widget.add_class("tsstore-monitor")
        self._refresh_safely()
        if autostart:
            self.start()

    @staticmethod
    def _resolve(table: Table | str, store: Client | None) -> tuple[Client, Table]:
        if store is not None and not isinstance(store, Client):
            raise ValidationError(
                f"store= is a {type(store).__name__}, not a tsstore client (tsstore.connect)"
            )
        if isinstance(table, str):
            if store is None:
                raise ValidationError(
                    f"Monitor({table!r}, ...) needs the store to read: pass store=client, or "
                    "pass the Table itself (client.table(name))"
                )
            try:
                return store, store.table(table)
            except NotFoundError as e:
                raise ValidationError(f"{e}; pass an existing 'database.table'") from e
        if not isinstance(table, Table):
            raise ValidationError(
                f"table is a {type(table).__name__}; pass a tsstore Table or a 'db.table' name"
            )
        client = store or _client_of(table)
        if client is None:
            raise ValidationError(
                f"cannot tell which client {table.full_name} belongs to (a read-only one?); "
                "pass store=client"
            )
        return client, table

    # -- the queries ------------------------------------------------------------------------
    def window_params(self) -> dict[str, pd.Timestamp]:
        """``start`` and ``end`` of the window now: the store's clock and the window before
        it, floored to the bin size."""
        end = _timestamp(self.store.clock(), "the store's clock")
        start = (end - self.window).floor(parse_duration(self.every))
        return {"start": start, "end": end}

    def _anomaly_table(self) -> str | None:
        if self.anomalies is None:
            return None
        name = f"{self.table.name}_anomalies" if self.anomalies == "auto" else self.anomalies
        if name not in self.store.database(self.table.database).list_tables():
            return None
        return name

    def _scores(self, params: Mapping[str, Any], by: str) -> dict[str, float] | None:
        name = self._anomaly_table()
        if name is None:
            return None
        scored = self.store.database(self.table.database).table(name)
        if "score" not in scored.schema.measures or by not in _series_columns(scored):
            return None
        sql = latest_query(self.table.database, name, ["score"], by=by)
        df = self.store.query(sql, params)
        return {str(k): float(v) for k, v in zip(df[by], df["score"], strict=True) if pd.notna(v)}

    def _query_data(self, params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        """(binned data, latest per series, the series column)."""
        if self.query is None:
            assert self.by is not None
            db, name = self.table.database, self.table.name
            sql = monitor_query(db, name, self.measures, by=self.by, every=self.every)
            data = self.store.query(sql, params)
            latest = self.store.query(latest_query(db, name, self.measures, by=self.by), params)
            self.sql.show(display_sql(sql, params))
            return data, latest, self.by
        data = self.store.query(self.query, params)
        self.sql.show(display_sql(self.query, params))
        tcol = time_column(data)
        if tcol is None:
            raise ValidationError(f"the query's result has no time column: {list(data.columns)}")
        if tcol != "time":
            data = data.rename(columns={tcol: "time"})
        by = self.by or next((str(c) for c in data.columns if is_label(data[c].dtype)), None)
        if by is None or by not in data.columns:
            raise ValidationError(
                f"the query's result has no series column {by!r}: {list(data.columns)}; "
                "select one (e.g. device_id) or pass by="
            )
        self.measures = [
            str(c)
            for c in data.columns
            if c not in ("time", by)
            and pd.api.types.is_numeric_dtype(data[c].dtype)
            and not pd.api.types.is_bool_dtype(data[c].dtype)
        ]
        ordered = data.sort_values("time", kind="stable")
        latest = ordered.groupby(by, sort=True)[["time", *self.measures]].last().reset_index()
        return data, latest, by

    # -- refreshing -------------------------------------------------------------------------
    def refresh(self) -> pd.DataFrame:
        """Query the window now and redraw; the latest values (see ``latest``).

        Raises
        ------
        TsstoreError
            The query failed (the background refresh shows it in ``status`` instead).
        """
        with self._lock:
            params = self.window_params()
            data, latest, by = self._query_data(params)
            scores = self._scores(params, by)
            if scores is not None:
                latest = latest.assign(score=[scores.get(str(k)) for k in latest[by]])
            self.data, self.latest, self.scores, self.error = data, latest, scores, None
            self.values.value = _STYLE + latest_table_html(
                latest,
                series=by,
                measures=self.measures,
                thresholds=self.thresholds,
                scores=scores,
                anomaly_threshold=self.anomaly_threshold,
            )
            self._draw(by)
            self.updated = params["end"]
            self.refreshes += 1
            self._status()
            return latest

    def _refresh_safely(self) -> None:
        if self.closed:
            return
        try:
            self.refresh()
        except TsstoreError as e:
            self.error = str(e)
            self._status()

    def _draw(self, by: str) -> None:
        if self.data.empty:
            self.figure = None
            _show(self.chart, f"<i>no data in the last {format_duration(self.window)}</i>")
            return
        import holoviews as hv

        n = self.data[by].nunique()
        height = self.height or max(160, min(600, 18 * n + 90))
        frame = _heatmap_frame(self.data, by)
        # Axes in order: times left to right, series top to bottom (bokeh lists a
        # categorical y axis from the bottom up).
        order = {"time": sorted(frame["time"].unique()), by: sorted(frame[by].unique())[::-1]}
        maps = [
            chart(
                frame[["time", by, m]],
                "heatmap",
                x="time",
                y=m,
                by=by,
                title=f"{m} (avg per {self.every})",
                height=height,
                responsive=True,
                cmap="viridis",
                colorbar=True,
                rot=90,
                xlabel="time (UTC)",
            ).redim.values(**order)
            for m in self.measures
        ]
        self.figure = maps[0] if len(maps) == 1 else hv.Layout(maps).cols(1)
        _show(self.chart, self.figure)

    def _status(self) -> None:
        when = _label(self.updated) + " UTC" if self.updated is not None else "never"
        state = f"refreshing every {format_duration(self.interval)}" if self.running else "paused"
        error = (
            f' &middot; <span class="tsstore-error">{html.escape(self.error)}</span>'
            if self.error
            else ""
        )
        alarms = anomalies = 0
        if not self.latest.empty:
            for m, bounds in self.thresholds.items():
                if m in self.latest.columns:
                    alarms += int(sum(_outside(v, bounds) for v in self.latest[m]))
            if self.scores is not None:
                anomalies = sum(s >= self.anomaly_threshold for s in self.scores.values())
        self.status.value = (
            f'<div class="tsstore-status-line" data-refreshes="{self.refreshes}" '
            f'data-alarms="{alarms}" data-anomalies="{anomalies}">'
            f"<b>{html.escape(self.table.full_name)}</b> &middot; last "
            f"{format_duration(self.window)} to {when} &middot; {len(self.latest)} series "
            f"&middot; {alarms} alarms &middot; {anomalies} anomalies &middot; {state}{error}"
            "</div>"
        )

    # -- the background refresh -------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the background refresh runs."""
        return (
            self._thread is not None and self._thread.is_alive() and not self._loop["stop"].is_set()
        )

    def start(self) -> None:
        """Refresh every ``refresh`` in a background thread (until :meth:`stop` or
        :meth:`close`); ipywidgets updated from a thread reach the notebook (ipykernel >= 6)."""
        if self.closed:
            raise ValidationError("this monitor is closed; create a new one")
        if self.running:
            return
        stop = threading.Event()
        self._loop["stop"] = stop
        self._thread = threading.Thread(
            target=_refresh_loop,
            args=(weakref.ref(self), stop, self.interval.total_seconds()),
            name=f"tsstore-monitor-{self.table.full_name}",
            daemon=True,
        )
        self._thread.start()
        self._status()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background refresh; waits (up to ``timeout`` seconds) for a refresh in
        progress to finish, so nothing changes after it returns."""
        stop = self._loop.get("stop")
        if stop is not None:
            stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if not self.closed:
            self._status()

    def close(self) -> None:
        """Stop the refresh and close the widgets."""
        self.stop()
        self.closed = True
        _close_tree(self.widget)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_loop(loop: dict[str, threading.Event]) -> None:
    stop = loop.get("stop")
    if stop is not None:
        stop.set()
