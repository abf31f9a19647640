"""The bundle's manifest, ``dlqa-model.json``: everything inference needs, with fingerprints.

A bundle is a folder::

    model.onnx          the model, one file
    dlqa-model.json     this manifest
    golden/             the golden inputs, with their outputs in the manifest
    tokenizer.json      text models: the tokenizer

The manifest records the input spec, the preprocessing spec, the class names, the guardrails,
the versions of the libraries that exported it, golden input/output pairs with tolerances,
and fingerprints: of the weights, of the training run, of ``model.onnx`` and every other file
in the bundle, and of each section of the manifest itself. :func:`read_manifest` recomputes
them and refuses a bundle where any differs, naming what changed: a serving preprocessing
edited by hand after export is exactly the train/serve skew the bundle exists to prevent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError

MANIFEST_NAME = "dlqa-model.json"
MODEL_NAME = "model.onnx"
FORMAT = "dlqa-model/1"
# Sections a manifest must have; each is fingerprinted on its own so that an edit is named.
REQUIRED_SECTIONS = ("format", "modality", "model", "input", "output", "preprocessing")


class BundleError(UsageError):
    """A bundle that cannot be used as it is: missing, unreadable or changed after export."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def canonical_digest(value: Any) -> str:
    """The fingerprint of a JSON value: sorted keys, no whitespace, so formatting is free."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundle_files(folder: Path) -> list[str]:
    """Every file of the bundle but the manifest, as sorted POSIX paths relative to it."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
    )


def seal(manifest: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``manifest`` with its ``fingerprints`` filled in: the files in ``folder`` and each
    section. Fingerprints given before (weights, training run) are kept."""
    sealed = {k: v for k, v in manifest.items() if k != "fingerprints"}
    given = dict(manifest.get("fingerprints") or {})
    given["files"] = {name: sha256_file(folder / name) for name in bundle_files(folder)}
    given["sections"] = {key: canonical_digest(value) for key, value in sorted(sealed.items())}
    given["manifest"] = canonical_digest(sealed)
    sealed["fingerprints"] = given
    return sealed


def write_manifest(manifest: dict[str, Any], folder: Path) -> dict[str, Any]:
    sealed = seal(manifest, folder)
    text = json.dumps(sealed, indent=2, ensure_ascii=False) + "\n"
    (folder / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return sealed


def read_manifest(folder: Path | str, *, verify: bool = True) -> dict[str, Any]:
    """The manifest of the bundle in ``folder``, checked against its fingerprints.

    A missing folder, manifest or model file, unreadable JSON, a missing section, or any
    fingerprint that differs is a :class:`BundleError` (exit code 2) that names it.
    """
    folder = Path(folder).expanduser()
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise BundleError(f"no bundle folder at {folder}", hint="export one: dlqa deploy export")
    if not path.is_file():
        raise BundleError(
            f"{folder} has no {MANIFEST_NAME}: not a dlqa bundle",
            hint="export the model with `dlqa deploy export` or dlqa.deploy.export()",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} holds {type(manifest).__name__}, not a manifest object")
    missing = [key for key in REQUIRED_SECTIONS if key not in manifest]
    if missing:
        raise BundleError(f"{path} lacks the section(s) {missing}", hint="export the bundle again")
    if manifest["format"] != FORMAT:
        raise BundleError(f"{path} is format {manifest['format']!r}; this dlqa reads {FORMAT!r}")
    if verify:
        problems = changes(manifest, folder)
        if problems:
            raise BundleError(
                f"the bundle {folder} does not match its fingerprints: " + "; ".join(problems),
                hint="a bundle is not edited by hand: export it again from the model",
            )
    return manifest


def changes(manifest: dict[str, Any], folder: Path) -> list[str]:
    """What differs between the bundle on disk and the fingerprints sealed at export."""
    sealed = manifest.get("fingerprints")
    if not isinstance(sealed, dict) or "sections" not in sealed or "files" not in sealed:
        return ["the manifest has no fingerprints (it was not written by dlqa deploy export)"]
    body = {k: v for k, v in manifest.items() if k != "fingerprints"}
    problems = []
    recorded = sealed["sections"]
    for key in sorted(set(body) | set(recorded)):
        if key not in body:
            problems.append(f"manifest section {key!r} was removed")
        elif key not in recorded:
            problems.append(f"manifest section {key!r} was added after export")
        elif canonical_digest(body[key]) != recorded[key]:
            problems.append(f"manifest section {key!r} was edited after export")
    if not problems and canonical_digest(body) != sealed.get("manifest"):
        problems.append("the manifest's fingerprint differs")
    on_disk = set(bundle_files(folder))
    for name, digest in sorted(sealed["files"].items()):
        if name not in on_disk:
            problems.append(f"{name} is missing")
        elif sha256_file(folder / name) != digest:
            problems.append(f"{name} changed after export")
    for name in sorted(on_disk - set(sealed["files"])):
        problems.append(f"{name} was added after export")
    return problems


__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "MODEL_NAME",
    "BundleError",
    "canonical_digest",
    "changes",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]
