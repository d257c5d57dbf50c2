"""A TSBS ``iot`` data generator (trucks), vectorised with numpy.

This reproduces the data of the Time Series Benchmark Suite's ``iot`` use case
(``pkg/data/usecases/iot`` and ``pkg/data/usecases/common`` in github.com/timescale/tsbs),
including the data-quality simulation that makes it different from ``cpu-only``.

Trucks (``truck.go``)
    ``scale`` trucks ``truck_0`` .. ``truck_<scale-1>``, each with 8 tags drawn once: ``name``,
    ``fleet`` (East, West, North, South), ``driver`` (Derek, Rodney, Albert, Andy, Seth,
    Trish), ``model`` (F-150, G-2000, H-2) and the model's ``load_capacity`` (2000, 5000,
    1500), ``fuel_capacity`` (200, 300, 150) and ``nominal_fuel_consumption`` (15, 19, 12),
    ``device_version`` (v1.0, v1.5, v2.0, v2.3). TSBS keeps the last three as ``float32``
    tags; its text formats write them with Go's shortest form (``"2000"``), and they are
    strings here, as Timestream dimensions are.

Measurements (``readings.go``, ``diagnostics.go``, ``common/distribution.go``)
    Every truck has two measurements, each with its own distributions, advanced once per
    ``interval`` (10 s); the first point is the initial state. ``CWD(step, lo, hi, x0)`` is a
    random walk from ``x0`` with i.i.d. steps, clamped to ``[lo, hi]`` after every step;
    ``FP(d, p)`` truncates toward zero to ``p`` decimals (``float64(int(x * 10^p)) / 10^p``).

    ``readings`` (float64): latitude ``FP(CWD(U(-0.005, 0.005), -90, 90, U*90), 5)``,
    longitude ``FP(CWD(U(-0.005, 0.005), -180, 180, U*180), 5)``, elevation
    ``FP(CWD(U(-10, 10), 0, 5000, U*500), 0)``, velocity ``FP(CWD(U(-10, 10), 0, 100, 0), 0)``,
    heading ``FP(CWD(U(-5, 5), 0, 360, U*360), 0)``, grade ``FP(CWD(U(-5, 5), 0, 100, 0), 0)``,
    fuel_consumption ``FP(CWD(U(-5, 5), 0, 50, 25), 1)`` (``U`` uniform in [0, 1)).

    ``diagnostics``: fuel_state (float64) ``FP(CWD(U(-0.001, 0), 0, 1, 1), 1)`` refuelled to 1
    whenever the walk reaches 0; current_load (float64) ``FP(LD(U(0, 1), U(0, 5000), 0.95),
    0)``: at each step, with probability 0.05, a new value uniform in [0, 5000), else the last
    one (0 before the first change); status (int64) ``int64(CWD(N(0, 1), 0, 5, 0))``.

Order of the base stream (``common/simulator.go``)
    Epoch by epoch (``floor(duration / interval)`` epochs from ``start``): the ``readings`` of
    trucks 0 .. scale-1, then their ``diagnostics``. Both measurements of an epoch carry its
    timestamp.

Data-quality simulation (``iot/simulator.go``, ``iot/batch_config.go``)
    The base stream is cut into batches of 10 entries, each with a configuration drawn as TSBS
    draws it:

    * a batch is **missing** with probability 0.01: its next 10 points are discarded;
    * else, when out-of-order batches are pending, with probability 0.5 the oldest of them is
      sent **instead** of a new batch (a **late batch**);
    * else the batch is built from 10 slots. Per slot: with probability 0.5 (while entries are
      pending, at most as many as were pending when the batch started) the slot takes the
      oldest **out-of-order entry** instead of the next point; with probability 0.1 the slot's
      entry is **missing** (dropped); else with probability 0.3 it is put aside as an
      out-of-order entry (it comes back in a later batch). Slots that yield nothing are
      refilled from the base stream, so a batch holds 10 entries;
    * with probability 0.05 the batch is itself put aside as an **out-of-order batch**;
    * **missing fields**: the entry at output position ``i`` has, with probability 0.1 (drawn
      for slot ``i`` when that slot was not missing), the field ``k % n_fields`` cleared, ``k``
      uniform in ``0..6`` (so a diagnostics entry loses fuel_state 3/7 of the time, the other
      two fields 2/7 each);
    * **nil tags**: likewise with probability 0.01 one of its 8 tags, uniform, is cleared;
    * when the base stream ends, the pending out-of-order batches are sent, then the pending
      out-of-order entries (10 at a time, as they are): these are the **late** rows.

    A missing field is ``<NA>`` (pandas nullable ``Float64``/``Int64``), a nil tag ``None``.

Differences from TSBS's Go generator: numbers come from numpy's PCG64 through independent
``SeedSequence`` streams (same distributions, not the same values); at the very end of the data
TSBS's loop can read past its last epoch (a few points stamped with the end time), which is not
reproduced: the stream stops at the last epoch. Everything else (the batch state machine, FIFO
queues, which slot is refilled, where the missing-field and nil-tag flags land) follows the Go
code; ``reference_order`` is a line-by-line Python transcription of it, and
``generate_iot(..., check=True)`` checks the vectorised construction against it.

Usage as a script::

    python bench/tsbs_iot.py --scale 100 --days 1          # prints the counts and the time
"""

