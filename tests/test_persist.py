"""Models saved without pickle (skops) and loaded with an allow-list of types."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsstore.anomaly import ForecastResidual, RollingZScore, load_model, save_model
from tsstore.anomaly.persist import untrusted_types
from tsstore.errors import ValidationError


@pytest.mark.parametrize(
    "model", [RollingZScore(window=30, threshold=0.8), ForecastResidual(alpha=0.2)]
)
def test_detectors_round_trip_with_their_scores(model, tmp_path):
    x = np.random.default_rng(0).normal(size=500)
    model.fit(x)
    path = save_model(model, tmp_path / "m.skops")
    back = load_model(path)
    assert type(back) is type(model) and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.score_samples(x), model.score_samples(x))


def test_fitted_scikit_learn_models_round_trip(tmp_path):
    X = np.random.default_rng(1).normal(size=(300, 4))
    model = make_pipeline(StandardScaler(), IsolationForest(random_state=0)).fit(X)
    back = load_model(save_model(model, tmp_path / "if.skops"))
    np.testing.assert_array_equal(back.score_samples(X), model.score_samples(X))


def test_the_file_holds_no_pickle(tmp_path):
    path = save_model(RollingZScore().fit([1.0, 2.0]), tmp_path / "m.skops")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "schema.json" in names
        for n in names:
            assert not z.read(n).startswith(b"\x80"), f"{n} looks like a pickle"


def test_a_file_with_foreign_types_is_refused(tmp_path):
    class Sneaky:
        pass

    import skops.io as sio

    path = tmp_path / "bad.skops"
    sio.dump({"payload": np.int64(1), "obj": Sneaky()}, path)
    assert any("Sneaky" in t for t in untrusted_types(path))
    with pytest.raises(ValidationError, match=r"does not trust.*Sneaky"):
        load_model(path)


def test_unreadable_files_say_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.skops")
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a zip")
    from tsstore.errors import StorageError

    with pytest.raises(StorageError, match="not a readable"):
        load_model(bad)
