"""Models on disk without pickle: ``skops.io``, loaded with an allow-list of types.

A pickle runs whatever code its author wrote when it is loaded. A ``.skops`` file is a zip of
JSON (the object tree) and ``.npy`` arrays; loading it builds only types on an allow-list, so a
model file from someone else cannot run code. tsstore's allow-list is: classes of tsstore's
own models and of scikit-learn (:data:`TRUSTED_PREFIXES`: skops builds them from their stored
attributes, without calling anything a file names), NumPy's random-state types, and what skops
trusts by default. Anything else in a file is refused with its type named; pass ``trusted=`` to
accept types you have checked. The format is documented in ``docs/anomaly.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import skops.io as sio

from tsstore.errors import StorageError, ValidationError

__all__ = ["TRUSTED_PREFIXES", "load_model", "save_model", "untrusted_types"]

#: Classes from these packages load without asking: tsstore's models and scikit-learn's.
TRUSTED_PREFIXES = ("tsstore.anomaly.", "sklearn.")

#: Types skops leaves out of its default list that every fitted scikit-learn model holds.
_SAFE_TYPES = (
    "builtins.slice",
    "numpy.dtype",
    "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.bit_generator.SeedSequence",
)


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted model to ``path`` (``.skops``: JSON + NumPy arrays in a zip, no pickle).

    Examples
    --------
    >>> from tsstore.anomaly import RollingZScore
    >>> p = save_model(RollingZScore(window=30).fit([1.0, 2.0, 3.0]), "/tmp/doctest-z.skops")
    >>> load_model(p).window
    30
    """
    path = Path(path)
    try:
        sio.dump(model, path)
    except (TypeError, NotImplementedError) as e:
        raise ValidationError(
            f"{type(model).__name__} cannot be saved without pickle ({e}); tsstore saves "
            "scikit-learn estimators and tsstore.anomaly models"
        ) from e
    return path


def untrusted_types(path: str | os.PathLike[str]) -> list[str]:
    """The types in a model file that loading would have to trust, tsstore's own left out."""
    try:
        found = sio.get_untrusted_types(file=Path(path))
    except FileNotFoundError:
        raise
    except Exception as e:
        raise StorageError(f"{path} is not a readable .skops model file: {e}") from e
    return [t for t in found if not t.startswith(TRUSTED_PREFIXES) and t not in _SAFE_TYPES]


def load_model(path: str | os.PathLike[str], *, trusted: Sequence[str] = ()) -> Any:
    """Read a model written by :func:`save_model`, building only allow-listed types.

    Parameters
    ----------
    path : str or path
    trusted : sequence of str
        Further fully qualified type names you accept (check them first: they are what the
        file's author chose to put in it).

    Raises
    ------
    ValidationError
        The file holds types outside the allow-list (named, with how to accept them).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    unknown = [t for t in untrusted_types(path) if t not in set(trusted)]
    if unknown:
        raise ValidationError(
            f"{path} holds types tsstore does not trust: {unknown}. Loading builds them, so a "
            "file from someone else could run their code; if you know these types are safe, "
            f"pass load_model(path, trusted={unknown!r})"
        )
    allowed = [t for t in sio.get_untrusted_types(file=path)]
    return sio.load(path, trusted=allowed)