from __future__ import annotations

import argparse
import sys
import time as _time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEVICE_VERSION_CHOICES",
    "DIAGNOSTICS_FIELDS",
    "DRIVER_CHOICES",
    "FLEET_CHOICES",
    "MODEL_CHOICES",
    "READINGS_FIELDS",
    "TAGS",
    "IotData",
    "generate_iot",
    "main",
    "reference_order",
    "truck_tags",
]

TAGS: tuple[str, ...] = (
    "name",
    "fleet",
    "driver",
    "model",
    "device_version",
    "load_capacity",
    "fuel_capacity",
    "nominal_fuel_consumption",
)
READINGS_FIELDS: tuple[str, ...] = (
    "latitude",
    "longitude",
    "elevation",
    "velocity",
    "heading",
    "grade",
    "fuel_consumption",
)
DIAGNOSTICS_FIELDS: tuple[str, ...] = ("fuel_state", "current_load", "status")
FLEET_CHOICES: tuple[str, ...] = ("East", "West", "North", "South")
DRIVER_CHOICES: tuple[str, ...] = ("Derek", "Rodney", "Albert", "Andy", "Seth", "Trish")
#: (name, load_capacity, fuel_capacity, nominal_fuel_consumption), as in TSBS ``truck.go``.
MODEL_CHOICES: tuple[tuple[str, str, str, str], ...] = (
    ("F-150", "2000", "200", "15"),
    ("G-2000", "5000", "300", "19"),
    ("H-2", "1500", "150", "12"),
)
DEVICE_VERSION_CHOICES: tuple[str, ...] = ("v1.0", "v1.5", "v2.0", "v2.3")

#: Entries per simulator batch (TSBS ``defaultBatchSize``).
BATCH = 10
# Batch chances (batch_config.go).
B_MISSING = 0.01
B_OUT_OF_ORDER = 0.05
B_INSERT_PREVIOUS = 0.5
# Entry chances.
E_MISSING = 0.1
E_OUT_OF_ORDER = 0.3
E_INSERT_PREVIOUS = 0.5
ZERO_TAG = 0.01
ZERO_FIELD = 0.1
#: ``maxFieldCount``: the zero-field index is drawn in ``0..6`` for both measurements.
MAX_FIELDS = len(READINGS_FIELDS)

# The readings walks, in READINGS_FIELDS order.
_READINGS_WALKS: tuple[tuple[float, float, float, float, float, float, int], ...] = (
    # lo, hi, x0 scale (x0 = offset + U * scale), x0 offset, step lo, step hi, decimals
    (-90.0, 90.0, 90.0, 0.0, -0.005, 0.005, 5),
    (-180.0, 180.0, 180.0, 0.0, -0.005, 0.005, 5),
    (0.0, 5000.0, 500.0, 0.0, -10.0, 10.0, 0),
    (0.0, 100.0, 0.0, 0.0, -10.0, 10.0, 0),
    (0.0, 360.0, 360.0, 0.0, -5.0, 5.0, 0),
    (0.0, 100.0, 0.0, 0.0, -5.0, 5.0, 0),
    (0.0, 50.0, 0.0, 25.0, -5.0, 5.0, 1),
)
_LOAD_CHANGE = 0.05
_MAX_LOAD = 5000.0

# Seed-sequence streams.
_S_TAGS, _S_INIT, _S_STEPS, _S_LOAD, _S_BATCHES = range(5)
# Simulator batch kinds.
_NORMAL, _OOO, _PREVIOUS, _MISSING = range(4)
# Slot fates.
_OUT, _QUEUE, _DROP = range(3)
# Batch configurations drawn per chunk.
_EVENT_CHUNK = 65536


# ------------------------------------------------------------------------------------ tags


