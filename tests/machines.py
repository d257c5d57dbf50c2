"""Synthetic machine data shared by the multivariate detector tests (not a test module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def machine(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Four correlated measures driven by one load signal, plus independent noise."""
    rng = np.random.default_rng(seed)
    load = np.sin(np.arange(n) / 50.0) + 0.3 * rng.normal(size=n)
    return pd.DataFrame(
        {
            "current": load + 0.1 * rng.normal(size=n),
            "pressure": 2.0 * load + 0.1 * rng.normal(size=n),
            "flow": -load + 0.1 * rng.normal(size=n),
            "vibration": 0.5 * rng.normal(size=n),
        }
    )


#: Constructor options every multivariate detector is tested under.
SETUPS: dict[str, dict[str, int]] = {
    "raw": {},
    "window": {"window": 10},
    "window+smooth": {"window": 10, "smooth": 5},
}
