"""`dlqa deploy export / check` and `dlqa model eval BUNDLE` on a small real project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli
from tests.e2e.deploy_project import make_project, shape_image

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    return make_project(tmp_path)


def statuses(path: Path) -> dict[str, str]:
    document = json.loads(path.read_text())
    return {
        r["check_id"] + (f"[{r['subject']}]" if r.get("subject") else ""): r["status"]
        for r in document["results"]
    }


def test_export_check_and_evaluate_through_the_bundle(project: Path) -> None:
    code, out, err = run_cli("deploy", "export", "--quiet")
    assert code == 0, out + err
    manifest = json.loads((project / "bundle" / "dlqa-model.json").read_text())
    assert manifest["class_names"] == ["circle", "square"]
    assert manifest["preprocessing"]["mean"] == [0.5]

    code, out, err = run_cli("deploy", "check", "--no-export", "--json", "deploy.json", "-q")
    found = statuses(project / "deploy.json")
    for key in (
        "deploy.bundle",
        "deploy.parity[onnx_fp32]",
        "deploy.parity[onnx_fp16]",
        "deploy.batch_sweep",
        "deploy.preprocessing",
        "deploy.unexpected_inputs[cmyk]",
    ):
        assert found[key] == "pass", (key, found)  # fmt: skip
    # 24 files cannot show int8 agreement above 0.98: inconclusive, which fails its gate.
    assert found["deploy.parity[onnx_int8]"] == "inconclusive" and code == 1

    code, out, err = run_cli("model", "eval", "bundle", "--json", "eval.json", "-q")
    assert code in (0, 1), out + err
    document = json.loads((project / "eval.json").read_text())
    accuracy = next(r for r in document["results"] if r["check_id"] == "eval.accuracy")
    assert accuracy["n"] == 24


def test_a_tampered_bundle_fails_its_own_check(project: Path) -> None:
    assert run_cli("deploy", "export", "--quiet")[0] == 0
    path = project / "bundle" / "dlqa-model.json"
    manifest = json.loads(path.read_text())
    manifest["preprocessing"]["std"] = [0.5]
    path.write_text(json.dumps(manifest))
    code, out, err = run_cli("deploy", "check", "--no-export", "--json", "r.json", "-q")
    assert code == 1, out + err
    assert statuses(project / "r.json") == {"deploy.bundle": "fail"}
    assert (
        "'preprocessing' was edited after export"
        in json.loads((project / "r.json").read_text())["results"][0]["summary"]
    )
    code, out, err = run_cli("model", "eval", "bundle", "-q")
    assert code == 2 and err.count("dlqa: error:") == 1 and "was edited after export" in err


def test_bad_config_and_unknown_labels_are_usage_errors(project: Path) -> None:
    config = project / "dlqa.toml"
    config.write_text(config.read_text().replace('interpolation = "bilinear"',
                                                 'interpolation = "bilinearish"'))  # fmt: skip
    code, out, err = run_cli("deploy", "export")
    assert code == 2 and err.count("dlqa: error:") == 1 and "interpolation" in err
    config.write_text(config.read_text().replace("bilinearish", "bilinear"))
    assert run_cli("deploy", "export", "-q")[0] == 0
    shape_image(
        project / "evalset/test/triangle/00.png",
        "circle",
        __import__("numpy").random.default_rng(1),
    )
    code, out, err = run_cli("model", "eval", "bundle")
    assert code == 2 and "labels the model does not know" in err and "triangle" in err
