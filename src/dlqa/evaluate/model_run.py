"""Running the model of ``[eval]`` over the samples of an eval set.

Two ways to name a model:

* ``model`` (a factory ``() -> nn.Module``) with ``weights`` (a ``state_dict`` file) and
  ``transform`` (one decoded input -> one tensor): dlqa batches the tensors, runs the module
  in eval mode without gradients, takes ``softmax`` of its outputs (``outputs = "logits"``)
  and, with ``embedding_layer``, the output of that named module through a forward hook;
* ``predict`` (a function ``(list of inputs) -> (n, C) array``, or ``(probs, embeddings)``):
  any inference path, such as an exported bundle's predictor.

A decoded input is a ``PIL.Image`` for an image file, the text for a text sample and the file
path for audio. An input the transform or the model fails on is a failure of that sample,
named with its error, and the rest of the set is still evaluated: a batch that raises is run
again one sample at a time to find which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample
from dlqa.train.setup import load_object

TORCH_HINT = "install the torch extra: pip install 'dlqa[torch]'"
MAX_REASON = 300


@dataclass
class ModelOutputs:
    """Per sample of the set: probabilities (rows of failed samples are NaN), embeddings,
    and sample index -> why the model could not predict it."""

    probs: np.ndarray
    embeddings: np.ndarray | None
    failures: dict[int, str] = field(default_factory=dict)


def decode_input(sample: Sample, modality: str) -> Any:
    """What a transform or predict function receives for one sample."""
    if modality == "text":
        if sample.text is not None:
            return sample.text
        return Path(str(sample.path)).read_text(encoding="utf-8", errors="replace")
    if modality == "image" and sample.path:
        from PIL import Image

        with Image.open(sample.path) as image:
            image.load()
            return image.copy()
    if sample.array is not None:
        return sample.array
    return sample.path


class Predictor:
    """``predict(inputs) -> (probs, embeddings or None)`` over one batch of decoded inputs."""

    def __init__(self, run: Callable[[list[Any]], tuple[np.ndarray, np.ndarray | None]]):
        self._run = run

    def predict(self, inputs: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        return self._run(inputs)


def load_predictor(section: Any, base_dir: Path) -> Predictor:
    """The predictor ``[eval]`` names; a missing or bad setting is a UsageError."""
    search = [base_dir / p for p in section.python_path]
    if section.predict:
        function = load_object(section.predict, search_path=search, key="predict", section="eval")
        return Predictor(lambda inputs: _as_outputs(function(inputs), section.outputs))
    if not section.model:
        raise UsageError(
            "[eval] names no model",
            hint='set [eval] model = "module:factory" (with weights and transform), '
            'or predict = "module:function"',
        )
    if not section.transform:
        raise UsageError(
            "[eval] model needs a transform: one decoded input -> one tensor",
            hint='set [eval] transform = "module:function" (the eval-time preprocessing)',
        )
    try:
        import torch
    except ImportError:
        raise UsageError("evaluating a PyTorch model needs torch", hint=TORCH_HINT) from None
    module = load_module(section.model, section.weights, search, base_dir)
    transform = load_object(section.transform, search_path=search, key="transform", section="eval")
    captured: list[Any] = []
    if section.embedding_layer:
        layers = dict(module.named_modules())
        if section.embedding_layer not in layers:
            names = [name for name in layers if name][:20]
            raise UsageError(
                f"[eval] embedding_layer {section.embedding_layer!r} is not a module of the model",
                hint=f"named modules: {', '.join(names)}",
            )
        layers[section.embedding_layer].register_forward_hook(
            lambda _module, _inputs, output: captured.append(output)
        )

    def run(inputs: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
        batch = torch.stack([torch.as_tensor(transform(x)) for x in inputs])
        captured.clear()
        with torch.no_grad():
            outputs = module(batch)
        embeddings = None
        if captured:
            embeddings = captured[-1].detach().flatten(1).double().numpy()
        return _as_outputs(outputs.detach().double().numpy(), section.outputs)[0], embeddings

    return Predictor(run)


def load_module(
    factory_path: str,
    weights: str | None,
    search: list[Path],
    base_dir: Path,
    section: str = "eval",
) -> Any:
    """The ``nn.Module`` a ``module:factory`` setting builds, with its ``weights`` loaded, in
    eval mode; a bad setting is a UsageError naming ``[section]``'s key."""
    import torch

    factory = load_object(factory_path, search_path=search, key="model", section=section)
    module = factory()
    if not isinstance(module, torch.nn.Module):
        raise UsageError(
            f"[{section}] model {factory_path!r} returned {type(module).__name__}, not an nn.Module"
        )
    if weights:
        _load_weights(module, base_dir / weights, torch, section)
    return module.eval()


