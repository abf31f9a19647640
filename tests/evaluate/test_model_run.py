"""Running a model over an eval set: one bad input costs itself, never the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.evaluate.model_run import Predictor, load_predictor, run_model
from dlqa.sources.base import Sample


def samples(n: int) -> list[Sample]:
    return [Sample(sample_id=f"s{i}", index=i, text=f"text {i}") for i in range(n)]


def predictor_failing_on(bad: set[str]) -> Predictor:
    def run(inputs):
        if any(x in bad for x in inputs):
            raise RuntimeError("cannot read this one")
        scores = np.array([[float(len(x)), 1.0] for x in inputs])
        return scores, np.ones((len(inputs), 3))

    return Predictor(run)


def test_a_batch_that_raises_is_retried_input_by_input():
    outputs = run_model(predictor_failing_on({"text 3"}), samples(10), "text", batch_size=4)
    assert set(outputs.failures) == {3}
    assert "cannot read this one" in outputs.failures[3]
    assert np.isnan(outputs.probs[3]).all()
    assert np.isfinite(np.delete(outputs.probs, 3, axis=0)).all()
    assert outputs.embeddings.shape == (10, 3)


def test_a_sample_that_does_not_decode_is_a_failure_not_a_crash():
    items = samples(3)
    items[1] = Sample(sample_id="s1", index=1, path="/nope.png", error="truncated")
    outputs = run_model(predictor_failing_on(set()), items, "text")
    assert outputs.failures == {1: "the file does not decode (truncated)"}


def test_every_input_failing_is_a_usage_error():
    with pytest.raises(UsageError, match="no prediction on any input"):
        run_model(predictor_failing_on({"text 0", "text 1"}), samples(2), "text")


def section(**values):
    defaults = {"predict": None, "model": None, "transform": None, "weights": None,
                "outputs": "logits", "embedding_layer": None, "python_path": ["."]}  # fmt: skip
    return SimpleNamespace(**{**defaults, **values})


def test_logits_become_probabilities(tmp_path: Path):
    (tmp_path / "scorer.py").write_text(
        "import numpy as np\ndef predict(inputs):\n    return np.zeros((len(inputs), 4))\n"
    )
    predictor = load_predictor(section(predict="scorer:predict"), tmp_path)
    probs, embeddings = predictor.predict(["a", "b"])
    assert np.allclose(probs, 0.25) and embeddings is None


def test_missing_model_settings_are_usage_errors(tmp_path: Path):
    with pytest.raises(UsageError, match="names no model"):
        load_predictor(section(), tmp_path)
    with pytest.raises(UsageError, match="needs a transform"):
        load_predictor(section(model="x:y"), tmp_path)
    with pytest.raises(UsageError, match="cannot import module"):
        load_predictor(section(predict="no_such_module_here:f"), tmp_path)


def test_an_unknown_embedding_layer_names_the_modules(tmp_path: Path):
    pytest.importorskip("torch")
    (tmp_path / "tiny_net.py").write_text(
        "import torch\n"
        "def build():\n    return torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())\n"
        "def transform(x):\n    return torch.zeros(2)\n"
    )
    spec = section(model="tiny_net:build", transform="tiny_net:transform", embedding_layer="fc")
    with pytest.raises(UsageError, match="named modules: 0, 1"):
        load_predictor(spec, tmp_path)
    spec.embedding_layer = "0"
    hooked = load_predictor(spec, tmp_path)
    probs, embeddings = hooked.predict([None, None])
    assert probs.shape == (2, 3) and embeddings.shape == (2, 3)
