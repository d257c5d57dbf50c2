"""A simulated factory fleet: the data of the demo, the notebooks and the tests.

Machines in several factories report temperature, pressure, vibration and energy on their own
clocks (a per-machine phase and jitter), with a slow daily cycle, noise, and occasional faults.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["factory_fleet"]


def factory_fleet(
    start: object = "2024-01-01",
    end: object = "2024-01-02",
    *,
    machines: int = 100,
    factories: int = 4,
    interval: str = "10s",
    jitter: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Readings of a fleet of machines between ``start`` (inclusive) and ``end`` (exclusive).

    Parameters
    ----------
    start, end : time-like
        The time span, UTC.
    machines, factories : int
        Fleet size; machine ``m-0007`` is in factory ``f-<7 % factories>``.
    interval : str
        Nominal reporting interval.
    jitter : float
        Each machine's clock has a random phase in ``[0, interval)`` and per-point jitter of up
        to ``jitter * interval`` (0 gives an aligned fleet).
    seed : int
        Random seed.

    Returns
    -------
    DataFrame
        ``time`` (UTC), ``device_id``, ``factory``, ``temperature``, ``pressure``,
        ``vibration``, ``energy``; ordered by time.
    """
    rng = np.random.default_rng(seed)
    t0 = (
        pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else pd.Timestamp(start)
    )
    t1 = pd.Timestamp(end, tz="UTC") if pd.Timestamp(end).tzinfo is None else pd.Timestamp(end)
    step = pd.Timedelta(interval).value
    n = int((t1 - t0).value // step)
    phase = (rng.random(machines) * step * (jitter > 0)).astype(np.int64)
    base = t0.value + np.arange(n, dtype=np.int64)[:, None] * step + phase[None, :]
    if jitter > 0:
        base = base + (rng.uniform(-jitter, jitter, (n, machines)) * step / 2).astype(np.int64)
    time = base.ravel()
    keep = (time >= t0.value) & (time < t1.value)
    hours = (time - t0.value) / 3.6e12
    daily = np.sin(2 * np.pi * hours / 24.0)
    mach = np.tile(np.arange(machines), n)
    temp0 = rng.normal(70, 5, machines)[mach]
    temperature = temp0 + 5 * daily + rng.normal(0, 0.5, len(time))
    pressure = 100 + 2 * daily + rng.normal(0, 0.3, len(time))
    vibration = np.abs(rng.normal(1.0, 0.2, len(time)))
    energy = 40 + 10 * daily + rng.normal(0, 1, len(time))
    faulty = rng.random(machines) < 0.05  # a few machines overheat in the second half
    hot = faulty[mach] & (hours > (t1 - t0).total_seconds() / 7200)
    temperature = temperature + hot * 15.0
    vibration = vibration + hot * 1.5
    df = pd.DataFrame(
        {
            "time": pd.to_datetime(time, unit="ns", utc=True),
            "device_id": np.array([f"m-{i:04d}" for i in range(machines)], dtype=object)[mach],
            "factory": np.array([f"f-{i % factories}" for i in range(machines)], dtype=object)[
                mach
            ],
            "temperature": temperature.round(3),
            "pressure": pressure.round(3),
            "vibration": vibration.round(4),
            "energy": energy.round(3),
        }
    )
    df = df[keep]
    return df.sort_values("time", kind="stable").reset_index(drop=True)
