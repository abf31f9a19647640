"""``dlqa deploy smoke URL``: does the served model answer the golden inputs as sealed?

The golden inputs of a bundle are raw files whose outputs were sealed at export through the
bundle's own predictor. The smoke test sends each, as a client would (multipart upload to
``/predict``), and compares the served probabilities (within the manifest's ``atol``) and
the served decision (the sealed guardrails applied to the sealed probabilities). With the
URL alone, the server's own manifest and ``/golden/`` files are the reference: that proves
the server answers as its bundle says. With the local bundle too, the reference is that
bundle, and the served manifest's fingerprint must equal it: that proves the bundle you hold
is the one deployed.

A server that cannot be reached, refuses the token or answers something else is the finding
(a FAIL result), not an exception: the smoke test exists to say so. Only the standard
library speaks HTTP here, so that the check runs where dlqa's serve extra is not installed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.deploy.manifest import read_manifest
from dlqa.execute.http_server import is_loopback

CHECK_ID = "deploy.smoke"
FILES_PER_REQUEST = 16  # keeps each upload well under the server's body cap
SHOWN = 3


class ServerProblem(Exception):
    """The server could not be reached or refused a request; the message says which."""


def encode_multipart(
    files: Sequence[tuple[str, bytes]], fields: Mapping[str, str] | None = None
) -> tuple[bytes, str]:
    """(body, content type) of a ``multipart/form-data`` upload: each file under the field
    ``file``, each of ``fields`` as a text field (``context``: a JSON text)."""
    boundary = f"dlqa-{uuid.uuid4().hex}"
    parts = []
    for name, value in (fields or {}).items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + value.encode() + b"\r\n")
    for filename, data in files:
        safe = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{safe}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """The few requests a check makes of a dlqa server (standard library only)."""

    def __init__(self, url: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.base = normalize_url(url)
        self.token = token
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.base).hostname or ""
        # A proxy from the environment must not carry a loopback request away from this host.
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(host) else []
        self.opener = urllib.request.build_opener(*handlers)

    def request(self, path: str, body: bytes | None = None, kind: str | None = None) -> Any:
        """(status, payload) of one request; payload is JSON when the answer is JSON."""
        headers = {"Accept": "application/json"}
        if kind:
            headers["Content-Type"] = kind
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, data, media = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, data, media = exc.code, exc.read(), exc.headers
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerProblem(f"the server at {self.base} is not reachable: {reason}") from None
        if "json" in (media.get("content-type") or ""):
            try:
                return status, json.loads(data)
            except json.JSONDecodeError:
                pass
        return status, data

    def get(self, path: str) -> Any:
        status, payload = self.request(path)
        if status != 200:
            raise ServerProblem(_refusal(self.base + path, status, payload))
        return payload

    def predict_files(
        self, files: Sequence[tuple[str, bytes]], context: Any = None
    ) -> tuple[int, Any]:
        """(status, answer) of ``POST /predict`` with ``files``; 401, 404 and 5xx raise."""
        fields = None if context is None else {"context": json.dumps(context)}
        body, kind = encode_multipart(files, fields)
        status, payload = self.request("/predict", body, kind)
        if status not in (200, 422) or not isinstance(payload, dict):
            raise ServerProblem(_refusal(self.base + "/predict", status, payload))
        return status, payload


def normalize_url(url: str) -> str:
    """``url`` with a scheme (http by default) and no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = f"http://{url}"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UsageError(f"{url} is not an http(s) URL")
    return url.rstrip("/")


def _refusal(url: str, status: int, payload: Any) -> str:
    message = payload.get("error") if isinstance(payload, dict) else None
    text = message or (payload[:200].decode("utf-8", "replace") if payload else "")
    hint = " (pass the server's token: --token or DLQA_SERVE_TOKEN)" if status == 401 else ""
    return f"{url} answered HTTP {status}: {text}{hint}"


# -- the check --------------------------------------------------------------------------------
def _golden_files(client: Client, manifest: dict, bundle: Path | None) -> list[tuple[str, bytes]]:
    """(upload name, bytes) of each golden input: from the local bundle, else the server."""
    files = []
    for item in manifest["golden"]["pairs"]:
        name = Path(item["file"]).name
        data = (bundle / item["file"]).read_bytes() if bundle else client.get(f"/golden/{name}")
        if not isinstance(data, bytes):
            raise ServerProblem(f"{client.base}/golden/{name} did not answer a file")
        files.append((name, data))
    return files


def _expected_labels(manifest: dict[str, Any], probs: list[np.ndarray]) -> list[str | None]:
    """The decision the sealed guardrails give on the sealed probabilities (no model run)."""
    from dlqa.deploy.predictor import BundlePredictor

    rules = BundlePredictor(Path("."), manifest, session=None)
    return [d.label for d in rules.decide(np.stack(probs))] if probs else []