def _load_weights(module: Any, path: Path, torch: Any, section: str) -> None:
    if not path.is_file():
        raise UsageError(f"[{section}] weights: no file {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except Exception as exc:
        raise UsageError(
            f"[{section}] weights {path}: cannot load into the model: {type(exc).__name__}: "
            f"{str(exc)[:MAX_REASON]}",
            hint="weights must be the model's state_dict, saved with torch.save",
        ) from None


def _as_outputs(returned: Any, outputs: str) -> tuple[np.ndarray, np.ndarray | None]:
    embeddings = None
    if isinstance(returned, tuple):
        returned, embeddings = returned
        embeddings = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    scores = np.asarray(returned, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"the model returned shape {scores.shape}; expected (batch, classes)")
    if outputs == "logits":
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        scores = exp / exp.sum(axis=1, keepdims=True)
    return scores, embeddings


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def run_model(
    predictor: Predictor,
    samples: Sequence[Sample],
    modality: str,
    *,
    batch_size: int = 64,
    advance: Callable[[int], None] | None = None,
) -> ModelOutputs:
    """The model's outputs on every sample; failures per sample, never a dead run."""
    n = len(samples)
    probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    failures: dict[int, str] = {}
    for start in range(0, n, batch_size):
        indices = list(range(start, min(start + batch_size, n)))
        decoded: list[tuple[int, Any]] = []
        for i in indices:
            if samples[i].error:
                failures[i] = f"the file does not decode ({samples[i].error})"
                continue
            try:
                decoded.append((i, decode_input(samples[i], modality)))
            except Exception as exc:
                failures[i] = f"reading the input raised {_reason(exc)}"
        for rows, (p, e) in _predict_isolating(predictor, decoded, failures):
            if probs is None:
                probs = np.full((n, p.shape[1]), np.nan)
            if p.shape[1] != probs.shape[1]:
                raise UsageError(
                    f"the model returned {p.shape[1]} classes for some inputs and "
                    f"{probs.shape[1]} for others"
                )
            probs[rows] = p
            if e is not None:
                if embeddings is None:
                    embeddings = np.full((n, e.shape[1]), np.nan)
                embeddings[rows] = e
        if advance is not None:
            advance(len(indices))
    if probs is None:
        first = next(iter(failures.values()), "no samples")
        raise UsageError(f"the model produced no prediction on any input (first: {first})")
    return ModelOutputs(probs, embeddings, failures)


def _predict_isolating(
    predictor: Predictor, decoded: list[tuple[int, Any]], failures: dict[int, str]
) -> list[tuple[list[int], tuple[np.ndarray, np.ndarray | None]]]:
    """The batch's outputs; when it raises, each input alone, so one bad input costs itself."""
    if not decoded:
        return []
    rows = [i for i, _ in decoded]
    try:
        return [(rows, _checked(predictor.predict([x for _, x in decoded]), len(rows)))]
    except Exception as exc:
        if len(decoded) == 1:
            failures[rows[0]] = f"the model raised {_reason(exc)}"
            return []
    done = []
    for i, x in decoded:
        try:
            done.append(([i], _checked(predictor.predict([x]), 1)))
        except Exception as exc:
            failures[i] = f"the model raised {_reason(exc)}"
    return done


def _checked(
    outputs: tuple[np.ndarray, np.ndarray | None], n: int
) -> tuple[np.ndarray, np.ndarray | None]:
    probs, embeddings = outputs
    if probs.shape[0] != n:
        raise ValueError(f"the model returned {probs.shape[0]} rows for {n} inputs")
    return probs, embeddings