def _tag_codes(scale: int, seed: int) -> dict[str, np.ndarray]:
    """Per-truck codes into the choice lists: fleet, driver, model, device_version."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[_S_TAGS])
    return {
        "model": rng.integers(0, len(MODEL_CHOICES), scale),
        "fleet": rng.integers(0, len(FLEET_CHOICES), scale),
        "driver": rng.integers(0, len(DRIVER_CHOICES), scale),
        "device_version": rng.integers(0, len(DEVICE_VERSION_CHOICES), scale),
    }


def _tag_values(scale: int, seed: int) -> dict[str, np.ndarray]:
    """Per-truck tag values (object arrays of str), in ``TAGS`` order."""
    codes = _tag_codes(scale, seed)

    def pick(choices: tuple[str, ...], idx: np.ndarray) -> np.ndarray:
        arr = np.empty(len(choices), dtype=object)
        arr[:] = choices
        return arr[idx]

    names = np.empty(scale, dtype=object)
    names[:] = [f"truck_{i}" for i in range(scale)]
    m = codes["model"]
    return {
        "name": names,
        "fleet": pick(FLEET_CHOICES, codes["fleet"]),
        "driver": pick(DRIVER_CHOICES, codes["driver"]),
        "model": pick(tuple(x[0] for x in MODEL_CHOICES), m),
        "device_version": pick(DEVICE_VERSION_CHOICES, codes["device_version"]),
        "load_capacity": pick(tuple(x[1] for x in MODEL_CHOICES), m),
        "fuel_capacity": pick(tuple(x[2] for x in MODEL_CHOICES), m),
        "nominal_fuel_consumption": pick(tuple(x[3] for x in MODEL_CHOICES), m),
    }


def truck_tags(scale: int = 100, *, seed: int = 0) -> pd.DataFrame:
    """The trucks: one row per truck, the 8 tag columns (``name`` first), none nil.

    These are the tags ``generate_iot`` uses for the same ``scale`` and ``seed``.
    """
    return pd.DataFrame(_tag_values(_check_scale(scale), seed))


# ------------------------------------------------------------------------------ the walks


def _fp_inplace(x: np.ndarray, decimals: int) -> None:
    """TSBS ``FloatPrecision`` in place: truncate toward zero to ``decimals`` decimals
    (``float64(int(x * 10^p)) / 10^p``)."""
    if decimals == 0:
        np.trunc(x, out=x)
        return
    p = 10.0**decimals
    np.multiply(x, p, out=x)
    np.trunc(x, out=x)
    np.divide(x, p, out=x)


def _values(scale: int, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every truck's field values at every epoch.

    Returns
    -------
    readings, diagnostics : numpy.ndarray
        float64 arrays of shape ``(epochs, 7, scale)`` and ``(epochs, 3, scale)`` (status is
        whole numbers in float64), after ``FP``.
    """
    streams = np.random.SeedSequence(seed).spawn(5)
    r_init = np.random.default_rng(streams[_S_INIT])
    r_steps = np.random.default_rng(streams[_S_STEPS])
    r_load = np.random.default_rng(streams[_S_LOAD])
    nw = len(_READINGS_WALKS)
    # Rows 0..6: the readings walks; 7: fuel_state; 8: current_load; 9: status. Arrays are
    # written in place: fresh pages cost more than the arithmetic here.
    fuel, load, status = nw, nw + 1, nw + 2
    lo = np.array([w[0] for w in _READINGS_WALKS] + [0.0])[:, None]
    hi = np.array([w[1] for w in _READINGS_WALKS] + [1.0])[:, None]
    out = np.empty((epochs, nw + 3, scale))
    u0 = r_init.random((nw, scale))
    for k, w in enumerate(_READINGS_WALKS):
        out[0, k] = w[3] + u0[k] * w[2]
    out[0, fuel] = 1.0
    out[0, status] = 0.0
    if epochs > 1:
        steps = out[1:, : nw + 1]
        steps[...] = r_steps.random((epochs - 1, nw + 1, scale))
        for k, w in enumerate(_READINGS_WALKS):
            steps[:, k] *= w[5] - w[4]
            steps[:, k] += w[4]
        steps[:, fuel] *= 0.001  # U(-0.001, 0)
        steps[:, fuel] -= 0.001
        out[1:, status] = r_steps.standard_normal((epochs - 1, scale))
        prev = out[0, : nw + 1]
        prev_status = out[0, status]
        for i in range(1, epochs):
            cur = out[i, : nw + 1]
            np.add(cur, prev, out=cur)
            np.minimum(cur, hi, out=cur)
            np.maximum(cur, lo, out=cur)
            f = cur[fuel]
            np.copyto(f, 1.0, where=f == 0.0)  # refuel when the walk reaches its minimum
            st = out[i, status]
            np.add(st, prev_status, out=st)
            np.minimum(st, 5.0, out=st)
            np.maximum(st, 0.0, out=st)
            prev, prev_status = cur, st
    for k, w in enumerate(_READINGS_WALKS):
        _fp_inplace(out[:, k], w[6])
    _fp_inplace(out[:, fuel], 1)
    _fp_inplace(out[:, status], 0)
    # current_load: LazyDistribution; 0 until the first change.
    change = r_load.random((epochs, scale)) >= 1.0 - _LOAD_CHANGE
    change[0] = False
    new = r_load.random((epochs, scale))
    new *= _MAX_LOAD
    np.trunc(new, out=new)
    last = np.where(change, np.arange(epochs)[:, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)
    out[:, load] = new[last, np.arange(scale)[None, :]]
    out[:, load][last == 0] = 0.0
    return out[:, :nw], out[:, nw:]


# ------------------------------------------------------------------ the batch simulation


@dataclass
class _Draws:
    """Random draws of simulator batch configurations, one row per configuration."""

    u_missing: np.ndarray  # (E,)
    u_ooo: np.ndarray  # (E,)
    u_previous: np.ndarray  # (E,)
    ip_cand: np.ndarray  # (E, 10) bool: u < E_INSERT_PREVIOUS
    miss: np.ndarray  # (E, 10) bool
    ooo: np.ndarray  # (E, 10) bool, not where miss
    zf: np.ndarray  # (E, 10) int8: field index to clear or -1
    zt: np.ndarray  # (E, 10) int8: tag index to clear or -1

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> _Draws:
        """Draw ``n`` configurations."""
        u = rng.random((n, 3))
        s = rng.random((n, 5, BATCH))
        k = rng.integers(0, MAX_FIELDS, (n, BATCH), dtype=np.int8)
        t = rng.integers(0, len(TAGS), (n, BATCH), dtype=np.int8)
        miss = s[:, 1] < E_MISSING
        return cls(
            u_missing=u[:, 0],
            u_ooo=u[:, 1],
            u_previous=u[:, 2],
            ip_cand=s[:, 0] < E_INSERT_PREVIOUS,
            miss=miss,
            ooo=~miss & (s[:, 2] < E_OUT_OF_ORDER),
            zf=np.where(~miss & (s[:, 3] < ZERO_FIELD), k, -1).astype(np.int8),
            zt=np.where(~miss & (s[:, 4] < ZERO_TAG), t, -1).astype(np.int8),
        )

    def concat(self, other: _Draws) -> _Draws:
        """Both sets of draws, ``self`` first."""
        return _Draws(
            *(
                np.concatenate([getattr(self, f), getattr(other, f)])
                for f in self.__dataclass_fields__
            )
        )


@dataclass
class _Stream:
    """The emitted entries, in order: base point index, field and tag cleared (-1: none)."""

    base: np.ndarray
    zero_field: np.ndarray
    zero_tag: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)


