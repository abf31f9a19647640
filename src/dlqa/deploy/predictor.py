"""A bundle's predictor: the manifest's preprocessing and an ONNX Runtime session, nothing of
the training code, so that evaluating through it is an independent inference path.

    predictor = deploy.load("bundle/")
    probs = predictor.predict_files(paths)          # (n, C) probabilities
    labels = predictor.classify_files(paths)        # class names, None where it abstains

The guardrails sealed in the manifest are enforced by :meth:`BundlePredictor.decide`: under
``min_confidence`` the predictor abstains; a forbidden class (for every input, or for inputs
whose request context has the rule's slice value) is withheld; probabilities outside
``output_bounds`` are withheld. Every withheld answer is ``None`` with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.deploy.inputs import (
    InputError,
    check_text,
    decode_image,
    finite_batch,
    read_audio,
    to_standard_mode,
)
from dlqa.deploy.manifest import BundleError, read_manifest
from dlqa.deploy.spec import (
    AudioPreprocessing,
    ImagePreprocessing,
    Preprocessing,
    TextPreprocessing,
    read_preprocessing,
)
from dlqa.evaluate.guardrails import Guardrails

ONNX_HINT = "install the torch extra: pip install 'dlqa[torch]' (onnxruntime)"
CHUNK = 64  # rows per ONNX Runtime call for a graph that runs at any batch size


@dataclass(frozen=True)
class Decision:
    """The served answer for one input: a class, or ``None`` with why it was withheld."""

    label: str | None
    confidence: float
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": self.confidence, "reason": self.reason}


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def onnx_session(path: Path, threads: int | None = None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("onnxruntime is not installed", hint=ONNX_HINT) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise BundleError(f"ONNX Runtime cannot load {path}: {exc}") from None


class BundlePredictor:
    """Inference through a bundle; see the module docstring."""

    def __init__(self, folder: Path, manifest: dict[str, Any], session: Any) -> None:
        self.folder = folder
        self.manifest = manifest
        self.session = session
        self.modality: str = manifest["modality"]
        self.spec: Preprocessing = read_preprocessing(self.modality, manifest["preprocessing"])
        self.class_names: list[str] = list(manifest["class_names"])
        rails = manifest.get("guardrails")
        self.guardrails = Guardrails.model_validate(rails) if rails else None
        self.input_name: str = manifest["input"]["name"]
        self.input_shape = tuple(manifest["input"]["shape"])
        self.output_kind: str = manifest["output"]["kind"]
        self.batch_size = int(manifest["input"].get("example_batch", 1))
        self.batch_free = bool(manifest["input"].get("batch_free", False))
        self._tokenizer: Any = None

    # -- arrays ------------------------------------------------------------------------------
    def predict_arrays(self, batch: Any) -> np.ndarray:
        """(n, C) probabilities for a batch of model inputs (already preprocessed).

        When the export found that the graph answers alike at batch size 1
        (``input.batch_free``), chunks of up to :data:`CHUNK` rows run as they are. A graph
        that baked its batch size in runs only at the export's batch size, the last chunk
        padded with copies of its first row: requests still get right answers, and the
        fault is the batch sweep's finding (``deploy.batch_sweep``).
        """
        dtype = np.int64 if self.manifest["input"]["dtype"] == "int64" else np.float32
        array = finite_batch(batch, self.input_shape).astype(dtype, copy=False)
        if isinstance(self.spec, TextPreprocessing) and array.size:
            vocabulary = self.tokenizer().get_vocab_size()
            if array.min() < 0 or array.max() >= vocabulary:
                raise InputError(
                    f"token ids must lie in 0..{vocabulary - 1} (the tokenizer's vocabulary), "
                    f"got {int(array.min())}..{int(array.max())}"
                )
        size = CHUNK if self.batch_free else self.batch_size
        parts = []
        for start in range(0, len(array), size):
            chunk = array[start : start + size]
            if not self.batch_free and len(chunk) < size:
                chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - len(chunk), axis=0)])
            rows = min(size, len(array) - start)
            parts.append(self.session.run(None, {self.input_name: chunk})[0][:rows])
        if not parts:
            return np.zeros((0, len(self.class_names)))
        scores = np.concatenate(parts).astype(np.float64)
        return softmax(scores) if self.output_kind == "logits" else scores

    # -- images ------------------------------------------------------------------------------
    def preprocess_image(self, image: Any) -> np.ndarray:
        if not isinstance(self.spec, ImagePreprocessing):
            raise UsageError(f"this bundle's model takes {self.modality}, not images")
        return self.spec.apply(to_standard_mode(image))

    def predict_images(self, images: Sequence[Any]) -> np.ndarray:
        """(n, C) probabilities for decoded PIL images."""
        return self.predict_arrays(np.stack([self.preprocess_image(i) for i in images]))

    def preprocess_file(self, source: bytes | Path | str) -> np.ndarray:
        """One file (a path or its bytes) as the model's input; InputError when refused."""
        if isinstance(self.spec, ImagePreprocessing):
            return self.spec.apply(decode_image(source))
        if isinstance(self.spec, AudioPreprocessing):
            audio, rate = read_audio(source)
            return self.spec.apply(audio, rate)
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        return self.encode_texts([text])[0]

    def predict_files(self, paths: Sequence[Path | str]) -> np.ndarray:
        """(n, C) probabilities for image, audio or text files; a file the serving path refuses
        raises :class:`InputError` naming it."""
        arrays = []
        for path in paths:
            try:
                arrays.append(self.preprocess_file(path))
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from None
        if not arrays:
            return np.zeros((0, len(self.class_names)))
        return self.predict_arrays(np.stack(arrays))

    def classify_files(
        self, paths: Sequence[Path | str], context: Sequence[Mapping[str, Any]] | None = None
    ) -> list[str | None]:
        """The served class of each file; ``None`` where the guardrails withhold it."""
        return [d.label for d in self.decide(self.predict_files(paths), context)]

    # -- text --------------------------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not isinstance(self.spec, TextPreprocessing):
            raise UsageError(f"this bundle's model takes {self.modality}, not texts")
        spec = self.spec
        cleaned = [check_text(t) for t in texts]
        if spec.lowercase:
            cleaned = [t.lower() for t in cleaned]
        ids = np.full((len(cleaned), spec.max_length), spec.pad_id, dtype=np.int64)
        for row, encoding in enumerate(self.tokenizer().encode_batch(cleaned)):
            tokens = encoding.ids[: spec.max_length]
            ids[row, : len(tokens)] = tokens
        return ids

    def tokenizer(self) -> Any:
        """The bundle's ``tokenizers`` tokenizer (text bundles), loaded once."""
        if self._tokenizer is None:
            assert isinstance(self.spec, TextPreprocessing)
            try:
                from tokenizers import Tokenizer
            except ImportError:
                raise UsageError(
                    "tokenizers is not installed", hint="pip install 'dlqa[text]'"
                ) from None
            self._tokenizer = Tokenizer.from_file(str(self.folder / self.spec.tokenizer))
        return self._tokenizer

    def predict_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, C) probabilities for texts (the bundle's tokenizer, cut/padded to max_length)."""
        return self.predict_arrays(self.encode_texts(texts))

    # -- guardrails --------------------------------------------------------------------------
    def decide(
        self, probs: np.ndarray, context: Sequence[Mapping[str, Any]] | None = None
    ) -> list[Decision]:
        """The answer per row of ``probs`` under the manifest's guardrails. ``context`` gives
        per input the slice values a forbidden-output rule may select on."""
        decisions = []
        for row, p in enumerate(np.asarray(probs, dtype=np.float64)):
            top = int(np.argmax(p))
            label, confidence = self.class_names[top], float(p[top])
            reason = self._withheld(p, label, confidence, context[row] if context else {})
            decisions.append(Decision(None if reason else label, confidence, reason))
        return decisions

    def _withheld(
        self, p: np.ndarray, label: str, confidence: float, context: Mapping[str, Any]
    ) -> str | None:
        if not np.isfinite(p).all():  # NaN slips past every comparison below
            return "non-finite output probabilities"
        rails = self.guardrails
        if rails is None:
            return None
        if rails.output_bounds is not None:
            low, high = rails.output_bounds
            if p.min() < low or p.max() > high:
                return f"an output probability lies outside [{low}, {high}]"
        if rails.min_confidence is not None and confidence < rails.min_confidence:
            return f"confidence {confidence:.3f} under min_confidence {rails.min_confidence}"
        for rule in rails.forbidden:
            if label not in rule.classes:
                continue
            if rule.slice is None or str(context.get(rule.slice)) in {
                str(v) for v in rule.values or ()
            }:
                where = "" if rule.slice is None else f" for {rule.slice}={context[rule.slice]}"
                note = f" ({rule.note})" if rule.note else ""
                return f"class {label!r} is forbidden{where}{note}"
        return None

    # -- golden pairs ------------------------------------------------------------------------
    def golden_pairs(self) -> list[tuple[str, Path, np.ndarray]]:
        """(id, file, expected probabilities) of the golden inputs sealed in the bundle."""
        golden = self.manifest.get("golden") or {}
        return [
            (item["id"], self.folder / item["file"], np.asarray(item["probs"]))
            for item in golden.get("pairs", [])
        ]


def load(folder: Path | str, *, threads: int | None = None) -> BundlePredictor:
    """The predictor of the bundle in ``folder``; a missing, unreadable or tampered bundle is a
    :class:`~dlqa.deploy.manifest.BundleError` (exit code 2) naming what is wrong."""
    folder = Path(folder).expanduser()
    manifest = read_manifest(folder)
    model_file = folder / manifest["model"]["file"]
    return BundlePredictor(folder, manifest, onnx_session(model_file, threads))


__all__ = ["BundlePredictor", "Decision", "InputError", "load", "onnx_session", "softmax"]
