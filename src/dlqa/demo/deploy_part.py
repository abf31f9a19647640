"""The demo's deployment part: the trained CNN exported as a bundle, checked, served, smoke
tested, evaluated through the bundle, and described by a model card.

`dlqa check` (the demo's main run) exports the bundle and runs the ``deploy.*`` checks through
``[deploy]``; this part then serves the bundle on a free loopback port, sends it the golden
set (`dlqa deploy smoke`), evaluates the eval sets through it (`dlqa model eval BUNDLE`) and
writes the model card of that evaluation (`dlqa model card RUN`), each a stored run or file.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import nan
from pathlib import Path

from dlqa.config import Config
from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult
from dlqa.demo.eval_part import MODEL_FILE
from dlqa.runner.session import RunSession

BUNDLE_DIR = "models/bundle"


def deploy_config_text() -> str:
    """The ``[deploy]`` section of the demo's dlqa.toml."""
    return f"""
# The trained CNN as a deployable bundle: `dlqa deploy check` (and `dlqa check`) exports it
# to {BUNDLE_DIR} and checks it; `dlqa serve {BUNDLE_DIR}` serves it. The demo's ink
# extraction (top-hat, centring) travels inside the model as torch layers ("wrap"), so the
# serving preprocessing is a standard spec: grayscale, 32 x 32 bilinear, pixels 0..1.
[deploy]
bundle = "{BUNDLE_DIR}"
wrap = "dlqa.demo.ink:serving_model"
transform = "dlqa.demo.ink:raw_input"
preprocessing = {{ resize = [32, 32], interpolation = "bilinear", color_mode = "L" }}
"""


@dataclass(frozen=True)
class DeployPart:
    smoke: RunSession
    evaluation: RunSession
    card: dict[str, Path]  # "markdown" / "html" -> file

    @property
    def runs(self) -> list[RunSession]:
        return [self.smoke, self.evaluation]


def run_deploy_part(config: Config, **session: object) -> DeployPart:
    """Serve the bundle that `dlqa check` exported, smoke-test it, evaluate through it and
    write the model card of that evaluation."""
    from dlqa.deploy.server import serving
    from dlqa.runner.deploy import run_bundle_eval, run_smoke
    from dlqa.runner.model_card import write_model_card

    bundle = config.resolve(config.deploy.bundle)
    with serving(bundle) as url:
        smoke = run_smoke(config, url, bundle=bundle, **session)
    evaluation = run_bundle_eval(config, bundle, {}, **session)
    assert evaluation.run_id is not None
    card = write_model_card(config, evaluation.run_id)
    return DeployPart(smoke, evaluation, card)


def unexpected_deploy_failures(results: list[CheckResult]) -> list[str]:
    """Deployment checks that failed on the demo's correct bundle: the demo shows none."""
    return sorted({r.key for r in results if r.check_id.startswith("deploy.") and gate_fails(r)})


def deploy_lines(check_results: list[CheckResult], part: DeployPart) -> list[str]:
    """What `dlqa demo` says about the bundle."""
    by_key = {r.key: r for r in check_results if r.check_id.startswith("deploy.")}
    lines = []
    parity = [r for r in by_key.values() if r.check_id == "deploy.parity"]
    if parity:
        figures = ", ".join(
            f"{r.subject} {r.status.value} (max diff {r.details.get('max_abs_diff', nan):.1e}, "
            f"top-1 agreement {r.details.get('top1_agreement', nan):.3f})"
            for r in parity
        )
        lines.append(f"Bundle {BUNDLE_DIR} ({MODEL_FILE} exported to ONNX): parity {figures}.")
    smoke = next((r for r in part.smoke.results if r.check_id == "deploy.smoke"), None)
    if smoke is not None:
        lines.append(f"Smoke test of the served bundle (run {part.smoke.run_id}): {smoke.summary}")
    accuracy = next((r for r in part.evaluation.results if r.check_id == "eval.accuracy"), None)
    if accuracy is not None and accuracy.interval is not None and accuracy.value is not None:
        lines.append(
            f"Evaluated through the bundle (run {part.evaluation.run_id}): accuracy "
            f"{accuracy.value:.3f} [{accuracy.interval.low:.3f}, {accuracy.interval.high:.3f}] "
            f"over {accuracy.n} images."
        )
    for fmt, path in part.card.items():
        lines.append(f"Model card ({fmt}): {path}")
    return lines


__all__ = [
    "BUNDLE_DIR",
    "DeployPart",
    "deploy_config_text",
    "deploy_lines",
    "run_deploy_part",
    "unexpected_deploy_failures",
]
