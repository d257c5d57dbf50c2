"""Progress of running queries, drawn as a bar in a terminal or under a notebook cell.

:class:`ProgressBar` is a context manager in the manner of Dask's own: every query that runs
inside it, in this thread or in a worker thread, reports the units of its work done, and the
bar appears once the query has run for ``minimum`` seconds.

What a unit is depends on the plan (see :mod:`tsstore.query.engine`):

- a single-stage query: one unit per table scanned, then one for the SQL kernel, whose DuckDB
  statement reports its own percentage (polled from the bar's thread);
- a Dask plan on this machine's threads: one unit per task, through Dask's callbacks, plus
  the percentage of the DuckDB statements running in tasks;
- a Dask plan on a ``dask.distributed`` cluster: one unit per task, counted as their futures
  finish.

Examples
--------
>>> from tsstore.query.progress import ProgressBar
>>> with ProgressBar(minimum=1.0):  # doctest: +SKIP
...     client.query("SELECT count(*) FROM iot.metrics")
[########################################] | 100% Completed |  3.2s
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

from dask.callbacks import Callback

__all__ = ["ProgressBar", "active", "running", "tracking"]

#: Bars entered and not yet left, in any thread.
_bars: list[ProgressBar] = []
_bars_lock = threading.Lock()


def active() -> bool:
    """Whether any :class:`ProgressBar` is watching (the engine skips its reports otherwise)."""
    return bool(_bars)


class ProgressBar(Callback):
    """Show the progress of the queries run inside it.

    Parameters
    ----------
    minimum : float
        Seconds a query runs before its bar appears (quick queries draw nothing).
    width : int
        Characters of the bar.
    dt : float
        Seconds between redraws.
    out : file-like, optional
        Where the bar is written; standard output (a notebook cell's output) by default.

    Attributes
    ----------
    last_duration : float
        Seconds the last query took.
    last_fraction : float
        The last fraction drawn (0 to 1), 0 when nothing was drawn.
    """

    def __init__(
        self,
        minimum: float = 1.0,
        width: int = 40,
        dt: float = 0.1,
        out: IO[str] | None = None,
    ) -> None:
        super().__init__()
        self._minimum = minimum
        self._width = width
        self._dt = dt
        self._out = out
        self._lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._depth = 0
        self._reset(0)
        self.last_duration = 0.0
        self.last_fraction = 0.0

    # -- context --------------------------------------------------------------------------
    def __enter__(self) -> ProgressBar:
        super().__enter__()  # Dask's threaded scheduler reports its tasks to us
        with _bars_lock:
            _bars.append(self)
        return self

    def __exit__(self, *args: object) -> None:
        with _bars_lock:
            _bars.remove(self)
        super().__exit__(*args)

    # -- the work being watched -----------------------------------------------------------
    def _reset(self, units: int) -> None:
        self._units = units
        self._done = 0
        self._dask_state: dict[str, Any] | None = None
        self._connections: list[Any] = []
        self._drawn = False

    def _begin(self, units: int) -> None:
        """A query starts with ``units`` units of work (nested starts add to it)."""
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                self._units += units
                return
            self._reset(units)
            self._start = time.perf_counter()
            self._running = True
        self._timer = threading.Thread(target=self._tick, name="tsstore-progress", daemon=True)
        self._timer.start()

    def _advance(self, units: int = 1) -> None:
        with self._lock:
            self._done += units

    def _end(self, errored: bool) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth > 0:
                return
            self._running = False
        if self._timer is not None:
            self._timer.join()
            self._timer = None
        elapsed = time.perf_counter() - self._start
        self.last_duration = elapsed
        if elapsed < self._minimum:
            return
        self._draw(self.fraction() if errored else 1.0, elapsed)
        self._write("\n")

    def fraction(self) -> float:
        """The share of the current query's work done, 0 to 1."""
        with self._lock:
            state, units, done = self._dask_state, self._units, self._done
            connections = list(self._connections)
        if state is not None:  # Dask's threaded scheduler: its own task counts
            done = len(state["finished"])
            units = done + sum(len(state[k]) for k in ("ready", "waiting", "running"))
        partial = 0.0
        for con in connections:
            with contextlib.suppress(Exception):  # the statement may end meanwhile
                partial += max(0.0, con.query_progress()) / 100.0
        if units <= 0:
            return 0.0
        return min(1.0, (done + min(partial, len(connections))) / units)

    # -- Dask's callbacks (threaded scheduler) --------------------------------------------
    def _start(self, dsk: Any) -> None:
        self._begin(0)

    def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
        with self._lock:
            self._dask_state = state

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        self._end(errored)

    # -- drawing ----------------------------------------------------------------------------
    def _tick(self) -> None:
        while self._running:
            elapsed = time.perf_counter() - self._start
            if elapsed >= self._minimum:
                self._draw(self.fraction(), elapsed)
            time.sleep(self._dt)

    def _draw(self, fraction: float, elapsed: float) -> None:
        self._drawn = True
        self.last_fraction = fraction
        bar = "#" * int(self._width * fraction)
        self._write(
            f"\r[{bar:<{self._width}}] | {int(100 * fraction):3d}% Completed | "
            f"{_format_time(elapsed)}"
        )

    def _write(self, text: str) -> None:
        out = self._out if self._out is not None else sys.stdout
        with contextlib.suppress(ValueError):  # a closed stream
            out.write(text)
            out.flush()


def _format_time(seconds: float) -> str:
    minutes, s = divmod(seconds, 60)
    return f"{int(minutes)}min {s:4.1f}s" if minutes else f"{s:4.1f}s"


@contextlib.contextmanager
def tracking(units: int) -> Iterator[Any]:
    """A query's work of ``units`` units, reported to every active bar; yields the function
    that marks one more unit done. A no-op when no bar is watching."""
    with _bars_lock:
        bars = list(_bars)
    if not bars:
        yield _nothing
        return
    for bar in bars:
        bar._begin(units)

    def advance(n: int = 1) -> None:
        for bar in bars:
            bar._advance(n)

    errored = True
    try:
        yield advance
        errored = False
    finally:
        for bar in bars:
            bar._end(errored)


def _nothing(n: int = 1) -> None:
    return None


@contextlib.contextmanager
def running(con: Any) -> Iterator[None]:
    """A DuckDB statement runs on ``con``: the bars poll its percentage meanwhile."""
    with _bars_lock:
        bars = list(_bars)
    if not bars:
        yield
        return
    for bar in bars:
        with bar._lock:
            bar._connections.append(con)
    try:
        yield
    finally:
        for bar in bars:
            with bar._lock, contextlib.suppress(ValueError):
                bar._connections.remove(con)
