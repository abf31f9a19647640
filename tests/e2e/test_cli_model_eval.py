"""`dlqa model eval` and `dlqa check` with [eval]: a real PyTorch model on real image files,
with test, golden and regression sets, slices from the stored profile, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import run_cli

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow

# The project's own model code, as a team would keep it beside dlqa.toml: a brightness
# classifier whose "features" layer is the embedding. Its transform refuses blank images
# (a model that fails on one input).
MODEL_CODE = """
import numpy as np
import torch
from torch import nn


class Brightness(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(2, 2)
        self.head = nn.Linear(2, 2)

    def forward(self, x):
        return self.head(self.features(x))


def build():
    return Brightness()


def transform(image):
    pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if pixels.std() == 0:
        raise ValueError("a blank image has nothing to classify")
    return torch.tensor([pixels.mean(), pixels.std()])
"""


def grey_image(path: Path, level: float, rng: np.random.Generator, size: int = 24) -> None:
    pixels = np.clip(rng.normal(level, 0.08, (size, size)) * 255, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "L").save(path)


def write_project(root: Path, *, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    (root / "model_def.py").write_text(MODEL_CODE, encoding="utf-8")
    namespace: dict = {}
    exec(MODEL_CODE, namespace)
    model = namespace["build"]()
    with torch.no_grad():
        model.features.weight.copy_(torch.eye(2))
        model.features.bias.zero_()
        model.head.weight.copy_(torch.tensor([[-20.0, 0.0], [20.0, 0.0]]))
        model.head.bias.copy_(torch.tensor([10.0, -10.0]))  # dark below 0.5, light above
    torch.save(model.state_dict(), root / "model.pt")
    for label, centre in (("dark", 0.3), ("light", 0.7)):
        for i in range(60):
            level = rng.normal(centre, 0.1)
            grey_image(root / "evalset/test" / label / f"{i:02d}.png", level, rng)
        for i in range(8):
            grey_image(root / "evalset/golden" / label / f"g{i}.png", rng.normal(centre, 0.15), rng)
    cases = [("r1.png", 0.2, "dark", "ticket 101"), ("r2.png", 0.8, "light", "ticket 102"),
             ("r3.png", 0.62, "dark", "ticket 103: a dim photo read as light")]  # fmt: skip
    with (root / "evalset/regression.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "expected", "note"])
        for name, level, expected, note in cases:
            grey_image(root / "evalset/cases" / name, level, rng)
            writer.writerow([f"cases/{name}", expected, note])
    (root / "dlqa.toml").write_text(
        """
[eval]
model = "model_def:build"
weights = "model.pt"
transform = "model_def:transform"
embedding_layer = "features"
class_names = ["dark", "light"]
test = "evalset/test"
golden = "evalset/golden"
regression = "evalset/regression.csv"
slices = ["brightness", "contrast"]

[eval.guardrails]
min_confidence = 0.6

[gates]
"eval.accuracy" = { min = 0.8 }
"eval.slices" = { min_slice_accuracy = 0.5, min_slice_size = 20 }
""",
        encoding="utf-8",
    )


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    write_project(tmp_path)
    return tmp_path


def results_of(path: str) -> dict[str, dict]:
    return {r["check_id"]: r for r in json.loads(Path(path).read_text())["results"]}


def test_model_eval_runs_every_set_and_the_regression_case_fails_with_its_note(project):
    code, out, err = run_cli("model", "eval", "--json", "r1.json", "--quiet")
    assert code == 1, out + err  # the third regression case is read wrong
    results = results_of("r1.json")
    accuracy = results["eval.accuracy"]
    assert accuracy["status"] == "pass" and accuracy["n"] == 120
    assert accuracy["interval"]["low"] >= 0.8
    regression = results["eval.regression_cases"]
    assert regression["status"] == "fail" and regression["n"] == 3
    failing = regression["evidence"][0]["items"]
    assert [item["id"] for item in failing] == ["regression:cases/r3.png"]
    assert failing[0]["note"].startswith("ticket 103")
    slices = results["eval.slices"]
    assert {i["name"].split("=")[0] for i in slices["evidence"][0]["items"]} == {
        "brightness", "contrast"
    }  # fmt: skip
    assert results["eval.embedding_clusters"]["details"]["embedding_dim"] == 2
    assert results["eval.golden"]["n"] == 16
    assert "no previous run" in results["eval.golden"]["summary"]
    assert results["eval.guardrails"]["status"] == "pass"
    report = json.loads(Path("r1.json").read_text())
    fingerprints = report["meta"]["eval"]["sets"] if "eval" in report["meta"] else None
    assert fingerprints is None or set(fingerprints) == {"test", "golden", "regression"}

    # A second run compares the golden cases with the first, case by case.
    code, _, _ = run_cli("check", "--json", "r2.json", "--quiet")
    assert code == 1
    golden = results_of("r2.json")["eval.golden"]
    assert golden["details"]["previous_run"] is not None
    assert golden["details"]["newly_wrong"] == [] and golden["details"]["newly_right"] == []


def test_a_changed_golden_set_is_not_compared_case_by_case(project):
    assert run_cli("model", "eval", "--quiet", "--check", "eval.golden")[0] == 0
    grey_image(project / "evalset/golden/dark/extra.png", 0.3, np.random.default_rng(9))
    code, _, _ = run_cli("model", "eval", "--quiet", "--check", "eval.golden", "--json", "g.json")
    assert code == 0
    assert "no previous run" in results_of("g.json")["eval.golden"]["summary"]


def test_an_input_the_model_fails_on_fails_eval_accuracy_and_is_named(project):
    Image.new("L", (24, 24), 128).save(project / "evalset/test/dark/blank.png")
    code, out, err = run_cli("model", "eval", "--quiet", "--json", "r.json",
                             "--check", "eval.accuracy")  # fmt: skip
    assert code == 1, out + err
    accuracy = results_of("r.json")["eval.accuracy"]
    assert accuracy["status"] == "fail"
    item = accuracy["evidence"][0]["items"][0]
    assert item["id"] == "dark/blank.png" and "blank image" in item["reason"]


def test_labels_the_model_does_not_know_are_a_usage_error(project):
    grey_image(project / "evalset/test/grey/x.png", 0.5, np.random.default_rng(1))
    code, out, err = run_cli("model", "eval", "--quiet")
    assert code == 2
    assert "labels the model does not know: ['grey']" in out + err


def test_a_regression_file_without_expected_labels_is_a_usage_error(project):
    path = project / "evalset/regression.csv"
    path.write_text(path.read_text().replace("expected", "wanted"))
    code, out, err = run_cli("model", "eval", "--quiet")
    assert code == 2
    assert "[eval] regression" in out + err and "expected label" in out + err


def test_no_model_configured_is_a_usage_error(project):
    text = (project / "dlqa.toml").read_text().replace('model = "model_def:build"\n', "")
    (project / "dlqa.toml").write_text(text)
    code, out, err = run_cli("model", "eval", "--quiet")
    assert code == 2 and "names no model" in out + err