def _compare(item: dict, expected: np.ndarray, label: str | None, slot: Any, atol: float) -> dict:
    """The evidence row of one golden input; ``problem`` is None when it matches."""
    row = {"id": item["id"], "expected_label": label, "served_label": None,
           "max_abs_diff": None, "problem": None}  # fmt: skip
    if not isinstance(slot, dict) or "error" in slot or "probs" not in slot:
        error = slot.get("error") if isinstance(slot, dict) else None
        row["problem"] = f"refused: {error}" if error else "no answer for it"
        return row
    served = np.asarray(slot["probs"], dtype=np.float64)
    row["served_label"] = slot.get("label")
    if served.shape != expected.shape:
        row["problem"] = f"{served.size} probabilities served, {expected.size} sealed"
        return row
    row["max_abs_diff"] = diff = float(np.max(np.abs(served - expected)))
    if diff > atol:
        row["problem"] = f"probabilities differ by {diff:.3g} (atol {atol:g})"
    elif row["served_label"] != label:
        row["problem"] = f"answered {row['served_label']!r}, sealed {label!r}"
    return row


def _ask(client: Client, files: list[tuple[str, bytes]]) -> list[Any]:
    slots: list[Any] = []
    for start in range(0, len(files), FILES_PER_REQUEST):
        _, answer = client.predict_files(files[start : start + FILES_PER_REQUEST])
        slots.extend(answer.get("predictions") or [])
    return slots


def _fail(summary: str, **details: Any) -> CheckResult:
    return CheckResult(CHECK_ID, Status.FAIL, summary, details=details)


def smoke_result(
    url: str,
    bundle: Path | str | None = None,
    *,
    timeout: float = 30.0,
    token: str | None = None,
) -> CheckResult:
    """``deploy.smoke``: the golden inputs through the server at ``url`` (see the module
    docstring). A missing or tampered local ``bundle`` is a BundleError (exit code 2)."""
    folder = None if bundle is None else Path(bundle).expanduser()
    local = None if folder is None else read_manifest(folder)
    client = Client(url, token=token, timeout=timeout)
    try:
        served = client.get("/manifest")
        if not isinstance(served, dict) or "fingerprints" not in served:
            return _fail(f"{client.base}/manifest is not a dlqa bundle manifest", url=client.base)
        reference = local or served
        if not (reference.get("golden") or {}).get("pairs"):
            return _no_golden(client.base, served, local)
        slots = _ask(client, _golden_files(client, reference, folder))
    except ServerProblem as exc:
        return _fail(str(exc), url=client.base)
    return _verdict(client.base, reference, served, local, slots)


def _no_golden(url: str, served: dict, local: dict | None) -> CheckResult:
    summary = f"{url} is up, but the bundle seals no golden inputs: no answer was compared"
    return CheckResult(CHECK_ID, Status.WARN, summary, details=_fingerprints(url, served, local))


def _fingerprints(url: str, served: dict, local: dict | None) -> dict[str, Any]:
    details = {"url": url, "served_model": served["fingerprints"].get("manifest"),
               "served_weights": served["fingerprints"].get("weights")}  # fmt: skip
    if local is not None:
        details["bundle_model"] = local["fingerprints"].get("manifest")
        details["bundle_weights"] = local["fingerprints"].get("weights")
    return details


def _verdict(
    url: str, reference: dict, served: dict, local: dict | None, slots: list[Any]
) -> CheckResult:
    pairs = reference["golden"]["pairs"]
    atol = float(reference["golden"].get("atol", 1e-4))
    expected = [np.asarray(p["probs"], dtype=np.float64) for p in pairs]
    labels = _expected_labels(reference, expected)
    rows = [
        _compare(item, probs, label, slots[i] if i < len(slots) else None, atol)
        for i, (item, probs, label) in enumerate(zip(pairs, expected, labels, strict=True))
    ]
    bad = sorted((r for r in rows if r["problem"]), key=lambda r: -(r["max_abs_diff"] or np.inf))
    details = _fingerprints(url, served, local)
    diffs = [r["max_abs_diff"] for r in rows if r["max_abs_diff"] is not None]
    worst = max(diffs) if diffs else None
    other_model = local is not None and details["served_model"] != details["bundle_model"]
    summary = _summary(url, len(rows), bad, worst, atol, other_model, details)
    evidence = [] if not bad else [Evidence("inputs", bad, len(bad), "golden inputs served "
                                            "otherwise than sealed")]  # fmt: skip
    status = Status.FAIL if bad or other_model else Status.PASS
    return CheckResult(CHECK_ID, status, summary, value=worst, threshold=atol,
                       evidence=evidence, details=details, n=len(rows))  # fmt: skip


def _summary(
    url: str, n: int, bad: list[dict], worst: float | None, atol: float, other: bool, fp: dict
) -> str:
    spread = f"max diff {worst:.3g}, atol {atol:g}" if worst is not None else f"atol {atol:g}"
    parts = []
    if other:
        same = (
            " (same weights, another export)"
            if fp["served_weights"] == fp["bundle_weights"]
            else ""
        )
        parts.append(f"{url} serves model {fp['served_model']}, not the bundle's "
                     f"{fp['bundle_model']}{same}")  # fmt: skip
    if bad:
        names = ", ".join(str(r["id"]) for r in bad[:SHOWN])
        more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        parts.append(f"{len(bad)} of {n} golden inputs answered otherwise than sealed: "
                     f"{names}{more} ({spread})")  # fmt: skip
    if not parts:
        return f"{n}/{n} golden inputs answered as sealed by {url} ({spread})"
    return "; ".join(parts)


__all__ = ["CHECK_ID", "Client", "ServerProblem", "encode_multipart", "normalize_url",
           "smoke_result"]  # fmt: skip