def _simulate(n_points: int, rng: np.random.Generator) -> _Stream:
    """Run TSBS's iot batch simulator over ``n_points`` base points (vectorised).

    A Python loop walks the batch configurations keeping only scalars (points consumed,
    pending entries, pending batches); the slots of every batch are then resolved with numpy:
    pending entries leave in the order they arrived (FIFO), so the m-th entry taken back is
    the m-th entry put aside, and pending batches likewise.
    """
    d = _Draws.draw(rng, _EVENT_CHUNK)
    kinds: list[int] = []
    c_start: list[int] = []  # pending entries when each configuration was drawn
    cursor_start: list[int] = []
    cursor = c = b = 0
    partial: tuple[int, int, int] | None = None  # (event, c, cursor) of a truncated batch
    e = 0
    # Plain Python lists for the scalar loop (numpy scalars are slow to index one by one).
    is_missing: list[bool] = []
    is_previous: list[bool] = []
    is_ooo: list[bool] = []
    potential: list[int] = []
    appends: list[int] = []
    skips: list[int] = []
    while cursor < n_points:
        if e == len(is_missing):
            if e:
                d = d.concat(_Draws.draw(rng, _EVENT_CHUNK))
            lo = len(is_missing)
            is_missing += (d.u_missing[lo:] < B_MISSING).tolist()
            is_previous += (d.u_previous[lo:] < B_INSERT_PREVIOUS).tolist()
            is_ooo += (d.u_ooo[lo:] < B_OUT_OF_ORDER).tolist()
            potential += d.ip_cand[lo:].sum(1).tolist()
            appends += d.ooo[lo:].sum(1).tolist()
            skips += (d.miss[lo:] | d.ooo[lo:]).sum(1).tolist()
        c_start.append(c)
        cursor_start.append(cursor)
        if is_missing[e]:
            kinds.append(_MISSING)
            cursor = min(n_points, cursor + BATCH)
        elif b > 0 and is_previous[e]:
            kinds.append(_PREVIOUS)
            b -= 1
        else:
            ooo = is_ooo[e]
            kinds.append(_OOO if ooo else _NORMAL)
            pops = c if c < potential[e] else potential[e]
            need = BATCH - pops + skips[e]
            if cursor + need > n_points:
                partial = (e, c, cursor)
                e += 1
                break
            c += appends[e] - pops
            cursor += need
            if ooo:
                b += 1
        e += 1
    n_ev = e
    kind = np.array(kinds, dtype=np.int8)
    c0 = np.array(c_start, dtype=np.int64)
    cur0 = np.array(cursor_start, dtype=np.int64)
    gen = np.flatnonzero((kind == _NORMAL) | (kind == _OOO))
    if partial is not None:
        gen = gen[gen != partial[0]]
    # ---- slots of the complete generated batches: (G, 10) flagged slots + fill slots.
    ip = d.ip_cand[gen] & (np.cumsum(d.ip_cand[gen], axis=1) <= c0[gen, None])
    miss, ooo = d.miss[gen], d.ooo[gen]
    fate = np.where(miss, _DROP, np.where(ooo, _QUEUE, _OUT)).astype(np.int8)
    from_base = ~ip
    base_idx = cur0[gen, None] + np.cumsum(from_base, axis=1) - 1
    base_idx = np.where(from_base, base_idx, -1)
    fill = (miss | ooo).sum(1)
    n_from_base = from_base.sum(1)
    # Flattened slot table, in global processing order (batch, slot; fill slots last).
    total = BATCH + fill
    offs = np.concatenate([[0], np.cumsum(total)])
    n_slots = int(offs[-1])
    s_event = np.repeat(gen, total)
    s_pos = np.arange(n_slots) - np.repeat(offs[:-1], total)  # slot number within the batch
    flagged = s_pos < BATCH
    s_pop = np.zeros(n_slots, dtype=bool)
    s_base = np.empty(n_slots, dtype=np.int64)
    s_fate = np.full(n_slots, _OUT, dtype=np.int8)
    fi = np.flatnonzero(flagged)
    s_pop[fi] = ip.reshape(-1)
    s_base[fi] = base_idx.reshape(-1)
    s_fate[fi] = fate.reshape(-1)
    li = np.flatnonzero(~flagged)
    s_base[li] = np.repeat(cur0[gen] + n_from_base, fill) + (s_pos[li] - BATCH)
    # ---- the truncated last batch, slot by slot as TSBS does.
    if partial is not None:
        pe, pc, pcur = partial
        p_pop, p_base, p_fate = _partial_slots(d, pe, pc, pcur, n_points)
        s_event = np.concatenate([s_event, np.full(len(p_pop), pe)])
        s_pos = np.concatenate([s_pos, np.arange(len(p_pop))])
        s_pop = np.concatenate([s_pop, p_pop])
        s_base = np.concatenate([s_base, p_base])
        s_fate = np.concatenate([s_fate, p_fate])
    # ---- FIFO of out-of-order entries: the m-th pop takes the m-th entry put aside.
    pops = np.flatnonzero(s_pop)
    queued = np.flatnonzero(s_fate == _QUEUE)
    pop_rank = np.full(len(s_pop), -1, dtype=np.int64)
    pop_rank[pops] = np.arange(len(pops))
    if len(pops) > len(queued):
        raise AssertionError("more entries taken back than put aside")
    entry = s_base.copy()  # base point each slot holds (resolved below for pops)
    q_entry = entry[queued]
    q_ref = np.where(s_pop[queued], pop_rank[queued], -1)
    # An entry put aside may itself have been taken back: follow the chain.
    unresolved = np.flatnonzero(q_ref >= 0)
    while len(unresolved):
        q_entry[unresolved] = q_entry[q_ref[unresolved]]
        q_ref[unresolved] = q_ref[q_ref[unresolved]]
        unresolved = unresolved[q_ref[unresolved] >= 0]
    entry[pops] = q_entry[: len(pops)]
    leftover = q_entry[len(pops) :]
    # ---- outputs of every generated batch: position i gets the flags of slot i.
    outs = np.flatnonzero(s_fate == _OUT)
    o_event = s_event[outs]
    # Output position within its batch: rank among the batch's outputs.
    first = np.concatenate([[True], o_event[1:] != o_event[:-1]])
    starts = np.flatnonzero(first)
    o_pos = np.arange(len(outs)) - np.repeat(starts, np.diff(np.append(starts, len(outs))))
    o_zf = d.zf[o_event, o_pos].astype(np.int8)
    o_zt = d.zt[o_event, o_pos].astype(np.int8)
    # ---- emission order of the batches: normal ones in place, out-of-order ones when a
    # "previous" configuration sends them (FIFO), the rest when the base stream ends.
    ooo_events = np.flatnonzero(kind == _OOO)
    prev_events = np.flatnonzero(kind == _PREVIOUS)
    if partial is not None and kind[partial[0]] == _OOO and not (o_event == partial[0]).any():
        ooo_events = ooo_events[ooo_events != partial[0]]  # an empty batch is not kept
    emit_rank = np.full(n_ev, -1, dtype=np.int64)
    sent = ooo_events[: len(prev_events)]
    slot_of = np.empty(n_ev, dtype=np.int64)
    slot_of[kind == _NORMAL] = np.flatnonzero(kind == _NORMAL)
    slot_of[prev_events] = sent
    emitters = np.flatnonzero((kind == _NORMAL) | (kind == _PREVIOUS))
    emit_rank[slot_of[emitters]] = np.arange(len(emitters))
    late_batches = ooo_events[len(prev_events) :]
    emit_rank[late_batches] = len(emitters) + np.arange(len(late_batches))
    keep = emit_rank[o_event] >= 0
    order = np.lexsort((o_pos[keep], emit_rank[o_event[keep]]))
    out_idx = outs[keep][order]
    base = np.concatenate([entry[out_idx], leftover])
    zf = np.concatenate([o_zf[keep][order], np.full(len(leftover), -1, dtype=np.int8)])
    zt = np.concatenate([o_zt[keep][order], np.full(len(leftover), -1, dtype=np.int8)])
    late_rows = int(np.isin(o_event[keep], late_batches).sum()) + len(leftover)
    counts = {
        "base_points": n_points,
        "batch_configs": n_ev,
        "missing_batches": int((kind == _MISSING).sum()),
        "out_of_order_batches": len(ooo_events),
        "late_batches": len(late_batches),
        "missing_entries": int((s_fate == _DROP).sum()),
        "out_of_order_entries": len(queued),
        "late_entries": len(leftover),
        "late_rows": late_rows,
        "emitted": len(base),
        "zeroed_fields": int((zf >= 0).sum()),
        "nil_tags": int((zt >= 0).sum()),
    }
    return _Stream(base, zf, zt, counts)


