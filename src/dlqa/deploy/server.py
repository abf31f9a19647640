"""``dlqa serve``: a bundle behind HTTP, for staging and smoke tests.

Routes (JSON answers throughout, errors as ``{"error": message}``):

* ``GET /health``: ``{"status": "ok", "model": <manifest fingerprint>, "classes": n}``;
* ``GET /manifest``: the bundle's manifest; ``GET /golden/{name}``: one sealed golden input
  file, so that ``dlqa deploy smoke URL`` needs nothing but the URL;
* ``POST /predict``: files as ``multipart/form-data`` under the field ``file`` (repeatable),
  with an optional ``context`` field holding a JSON object (for every file) or a list (one
  object per file); or JSON ``{"inputs": [...]}`` (model inputs, already preprocessed) or
  ``{"texts": [...]}``, with an optional ``"context"`` of the same form.

The answer keeps one slot per input, in order: ``{"id", "label", "confidence", "reason",
"probs"}`` with the label decided by the guardrails sealed in the manifest (a withheld
answer is ``null`` with its reason), or ``{"id", "error"}`` for an input the serving path
refuses (corrupt, empty, too small, NaN). One bad file does not cost the caller the others'
answers: the status is 200 while any input was answered, 422 (with ``error`` and ``input``
naming the first refusal) when none was. A malformed request is 400, another content type
415, a body over the cap 413, a missing or wrong token 401: ``token`` guards the POST routes;
the GET routes publish only what the bundle itself holds.
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.deploy.predictor import BundlePredictor, InputError, load
from dlqa.execute.http_server import app_serving, bind, is_loopback, run_app_until_stopped

SERVE_HINT = "pip install 'dlqa[serve]'"
MAX_BODY = 32 * 1024 * 1024
MAX_FILES = 256
Item = tuple[Any, Any]  # (id, raw input): file bytes, a nested list or a text


class RequestError(Exception):
    """A request the server answers with ``status`` and a message instead of predictions."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _require_serving() -> None:
    for module in ("starlette", "uvicorn", "python_multipart"):
        try:
            __import__(module)
        except ImportError:
            raise UsageError(f"serving needs {module}, not installed", hint=SERVE_HINT) from None


# -- reading a request ------------------------------------------------------------------------
async def _read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"a {int(declared):,}-byte body: over the {limit:,}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _contexts(raw: Any, n: int) -> list[dict[str, Any]] | None:
    """Per-input context: one object for every input, or a list of one object per input."""
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        return [dict(raw)] * n
    if isinstance(raw, list) and len(raw) == n and all(isinstance(c, Mapping) for c in raw):
        return [dict(c) for c in raw]
    raise RequestError(400, f"context must be an object or a list of {n} objects, one per input")


async def _multipart(request: Any, body: bytes) -> tuple[list[Item], list[dict] | None]:
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=MAX_FILES)
    files = [f for f in form.getlist("file") if isinstance(f, UploadFile)]
    if not files:
        raise RequestError(400, 'no files: send them under the multipart field "file"')
    items = [(f.filename or f"file{i}", await f.read()) for i, f in enumerate(files)]
    context = form.get("context")
    await form.close()
    try:
        raw = json.loads(context) if isinstance(context, str) and context.strip() else None
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"the context field is not JSON: {exc}") from None
    return items, _contexts(raw, len(items))


def _json(body: bytes) -> tuple[str, list[Item], list[dict] | None]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the body is not JSON: {exc}") from None
    keys = [k for k in ("inputs", "texts") if isinstance(data, dict) and k in data]
    if len(keys) != 1:
        raise RequestError(400, 'send {"inputs": [...]} or {"texts": [...]}, exactly one')
    values = data[keys[0]]
    if not isinstance(values, list) or not values:
        raise RequestError(400, f'"{keys[0]}" must be a non-empty list')
    return keys[0], list(enumerate(values)), _contexts(data.get("context"), len(values))


# -- answering ----------------------------------------------------------------------------------
def _model_input(predictor: BundlePredictor, kind: str, raw: Any) -> np.ndarray:
    """One input as the model takes it; InputError when the serving path refuses it."""
    if kind == "files":
        try:
            return predictor.preprocess_file(raw)
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc}") from None
    if kind == "texts":
        return predictor.encode_texts([raw])[0]
    from dlqa.deploy.inputs import finite_batch

    want = predictor.input_shape[1:]
    try:
        row = np.asarray(raw)
    except ValueError:
        row = None  # a ragged nested list
    if (
        row is None
        or row.ndim != len(want)
        or any(isinstance(w, int) and w != got for w, got in zip(want, row.shape, strict=False))
    ):
        shape = "ragged" if row is None else list(row.shape)
        raise InputError(f"shape {shape}; the model takes one input of shape {list(want)}")
    return finite_batch(row[None], predictor.input_shape)[0]


