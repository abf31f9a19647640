"""`dlqa model card` on a store written by real commands: `dlqa deploy check` exports and
checks a bundle of a small CNN, `dlqa model eval BUNDLE` evaluates through it, `dlqa data
profile` profiles the test set; the card finds all three from the evaluation run alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run_cli
from tests.e2e.deploy_project import make_project

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    return make_project(tmp_path)


def test_the_card_of_a_bundle_eval_finds_its_deployment_and_data_runs(project: Path) -> None:
    torch.set_num_threads(1)
    code, out, err = run_cli("deploy", "check", "--quiet")
    assert code in (0, 1), out + err  # run 1: exported and checked
    code, out, err = run_cli("model", "eval", "bundle", "--quiet")
    assert code in (0, 1), out + err  # run 2: through the bundle
    code, out, err = run_cli("data", "profile", "evalset/test", "--quiet")
    assert code in (0, 1), out + err  # run 3: the data checks of the test set

    code, out, err = run_cli("model", "card", "2")
    assert code == 0, out + err
    folder = project / ".dlqa/reports/model-card-run-2"
    markdown = (folder / "model-card.md").read_text(encoding="utf-8")
    html = (folder / "model-card.html").read_text(encoding="utf-8")
    assert str(folder / "model-card.md") in out.replace("\n", "")

    assert "run 1 (deploy.check" in markdown and "found by bundle fingerprint sha256:" in markdown
    assert "`onnx_fp32`" in markdown  # the parity matrix
    assert "### Batch sweep" in markdown and "### Preprocessing parity" in markdown
    assert "data checks: run 3 (data.profile" in markdown
    assert "| accuracy |" in markdown and "95% CI" in markdown
    assert "brightness=" in markdown  # the stored slices
    assert "no deployment run" not in markdown
    assert "**missing**: no smoke test" in markdown  # nothing served it
    assert "<svg" in html and "http://" not in html and "https://" not in html

    code, out, err = run_cli("model", "card", "1")
    assert code == 2
    assert err.count("dlqa: error:") == 1 and "run 1 is not an evaluation run" in err
    code, out, err = run_cli("model", "card", "42")
    assert code == 2 and "no run 42" in err