def _partial_slots(
    d: _Draws, e: int, c: int, cursor: int, n_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slots of a batch that runs out of base points, processed as TSBS's ``generateBatch``.

    Returns ``(is_pop, base index or -1, fate)`` per slot processed; TSBS would read past the
    last epoch, this stops there.
    """
    cand = d.ip_cand[e]
    ip = cand & (np.cumsum(cand) <= c)
    pop: list[bool] = []
    base: list[int] = []
    fates: list[int] = []
    offset = 0
    outputs = 0
    for i in range(BATCH):
        if cursor >= n_points:
            break
        valid = True
        while True:
            k = i + offset
            if k < BATCH and ip[k]:
                pop.append(True)
                base.append(-1)
            else:
                if cursor >= n_points:
                    valid = False
                    break
                pop.append(False)
                base.append(cursor)
                cursor += 1
            if k < BATCH and d.miss[e, k]:
                fates.append(_DROP)
                offset += 1
                continue
            if k < BATCH and d.ooo[e, k]:
                fates.append(_QUEUE)
                offset += 1
                continue
            fates.append(_OUT)
            outputs += 1
            break
        if not valid:
            break
    return np.array(pop, dtype=bool), np.array(base, dtype=np.int64), np.array(fates, np.int8)


def reference_order(n_points: int, seed: int) -> list[tuple[int, int, int]]:
    """TSBS's ``iot.Simulator`` transcribed line by line (slow; for checking ``_simulate``).

    Uses the same draws as the vectorised simulator for ``seed``. Returns the emitted entries
    as ``(base point index, cleared field or -1, cleared tag or -1)``.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[_S_BATCHES])
    d = _Draws.draw(rng, _EVENT_CHUNK)
    made = 0
    ooo_batches: deque[list[list[int]]] = deque()
    ooo_entries: deque[list[int]] = deque()
    out: list[tuple[int, int, int]] = []
    e = 0

    def base_next() -> list[int] | None:
        nonlocal made
        if made >= n_points:
            return None
        made += 1
        return [made - 1, -1, -1]

    while True:
        if made >= n_points:  # base finished: the pending items
            while ooo_batches:
                out += [tuple(x) for x in ooo_batches.popleft()]  # type: ignore[misc]
            while ooo_entries:
                out.append(tuple(ooo_entries.popleft()))  # type: ignore[arg-type]
            return out
        if e == len(d.u_missing):
            d = d.concat(_Draws.draw(rng, _EVENT_CHUNK))
        if d.u_missing[e] < B_MISSING:
            for _ in range(BATCH):
                if base_next() is None:
                    break
            e += 1
            continue
        if ooo_batches and d.u_previous[e] < B_INSERT_PREVIOUS:
            out += [tuple(x) for x in ooo_batches.popleft()]  # type: ignore[misc]
            e += 1
            continue
        count = len(ooo_entries)
        ip = []
        for i in range(BATCH):
            take = count > 0 and bool(d.ip_cand[e, i])
            count -= int(take)
            ip.append(take)
        batch: list[list[int]] = []
        offset = 0
        for i in range(BATCH):
            if made >= n_points:
                break
            result = None
            while result is None:
                k = i + offset
                if k < BATCH and ip[k]:
                    ent: list[int] | None = ooo_entries.popleft()
                else:
                    ent = base_next()
                    if ent is None:
                        break
                if k < BATCH and d.miss[e, k]:
                    offset += 1
                    continue
                if k < BATCH and d.ooo[e, k]:
                    ooo_entries.append(ent)  # type: ignore[arg-type]
                    offset += 1
                    continue
                result = ent
            if result is None:
                break
            if d.zf[e, i] >= 0:
                result[1] = int(d.zf[e, i])
            if d.zt[e, i] >= 0:
                result[2] = int(d.zt[e, i])
            batch.append(result)
        if d.u_ooo[e] < B_OUT_OF_ORDER:
            if batch:
                ooo_batches.append(batch)
        else:
            out += [tuple(x) for x in batch]  # type: ignore[misc]
        e += 1