def answer(
    predictor: BundlePredictor, kind: str, items: Sequence[Item], context: list[dict] | None
) -> list[dict[str, Any]]:
    """One slot per input: its decision and probabilities, or the reason it was refused.
    Blocking (ONNX Runtime): the app calls it in a worker thread."""
    slots: list[dict[str, Any]] = [{"id": item_id} for item_id, _ in items]
    ready: list[tuple[int, np.ndarray]] = []
    for index, (_, raw) in enumerate(items):
        try:
            ready.append((index, _model_input(predictor, kind, raw)))
        except InputError as exc:
            slots[index]["error"] = str(exc)
    if ready:
        probs = predictor.predict_arrays(np.stack([array for _, array in ready]))
        rows = [context[i] for i, _ in ready] if context else None
        for (index, _), p, decision in zip(
            ready, probs, predictor.decide(probs, rows), strict=True
        ):
            slots[index].update(decision.to_dict(), probs=[float(v) for v in p])
    return slots


# -- the app ----------------------------------------------------------------------------------
def create_app(
    predictor: BundlePredictor, *, token: str | None = None, max_body: int = MAX_BODY
) -> Any:
    """The Starlette app serving ``predictor`` (see the module docstring)."""
    _require_serving()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    token = token or None  # an empty DLQA_SERVE_TOKEN means no token, not the empty one
    manifest = predictor.manifest
    golden = {Path(item["file"]).name: predictor.folder / item["file"]
              for item in (manifest.get("golden") or {}).get("pairs", [])}  # fmt: skip
    health = {"status": "ok", "model": manifest["fingerprints"]["manifest"],
              "classes": len(predictor.class_names)}  # fmt: skip

    async def get_health(request: Any) -> Any:
        return JSONResponse(health)

    async def get_manifest(request: Any) -> Any:
        return JSONResponse(manifest)

    async def get_golden(request: Any) -> Any:
        path = golden.get(request.path_params["name"])
        if path is None:
            raise RequestError(404, f"no golden input named {request.path_params['name']!r}")
        return Response(await run_in_threadpool(path.read_bytes), media_type=_media_type(path))

    async def predict(request: Any) -> Any:
        _authorize(request, token)
        body = await _read_body(request, max_body)
        kind_header = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind_header == "multipart/form-data":
            kind, (items, context) = "files", await _multipart(request, body)
        elif kind_header == "application/json":
            kind, items, context = _json(body)
        else:
            raise RequestError(415, "send multipart/form-data (files) or application/json")
        slots = await run_in_threadpool(answer, predictor, kind, items, context)
        refused = [s for s in slots if "error" in s]
        if len(refused) < len(slots):
            return JSONResponse({"predictions": slots})
        first = refused[0]
        message = f"no input could be used: {first['id']}: {first['error']}"
        return JSONResponse({"error": message, "input": first["id"], "predictions": slots}, 422)

    async def on_request_error(request: Any, exc: Exception) -> Any:
        status = getattr(exc, "status", None) or getattr(exc, "status_code", 500)
        message = str(getattr(exc, "detail", None) or exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status, headers=headers)

    async def on_internal_error(request: Any, exc: Exception) -> Any:
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    routes = [
        Route("/health", get_health, methods=["GET"]),
        Route("/manifest", get_manifest, methods=["GET"]),
        Route("/golden/{name}", get_golden, methods=["GET"]),
        Route("/predict", predict, methods=["POST"]),
    ]
    handlers = {RequestError: on_request_error, HTTPException: on_request_error,
                UsageError: _status(JSONResponse, 400), InputError: _status(JSONResponse, 422),
                Exception: on_internal_error}  # fmt: skip
    return Starlette(routes=routes, exception_handlers=handlers)


def _status(response: Any, status: int) -> Any:
    """A UsageError from the predictor (texts sent to an image model) is the caller's: 400;
    an InputError that escaped the per-input handling still names the input: 422."""

    async def handler(request: Any, exc: Exception) -> Any:
        return response({"error": getattr(exc, "message", str(exc))}, status)

    return handler


def _authorize(request: Any, token: str | None) -> None:
    if token is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise RequestError(401, "missing or wrong token: send Authorization: Bearer <token>")


def _media_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# -- running it -------------------------------------------------------------------------------
def serve(
    folder: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Serve the bundle in ``folder`` until SIGINT or SIGTERM, then return: stopping the
    server is its normal end, not an error. ``ready`` is set once it accepts connections."""
    _require_serving()
    predictor = load(folder)
    sock = bind(host, port)
    if not token and not is_loopback(host):
        print(f"dlqa: warning: serving on {host} without a token: anyone who can reach it "
              "can use the model (set DLQA_SERVE_TOKEN or --token)", file=sys.stderr)  # fmt: skip
    bound = sock.getsockname()[1]
    print(f"dlqa: serving {predictor.folder} on http://{host}:{bound} (Ctrl-C to stop)",
          file=sys.stderr, flush=True)  # fmt: skip
    run_app_until_stopped(create_app(predictor, token=token), sock, ready)
    print("dlqa: server stopped", file=sys.stderr)


@contextmanager
def serving(
    bundle: BundlePredictor | Path | str,
    *,
    token: str | None = None,
    port: int = 0,
    max_body: int = MAX_BODY,
) -> Iterator[str]:
    """Serve ``bundle`` on 127.0.0.1 in a background thread; yields its base URL. For tests
    and checks that need a live server for a while."""
    predictor = bundle if isinstance(bundle, BundlePredictor) else load(bundle)
    with app_serving(create_app(predictor, token=token, max_body=max_body), port=port) as url:
        yield url


__all__ = [
    "MAX_BODY",
    "answer",
    "create_app",
    "serve",
    "serving",
]
