"""What the ``deploy.*`` checks read: one bundle, the model it was exported from, the
training transform, and raw files to compare them on.

Built by :func:`dlqa.deploy.check` from plain arguments, or by the ``[deploy]`` stage from
``dlqa.toml``. The training-side inputs (the transform applied to every file) and the eager
reference outputs are computed once, on first use, and shared by the checks that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.deploy.manifest import BundleError, read_manifest
from dlqa.deploy.predictor import BundlePredictor, load
from dlqa.evaluate.guardrails import Guardrails


def as_model_input(value: Any) -> np.ndarray:
    """A transform's output (numpy array or torch tensor) as a float32 array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise UsageError(
            f"the training transform returned {type(value).__name__} of dtype {array.dtype}; "
            "it must return an array or tensor of numbers"
        )
    return array.astype(np.int64 if array.dtype.kind in "iu" else np.float32, copy=False)


def decode_for_transform(path: Path, modality: str) -> Any:
    """What a training transform receives for one raw file (as ``[eval] transform`` does)."""
    if modality == "image":
        from PIL import Image

        with Image.open(path) as image:
            image.load()
            return image.copy()
    if modality == "text":
        return path.read_text(encoding="utf-8", errors="replace")
    return path


@dataclass
class DeployContext:
    folder: Path | None  # None: only a served URL is checked (deploy.smoke)
    model: Any = None  # the eager torch module the bundle was exported from
    transform: Callable[[Any], Any] | None = None
    files: list[Path] = field(default_factory=list)
    labels: np.ndarray | None = None  # class ids of the files, for the metric delta
    sample_ids: list[str] = field(default_factory=list)
    declared_guardrails: Guardrails | None = None  # [eval.guardrails], to compare with the seal
    work_dir: Path | None = None
    url: str | None = None  # a served copy of the bundle, for deploy.smoke
    token: str | None = None  # the server's bearer token
    bundle_error: str | None = None  # why the bundle was refused (deploy.bundle says it)
    predictor: BundlePredictor | None = None
    manifest: dict[str, Any] | None = None
    _inputs: np.ndarray | None = None
    _kept: list[int] = field(default_factory=list)  # indices of the files _inputs holds
    _failed: dict[int, str] = field(default_factory=dict)
    _reference: np.ndarray | None = None

    @classmethod
    def open(cls, folder: Path | str | None, **kwargs: Any) -> DeployContext:
        """The context of a bundle; a refused bundle is kept as ``bundle_error`` so that
        ``deploy.bundle`` fails with the reason and the checks that need it are left out."""
        context = cls(folder=None if folder is None else Path(folder).expanduser(), **kwargs)
        if context.folder is None:
            return context
        try:
            context.predictor = load(context.folder)
            context.manifest = context.predictor.manifest
        except BundleError as exc:
            context.bundle_error = str(exc)
            try:
                context.manifest = read_manifest(context.folder, verify=False)
            except BundleError:
                context.manifest = None
        return context

    def inputs(self) -> frozenset[str]:
        """The optional inputs this context has (checks needing others are left out)."""
        have = set()
        if self.folder is not None:
            have.add("bundle")
        if self.url:
            have.add("server")
        if self.predictor is not None:
            have.add("predictor")
            if self.transform is not None and self.files:
                have.add("transform")
                if self.model is not None:
                    have.add("reference")
        return frozenset(have)

    @property
    def modality(self) -> str:
        return self.manifest["modality"] if self.manifest else "image"

    @property
    def batch_size(self) -> int:
        """The export's example batch size: the parity matrix runs the ONNX model at it."""
        return int((self.manifest or {}).get("input", {}).get("example_batch", 1))

    def training_inputs(self) -> tuple[np.ndarray, list[int]]:
        """The training transform of every file that it accepts, and those files' indices."""
        if self._inputs is None:
            rows, kept = [], []
            for index, path in enumerate(self.files):
                try:
                    decoded = decode_for_transform(path, self.modality)
                    rows.append(as_model_input(self.transform(decoded)))  # type: ignore[misc]
                    kept.append(index)
                except UsageError:
                    raise
                except Exception as exc:  # a file the training side cannot read is listed
                    self._failed[index] = f"{type(exc).__name__}: {exc}"
            if not rows:
                raise UsageError("the training transform failed on every file")
            self._inputs = np.stack(rows)
            self._kept = kept
        return self._inputs, self._kept

    def reference(self, batch: np.ndarray) -> np.ndarray:
        """The eager PyTorch fp32 outputs of ``batch``."""
        import torch

        self.model.eval()
        with torch.no_grad():
            return self.model(torch.from_numpy(np.ascontiguousarray(batch))).float().numpy()

    def kept_ids(self) -> list[str]:
        _, kept = self.training_inputs()
        return [self.sample_ids[i] for i in kept]

    def kept_labels(self) -> np.ndarray | None:
        if self.labels is None:
            return None
        _, kept = self.training_inputs()
        return np.asarray(self.labels)[kept]


def file_ids(files: Sequence[Path], root: Path | None = None) -> list[str]:
    """Sample ids of raw files: paths relative to ``root`` when under it, else names."""
    ids = []
    for path in files:
        try:
            ids.append(path.relative_to(root).as_posix() if root else path.name)
        except ValueError:
            ids.append(path.name)
    return ids


__all__ = ["DeployContext", "as_model_input", "decode_for_transform", "file_ids"]
