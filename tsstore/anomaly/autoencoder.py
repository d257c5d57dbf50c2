"""An autoencoder detector: a small neural network that reconstructs normal operation.

:class:`AutoencoderDetector` is the multivariate pipeline of
:mod:`tsstore.anomaly.multivariate` (window features, standardisation with the training
statistics, a statistic over its control limit, optional causal smoothing, ``r / (r + 1)``)
with a scikit-learn :class:`~sklearn.neural_network.MLPRegressor` as the model: trained to
reproduce its own standardised input through a narrow middle layer (the *bottleneck*), it learns
how the features of normal operation move together. A row is scored by its squared
reconstruction error, the autoencoder's analogue of PCA's Q (SPE): a non-linear version of
:class:`~tsstore.anomaly.multivariate.PCADetector` with ``combine="q"``. SKAB's best published
model is a convolutional autoencoder (Conv-AE, F1 0.78); this is the dense, CPU-only analogue.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from tsstore.anomaly.multivariate import _DEFAULT_STATS, _MultivariateDetector
from tsstore.errors import ValidationError

__all__ = ["AutoencoderDetector"]

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
_SOLVERS = ("lbfgs", "adam", "sgd")


class AutoencoderDetector(_MultivariateDetector):
    """A dense autoencoder of normal operation, scored by its squared reconstruction error.

    ``fit`` standardises the training features and trains an
    :class:`~sklearn.neural_network.MLPRegressor` to map them onto themselves through the
    ``hidden`` layers, the narrowest of which (the bottleneck) forces it to keep only how the
    features of normal operation vary together. A row's statistic is its squared
    reconstruction error summed over the features, ``e = sum_j (z_j - zhat_j)²``, divided by
    its control limit, the ``quantile`` of ``e`` over the training rows: rows that no longer
    follow the learned relations (or leave the learned range) reconstruct badly.

    Parameters
    ----------
    window : int, optional
        Rows of the trailing window for features; None (or 1) scores the raw readings.
    stats : sequence of str, default ("mean", "std", "min", "max", "slope")
        Rolling statistics per measure (:func:`~tsstore.anomaly.features.window_features`).
    bands : int, default 0
        Spectral band energies per measure (0: none).
    smooth : int, optional
        Trailing rows of the persistence filter on the statistic (None: no smoothing).
    smooth_how : {"mean", "max"}, default "mean"
        Rolling mean or max of the statistic over ``smooth`` rows.
    hidden : sequence of int or float, default (1.0, 0.5, 1.0)
        Units of each hidden layer: an int is a count, a float a multiple of the number of
        features (rounded up, at least 1). The default is as wide as the input with a
        bottleneck of half of it; ``(16, 4, 16)`` fixes the sizes.
    activation : {"tanh", "relu", "logistic", "identity"}, default "tanh"
        Activation of the hidden layers (the output layer is linear). ``"identity"`` makes it a
        linear autoencoder, which spans the same subspace as PCA.
    solver : {"lbfgs", "adam", "sgd"}, default "lbfgs"
        Optimiser. L-BFGS suits the small training sets of a machine's normal operation (a few
        hundred to a few thousand rows) and is deterministic; ``"adam"`` scales to more rows.
    alpha : float, default 1e-3
        L2 penalty on the weights (larger: smoother reconstructions).
    max_iter : int, default 500
        Iterations of the solver (epochs for adam and sgd). Stopping there is not an error:
        the ``ConvergenceWarning`` is silenced and :attr:`n_iter_` tells.
    tol : float, default 1e-4
        Tolerance of the solver.
    quantile : float, default 0.99
        The control limit: this quantile of the training reconstruction errors.
    random_state : int, default 0
        Seed of the weight initialisation (fixed, so that fits are repeatable).
    threshold : float, default 0.5
        ``predict`` reports scores at or above it (0.5: at the control limit).

    Attributes
    ----------
    model_ : sklearn.neural_network.MLPRegressor
        The fitted network (standardised features in, their reconstruction out).
    hidden_ : tuple of int
        The hidden layer sizes used.
    n_iter_ : int
        Iterations the solver ran.
    limit_ : float
        The control limit of the squared reconstruction error.
    measures_ : list of str
        The measures seen at fit time, in order.
    feature_names_ : list of str
        The features (``"<measure>__<stat>"``, or the measures for raw readings).

    Notes
    -----
    :meth:`contributions` splits each row's statistic by measure: the squared reconstruction
    errors of a measure's features over the control limit (they sum to the unsmoothed
    statistic), so the measure the network could not reproduce comes first.

    Scores are causal (the network scores each row's features alone), so ``lookback`` rows of
    history before a piece reproduce the scores of the whole history. A network with a
    different ``random_state`` (or another BLAS) converges to slightly different weights: fix
    both when scores must be reproduced elsewhere, or save the fitted detector
    (:func:`tsstore.anomaly.persist.save_model`).

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=2000)
    >>> X = pd.DataFrame({m: a + 0.1 * rng.normal(size=2000) for m in ("a", "b", "c")})
    >>> det = AutoencoderDetector().fit(X[:1000])
    >>> X.loc[1500, "b"] += 1.0  # b no longer follows a and c
    >>> s = det.score_samples(X)
    >>> bool(s[1500] > 0.9), int(det.predict(X)[:1000].sum()) <= 20
    (True, True)
    >>> det.contributions(X).loc[1500].idxmax()
    'b'
    """

    def __init__(
        self,
        window: int | None = None,
        *,
        stats: Sequence[str] = _DEFAULT_STATS,
        bands: int = 0,
        smooth: int | None = None,
        smooth_how: str = "mean",
        hidden: Sequence[int | float] = (1.0, 0.5, 1.0),
        activation: str = "tanh",
        solver: str = "lbfgs",
        alpha: float = 1e-3,
        max_iter: int = 500,
        tol: float = 1e-4,
        quantile: float = 0.99,
        random_state: int | None = 0,
        threshold: float = 0.5,
    ) -> None:
        self.window = window
        self.stats = stats
        self.bands = bands
        self.smooth = smooth
        self.smooth_how = smooth_how
        self.hidden = hidden
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.quantile = quantile
        self.random_state = random_state
        self.threshold = threshold

    # -- parameters ----------------------------------------------------------------------------

    def _check_params(self) -> None:
        super()._check_params()
        if self.activation not in _ACTIVATIONS:
            raise ValidationError(
                f"activation={self.activation!r}: expected one of {list(_ACTIVATIONS)}"
            )
        if self.solver not in _SOLVERS:
            raise ValidationError(f"solver={self.solver!r}: expected one of {list(_SOLVERS)}")
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, int | float) or not a >= 0:
            raise ValidationError(f"alpha={a!r}: expected an L2 penalty >= 0 (e.g. 1e-3)")
        m = self.max_iter
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise ValidationError(f"max_iter={m!r}: expected an integer number of iterations >= 1")
        t = self.tol
        if isinstance(t, bool) or not isinstance(t, int | float) or not t > 0:
            raise ValidationError(f"tol={t!r}: expected a tolerance > 0 (e.g. 1e-4)")
        self._hidden(1)

    def _hidden(self, n_features: int) -> tuple[int, ...]:
        """The hidden layer sizes for ``n_features`` inputs (validates ``hidden``)."""
        h = self.hidden
        if isinstance(h, str) or not isinstance(h, Sequence) or not len(h):
            raise ValidationError(
                f"hidden={h!r}: expected a sequence of layer sizes, e.g. (16, 4, 16) (counts) "
                "or (1.0, 0.5, 1.0) (multiples of the number of features)"
            )
        out = []
        for u in h:
            if isinstance(u, bool):
                bad = True
            elif isinstance(u, int | np.integer):
                bad = u < 1
                units = int(u)
            elif isinstance(u, float | np.floating):
                bad = not (u > 0 and math.isfinite(u))
                units = max(1, math.ceil(float(u) * n_features - 1e-9)) if not bad else 0
            else:
                bad = True
            if bad:
                raise ValidationError(
                    f"hidden={h!r}: each layer is a count (int >= 1) or a multiple of the "
                    f"number of features (float > 0); {u!r} is neither"
                )
            out.append(units)
        return tuple(out)

    # -- the statistic -------------------------------------------------------------------------

    def _fit_model(self, Z: np.ndarray) -> None:
        self.hidden_ = self._hidden(Z.shape[1])
        self.model_ = MLPRegressor(
            hidden_layer_sizes=self.hidden_,
            activation=self.activation,
            solver=self.solver,
            alpha=float(self.alpha),
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            early_stopping=False,
            shuffle=True,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(Z, Z)
        self.n_iter_ = int(self.model_.n_iter_)
        e = self._errors(Z).sum(axis=1)
        self.limit_ = max(float(np.quantile(e, float(self.quantile))), 1e-12)

    def _errors(self, Z: np.ndarray) -> np.ndarray:
        """Squared reconstruction error of every feature (rows x features)."""
        recon = np.asarray(self.model_.predict(Z), dtype=np.float64).reshape(Z.shape)
        d = Z - recon
        return d * d

    def _statistic(self, Z: np.ndarray) -> np.ndarray:
        return self._errors(Z).sum(axis=1) / self.limit_

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        """Each measure's share of the statistic: its features' squared errors over the limit."""
        return self._per_measure(self._errors(Z), "sum") / self.limit_