# ---------------------------------------------------------------------------- the frames


@dataclass
class IotData:
    """The generated ``readings`` and ``diagnostics`` rows, in the order TSBS emits them.

    Unpacks as ``readings, diagnostics = generate_iot(...)``.

    Attributes
    ----------
    readings : pandas.DataFrame
        ``time`` (``datetime64[ns, UTC]``), the 8 tags (``str``, ``None`` where nil), the 7
        fields (``Float64``, ``<NA>`` where missing).
    diagnostics : pandas.DataFrame
        ``time``, the 8 tags, ``fuel_state`` and ``current_load`` (``Float64``), ``status``
        (``Int64``).
    readings_seq : numpy.ndarray
        Position of each readings row in the emitted stream of both measurements (int64,
        increasing).
    diagnostics_seq : numpy.ndarray
        Likewise for diagnostics.
    counts : dict
        What the simulation did (points, missing, out of order, late, nil ...).
    """

    readings: pd.DataFrame
    diagnostics: pd.DataFrame
    readings_seq: np.ndarray
    diagnostics_seq: np.ndarray
    counts: dict[str, Any]

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.readings
        yield self.diagnostics

    def batches(self, batch_size: int = 10_000) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        """The stream cut into loader batches of ``batch_size`` entries (TSBS ``tsbs_load``
        ``--batch-size``, default 10,000), each split by measurement: ``(readings rows,
        diagnostics rows)`` of the batch, in emission order."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(self.readings_seq) + len(self.diagnostics_seq)
        for lo in range(0, n, batch_size):
            hi = lo + batch_size
            r = np.searchsorted(self.readings_seq, [lo, hi])
            g = np.searchsorted(self.diagnostics_seq, [lo, hi])
            yield (
                self.readings.iloc[r[0] : r[1]],
                self.diagnostics.iloc[g[0] : g[1]],
            )


def _check_scale(scale: int) -> int:
    if int(scale) < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    return int(scale)


def _epochs(days: float, interval_ns: int) -> int:
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    n = round(days * 86_400 * 1_000_000_000) // interval_ns
    if n < 1:
        raise ValueError("days is shorter than one interval: nothing to generate")
    return int(n)


def _frame(
    times: np.ndarray,
    trucks: np.ndarray,
    values: np.ndarray,
    names: tuple[str, ...],
    zf: np.ndarray,
    zt: np.ndarray,
    tags: dict[str, np.ndarray],
    int_fields: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One measurement's frame: time, tags (nil where ``zt``), fields (NA where ``zf``)."""
    cols: dict[str, Any] = {
        "time": pd.DatetimeIndex(times.view("M8[ns]"), copy=False).tz_localize("UTC")
    }
    for k, t in enumerate(TAGS):
        col = tags[t][trucks]
        col[zt == k] = None
        cols[t] = col
    nf = len(names)
    cleared = np.where(zf >= 0, zf % nf, -1)
    for k, f in enumerate(names):
        mask = cleared == k
        if f in int_fields:
            cols[f] = pd.arrays.IntegerArray(values[k].astype(np.int64), mask)
        else:
            cols[f] = pd.arrays.FloatingArray(np.ascontiguousarray(values[k]), mask)
    return pd.DataFrame(cols, copy=False)


