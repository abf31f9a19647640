"""What a training script tells ``dlqa exp run`` about its seed: metrics, parameters and the
fingerprints that say what the numbers measure.

``dlqa exp run NAME --seeds N -- CMD`` starts CMD once per seed with ``DLQA_SEED``,
``DLQA_RUN_DIR`` (the seed's own folder) and ``DLQA_EXP_GROUP`` set. The script reads them
through :func:`current` and logs into that folder; the runner reads the folder back with
:func:`read_run_folder` when the process ends. Files, not a socket: the script needs nothing
but this module, a crash leaves what was logged so far, and the folder can be inspected.

* ``metrics.json``: a flat JSON object of finite numbers (the seed's final metrics; a later
  ``log`` of the same name replaces the value).
* ``dlqa-exp.json``: ``params``, ``metric_fingerprints`` (name -> fingerprint, as
  ``dlqa.train.metrics.metric_fingerprint`` gives), ``eval_sets`` (name -> fingerprint),
  ``data`` (the dataset's fingerprint) and ``artifacts`` (path -> sha256).

Outside ``dlqa exp run`` (no ``DLQA_RUN_DIR``) the same script still runs: :func:`current`
returns an inactive run whose seed is ``default_seed`` (or ``DLQA_SEED`` if set), and whose
``log*`` methods check their values the same way but only keep them in memory, so that a
mistake shows up on the first plain ``python train.py``, not in the middle of a seed group.

Each write replaces its file atomically (a temporary file and a rename), so the runner never
reads half a file. Log from one process (rank 0 under DDP): two writers may lose an update.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlqa.report.files import write_text_atomic

ENV_SEED = "DLQA_SEED"
ENV_RUN_DIR = "DLQA_RUN_DIR"
ENV_GROUP = "DLQA_EXP_GROUP"
METRICS_FILE = "metrics.json"
META_FILE = "dlqa-exp.json"


@dataclass
class ExpRun:
    """One seed's run as its script sees it; ``active`` only inside ``dlqa exp run``."""

    seed: int | None
    run_dir: Path | None = None
    group: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.run_dir is not None

    def log(self, **metrics: Any) -> None:
        """Record final metrics; each a finite real number (a numpy scalar or a one-element
        tensor is fine; a bool, a string, NaN or infinity is a ValueError)."""
        clean = {name: _number(name, value) for name, value in metrics.items()}
        self.metrics.update(clean)
        if self.run_dir is not None:
            path = self.run_dir / METRICS_FILE
            on_disk = _read_object(path) or {}
            write_text_atomic(path, _dumps({**on_disk, **clean}))

    def log_params(self, **params: Any) -> None:
        """Record hyper-parameters; each must be JSON (numbers, strings, lists, dicts)."""
        for name, value in params.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"param {name}: not JSON-safe ({exc})") from None
        self._merge("params", params)

    def log_fingerprints(self, **fingerprints: str) -> None:
        """Record what each metric's code is: ``metric_name=metric_fingerprint(fn)``, so that a
        comparison can tell when a metric's definition changed between the groups."""
        self._merge("metric_fingerprints", _texts(fingerprints, "fingerprint"))

    def log_eval_set(self, name: str, fingerprint: str) -> None:
        """Record the fingerprint of an evaluation set the metrics were measured on."""
        self._merge("eval_sets", _texts({name: fingerprint}, "eval set fingerprint"))

    def log_data(self, fingerprint: str) -> None:
        """Record the fingerprint of the training data."""
        self._merge("data", _texts({"data": fingerprint}, "data fingerprint")["data"])

    def log_artifact(self, path: str | os.PathLike[str]) -> str:
        """Record a file the run produced with its sha256 (returned); a path inside the run
        folder is kept relative to it. A missing file is a FileNotFoundError."""
        file = Path(path)
        digest = _file_sha256(file)
        key = str(file)
        if self.run_dir is not None:
            try:
                key = str(file.resolve().relative_to(self.run_dir.resolve()))
            except ValueError:
                key = str(file.resolve())
        self._merge("artifacts", {key: digest})
        return digest

    def _merge(self, key: str, value: Any) -> None:
        if isinstance(value, dict):
            self.meta[key] = {**(self.meta.get(key) or {}), **value}
        else:
            self.meta[key] = value
        if self.run_dir is None:
            return
        path = self.run_dir / META_FILE
        meta = _read_object(path) or {}
        if isinstance(value, dict) and isinstance(meta.get(key), dict):
            meta[key] = {**meta[key], **value}
        else:
            meta[key] = value
        write_text_atomic(path, _dumps(meta))


def current(default_seed: int = 0) -> ExpRun:
    """This process's run: active inside ``dlqa exp run`` (``DLQA_RUN_DIR`` set), else an
    inactive one that keeps its logs in memory. A ``DLQA_SEED`` that is not an integer is a
    ValueError: the seed must never be silently replaced."""
    raw_seed = os.environ.get(ENV_SEED)
    seed = default_seed
    if raw_seed not in (None, ""):
        try:
            seed = int(raw_seed)
        except ValueError:
            raise ValueError(f"{ENV_SEED}={raw_seed!r} is not an integer") from None
    run_dir = os.environ.get(ENV_RUN_DIR) or None
    return ExpRun(
        seed=seed,
        run_dir=None if run_dir is None else Path(run_dir),
        group=os.environ.get(ENV_GROUP) or None,
    )


@dataclass
class RunFolder:
    """What a seed left in its run folder; ``problems`` says what is missing or unreadable."""

    metrics: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_run_folder(run_dir: str | os.PathLike[str]) -> RunFolder:
    """The metrics and metadata of a finished seed, never raising: a missing ``metrics.json``,
    invalid JSON or a value that is not a finite number is a problem (the key named) and the
    other values are kept. A missing ``dlqa-exp.json`` is fine (nothing but metrics logged)."""
    folder = Path(run_dir)
    found = RunFolder()
    metrics_path = folder / METRICS_FILE
    if not metrics_path.exists():
        found.problems.append(f"no {METRICS_FILE} in {folder} (no metric logged)")
    else:
        data = _load(metrics_path, found.problems)
        for name, value in (data or {}).items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                found.problems.append(f"{METRICS_FILE}: {name} is not a number ({value!r})")
            elif not math.isfinite(value):
                found.problems.append(f"{METRICS_FILE}: {name} is not finite ({value!r})")
            else:
                found.metrics[str(name)] = float(value)
    meta_path = folder / META_FILE
    if meta_path.exists():
        found.meta = _load(meta_path, found.problems) or {}
    return found


def _load(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: unreadable ({exc})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: not a JSON object ({type(data).__name__})")
        return None
    return data


def _read_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if missing or not one (then rewritten whole)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _number(name: str, value: Any) -> float | int:
    if hasattr(value, "item") and not isinstance(value, numbers.Real):  # a tensor or array
        try:
            value = value.item()
        except (ValueError, RuntimeError, TypeError):
            raise ValueError(f"metric {name}: not a single number ({value!r})") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"metric {name}: not a number ({value!r})")
    if not math.isfinite(value):
        raise ValueError(f"metric {name}: not finite ({value!r})")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _texts(values: dict[str, Any], what: str) -> dict[str, str]:
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: the name must be a non-empty string ({name!r})")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name}: the {what} must be a non-empty string ({value!r})")
    return dict(values)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n"


__all__ = [
    "ENV_GROUP",
    "ENV_RUN_DIR",
    "ENV_SEED",
    "ExpRun",
    "RunFolder",
    "current",
    "read_run_folder",
]
