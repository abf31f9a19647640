"""The deployment checks as functions of plain arguments: a bundle folder, the eager model,
the training transform, raw files.

    from dlqa import deploy
    deploy.export(model, "bundle/", example_input=x, preprocessing=spec, class_names=names,
                  golden_inputs=files)
    results = deploy.check("bundle/", model=model, transform=train_transform, files=paths)

Each function returns ``CheckResult``s (:func:`parity` and :func:`unexpected_inputs` one per
target or input kind, as its ``subject``); gates apply as in ``dlqa.toml``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import ConfigError, UsageError
from dlqa.core.registry import all_specs, get_spec
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite
from dlqa.deploy.context import DeployContext, file_ids
from dlqa.evaluate.guardrails import Guardrails


def deploy_suite(
    gates: Mapping[str, Mapping[str, Any]] | None = None, checks: Sequence[str] | None = None
) -> Suite:
    """The ``deploy.*`` checks with ``gates`` applied (ids of other stages ignored)."""
    from dlqa.deploy.checks import CHECK_ORDER

    own = {
        check_id: dict(params)
        for check_id, params in (gates or {}).items()
        if get_spec(check_id).stage == "deploy"
    }
    wanted = None if checks is None else set(checks)
    for check_id in wanted or ():
        if get_spec(check_id).stage != "deploy":
            raise ConfigError(f"{check_id} is not a deployment check",
                              hint="`dlqa checks` lists the deploy.* ids")  # fmt: skip
    specs = [s for s in all_specs("deploy") if wanted is None or s.check_id in wanted]
    return Suite(specs, own, order=CHECK_ORDER)


def deploy_context(
    bundle: Path | str,
    *,
    model: Any = None,
    transform: Callable[[Any], Any] | None = None,
    files: Sequence[Path | str] = (),
    labels: Sequence[Any] | None = None,
    sample_ids: Sequence[str] | None = None,
    declared_guardrails: Guardrails | Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> DeployContext:
    """The context the checks read; bad arguments are UsageErrors that name them."""
    paths = [Path(p).expanduser() for p in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"{len(missing)} file(s) do not exist, first: {missing[0]}")
    if sample_ids is not None and len(sample_ids) != len(paths):
        raise UsageError(f"{len(sample_ids)} sample_ids for {len(paths)} files")
    rails = declared_guardrails
    if isinstance(rails, Mapping):
        rails = Guardrails.model_validate(dict(rails))
    context = DeployContext.open(
        bundle, model=model, transform=transform, files=paths,
        sample_ids=list(sample_ids) if sample_ids is not None else file_ids(paths),
        declared_guardrails=rails, work_dir=work_dir,
    )  # fmt: skip
    if labels is not None:
        context.labels = _class_ids(labels, context, len(paths))
    return context


def _class_ids(labels: Sequence[Any], context: DeployContext, n: int) -> np.ndarray:
    if len(labels) != n:
        raise UsageError(f"{len(labels)} labels for {n} files")
    names = (context.manifest or {}).get("class_names") or []
    ids = []
    for label in labels:
        if isinstance(label, str):
            if label not in names:
                raise UsageError(f"label {label!r} is not a class of the model; classes: {names}")
            ids.append(names.index(label))
        else:
            ids.append(int(label))
    return np.asarray(ids, dtype=np.int64)


def check(
    bundle: Path | str,
    *,
    model: Any = None,
    transform: Callable[[Any], Any] | None = None,
    files: Sequence[Path | str] = (),
    labels: Sequence[Any] | None = None,
    sample_ids: Sequence[str] | None = None,
    guardrails: Guardrails | Mapping[str, Any] | None = None,
    gates: Mapping[str, Mapping[str, Any]] | None = None,
    checks: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Every deployment check of ``bundle``: integrity and golden pairs, the parity matrix,
    the batch sweep, preprocessing parity, unexpected inputs and the serving guardrails.

    ``model`` is the eager module the bundle was exported from, ``transform`` the training
    transform (a decoded input -> one model input), ``files`` raw inputs to compare on
    (``labels``, class names or ids, add the accuracy delta). ``guardrails`` are those
    declared for evaluation: one the bundle does not carry fails. Checks lacking their inputs
    are left out (named in ``checks``, they skip and say why).
    """
    from dlqa.deploy.checks import INPUT_HINTS

    context = deploy_context(
        bundle, model=model, transform=transform, files=files, labels=labels,
        sample_ids=sample_ids, declared_guardrails=guardrails,
    )  # fmt: skip
    suite = deploy_suite(gates, checks)
    suite.for_inputs(context.inputs(), INPUT_HINTS, explicit=checks is not None)
    return suite.run(context).results


def _one(check_id: str, bundle: Path | str, **kwargs: Any) -> list[CheckResult]:
    gates = kwargs.pop("gates", None)
    return check(bundle, checks=[check_id], gates=gates, **kwargs)


def parity(
    bundle: Path | str,
    *,
    model: Any,
    transform: Callable[[Any], Any],
    files: Sequence[Path | str],
    labels: Sequence[Any] | None = None,
    targets: Sequence[str] | None = None,
) -> list[CheckResult]:
    """The parity matrix: one ``deploy.parity`` result per target (its ``subject``)."""
    gates = {"deploy.parity": {"targets": list(targets)}} if targets else None
    return _one("deploy.parity", bundle, model=model, transform=transform, files=files,
                labels=labels, gates=gates)  # fmt: skip


def batch_sweep(
    bundle: Path | str, *, model: Any, transform: Callable[[Any], Any], files: Sequence[Path | str]
) -> CheckResult:
    """``deploy.batch_sweep``: the ONNX model at batch sizes 1, 2 and a large one."""
    return _one("deploy.batch_sweep", bundle, model=model, transform=transform, files=files)[0]


def preprocessing(
    bundle: Path | str, *, transform: Callable[[Any], Any], files: Sequence[Path | str]
) -> CheckResult:
    """``deploy.preprocessing``: the training transform against the manifest's spec."""
    return _one("deploy.preprocessing", bundle, transform=transform, files=files)[0]


def unexpected_inputs(bundle: Path | str) -> list[CheckResult]:
    """``deploy.unexpected_inputs``: one result per kind of unusual input."""
    return _one("deploy.unexpected_inputs", bundle)


def guardrails(
    bundle: Path | str, declared: Guardrails | Mapping[str, Any] | None = None
) -> list[CheckResult]:
    """``deploy.guardrails``: the sealed guardrails enforced by the bundle's predictor."""
    return _one("deploy.guardrails", bundle, guardrails=declared)


def smoke(url: str, bundle: Path | str | None = None, *, token: str | None = None) -> CheckResult:
    """``deploy.smoke``: the golden inputs sent to a served bundle, answers compared."""
    from dlqa.deploy.smoke_test import smoke_result

    return smoke_result(url, bundle, token=token)


__all__ = [
    "batch_sweep",
    "check",
    "deploy_context",
    "deploy_suite",
    "guardrails",
    "parity",
    "preprocessing",
    "smoke",
    "unexpected_inputs",
]