def generate_iot(
    scale: int = 100,
    days: float = 1.0,
    seed: int = 0,
    start: str | pd.Timestamp = "2016-01-01",
    *,
    interval: str | pd.Timedelta = "10s",
    check: bool = False,
) -> IotData:
    """Generate TSBS ``iot`` data: the ``readings`` and ``diagnostics`` rows as TSBS emits them.

    Parameters
    ----------
    scale : int
        Number of trucks (TSBS ``--scale``).
    days : float
        Span in days (TSBS ``--timestamp-end`` minus start).
    seed : int
        Random seed: the same seed gives the same data.
    start : str or pandas.Timestamp
        First timestamp (naive means UTC).
    interval : str or pandas.Timedelta
        Sampling interval (TSBS ``--log-interval``).
    check : bool
        Also run ``reference_order`` (slow, pure Python) and raise ``AssertionError`` unless
        the vectorised simulation emitted exactly the same entries.

    Returns
    -------
    IotData
        The two frames in emission order (out-of-order and late rows where TSBS puts them),
        their positions in the common stream and the counts of what the simulation did.
        Holds every field value of every epoch in memory while generating: about
        ``epochs * scale * 80`` bytes (0.7 GB for 1,000 trucks x 1 day).
    """
    scale = _check_scale(scale)
    ts = pd.Timestamp(start)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    iv = pd.Timedelta(interval).value
    if iv <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    epochs = _epochs(days, iv)
    n_points = epochs * 2 * scale
    tags = _tag_values(scale, seed)
    readings_v, diag_v = _values(scale, epochs, seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[_S_BATCHES])
    stream = _simulate(n_points, rng)
    if check:
        ref = reference_order(n_points, seed)
        got = list(
            zip(
                stream.base.tolist(),
                stream.zero_field.tolist(),
                stream.zero_tag.tolist(),
                strict=True,
            )
        )
        if got != ref:
            i = next((i for i, (a, b) in enumerate(zip(got, ref, strict=False)) if a != b), None)
            raise AssertionError(
                f"vectorised simulation differs from the reference: {len(got)} vs {len(ref)} "
                f"entries, first difference at {i}"
            )
    base = stream.base
    epoch = base // (2 * scale)
    within = base % (2 * scale)
    meas = within // scale
    truck = within % scale
    times = ts.value + epoch * iv
    pos = np.arange(len(base), dtype=np.int64)
    frames = []
    for m, (names, vals) in enumerate(
        ((READINGS_FIELDS, readings_v), (DIAGNOSTICS_FIELDS, diag_v))
    ):
        sel = np.flatnonzero(meas == m)
        v = vals[epoch[sel], :, truck[sel]].T  # (fields, rows)
        frames.append(
            (
                _frame(
                    times[sel],
                    truck[sel],
                    v,
                    names,
                    stream.zero_field[sel],
                    stream.zero_tag[sel],
                    tags,
                    int_fields=("status",),
                ),
                pos[sel],
            )
        )
    counts = dict(stream.counts)
    for (df, _seq), label in zip(frames, ("readings", "diagnostics"), strict=True):
        t = pd.DatetimeIndex(df["time"]).asi8
        running = np.maximum.accumulate(t)
        late = running - t
        counts[f"{label}_rows"] = len(df)
        counts[f"{label}_rows_out_of_order"] = int((late > 0).sum())
        counts[f"{label}_max_lateness_s"] = float(late.max() / 1e9) if len(late) else 0.0
        counts[f"{label}_values"] = int(sum(df[f].notna().sum() for f in df.columns[9:]))
    counts["epochs"] = epochs
    return IotData(frames[0][0], frames[1][0], frames[0][1], frames[1][1], counts)


# ------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command line: generate TSBS iot data; print the counts and the time taken."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=int, default=100, help="number of trucks")
    p.add_argument("--days", type=float, default=1.0, help="span in days")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", default="2016-01-01")
    p.add_argument("--check", action="store_true", help="check against reference_order")
    a = p.parse_args(argv)
    t0 = _time.perf_counter()
    data = generate_iot(a.scale, a.days, a.seed, a.start, check=a.check)
    dt = _time.perf_counter() - t0
    for k, v in data.counts.items():
        print(f"{k:>32}: {v:,}" if isinstance(v, int) else f"{k:>32}: {v:g}")
    print(f"generated in {dt:.2f} s" + (" (reference check passed)" if a.check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
