"""`dlqa data drift` and `[data] reference` on real image folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import ImageEnhance

from tests.e2e.conftest import run_cli, scene

pytestmark = pytest.mark.slow
DRIFT_IDS = {"data.prior_shift", "data.property_drift", "data.domain_classifier"}


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)


def write_folder(root: Path, seeds: range, *, size=(160, 120), brighten: float = 1.0) -> Path:
    """Class folders a/ and b/ of JPEG scenes, alternating by seed."""
    for seed in seeds:
        image = scene(seed).resize(size)
        if brighten != 1.0:
            image = ImageEnhance.Brightness(image).enhance(brighten)
        folder = root / ("a" if seed // 2 % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{seed:04d}.jpg", quality=90)
    return root


def results_of(path: Path) -> dict[str, dict]:
    report = json.loads(path.read_text(encoding="utf-8"))
    return {r["check_id"]: r for r in report["results"]}


def test_two_halves_of_one_dataset_do_not_drift(tmp_path):
    write_folder(tmp_path / "ref", range(0, 240, 2))
    write_folder(tmp_path / "cur", range(1, 240, 2))
    code, out, err = run_cli("data", "drift", "ref", "cur", "--json", "d.json", "--quiet")
    results = results_of(tmp_path / "d.json")
    assert set(results) == DRIFT_IDS, results.keys()
    statuses = {check_id: r["status"] for check_id, r in results.items()}
    assert code == 0, (statuses, out, err)
    assert all(status in {"pass", "inconclusive"} for status in statuses.values()), statuses


def test_a_change_of_resolution_drifts_and_names_the_property(tmp_path):
    write_folder(tmp_path / "ref", range(0, 200))
    write_folder(tmp_path / "cur", range(200, 400), size=(224, 224))
    code, _, _ = run_cli("data", "drift", "ref", "cur", "--json", "d.json", "--quiet")
    assert code == 1
    results = results_of(tmp_path / "d.json")
    drifted = results["data.property_drift"]
    assert drifted["status"] == "fail"
    assert "width" in json.dumps(drifted["evidence"]) or "height" in json.dumps(drifted["evidence"])
    assert results["data.domain_classifier"]["status"] == "fail"


def test_drift_between_stored_snapshots(tmp_path):
    write_folder(tmp_path / "ref", range(0, 200))
    write_folder(tmp_path / "cur", range(200, 400), brighten=1.6)
    for folder in ("ref", "cur"):
        code, _, _ = run_cli("data", "profile", folder, "--quiet")
        assert code in (0, 1)
    code, _, _ = run_cli("data", "drift", "1", "2", "--json", "d.json", "--quiet")
    assert code == 1
    results = results_of(tmp_path / "d.json")
    assert results["data.property_drift"]["status"] == "fail"


def test_dlqa_check_runs_drift_against_the_configured_reference(tmp_path):
    write_folder(tmp_path / "ref", range(0, 200))
    write_folder(tmp_path / "cur", range(200, 400), size=(224, 224))
    Path("dlqa.toml").write_text('[data]\nsource = "cur"\nreference = "ref"\n', encoding="utf-8")
    code, _, _ = run_cli("check", "--json", "c.json", "--quiet")
    results = results_of(tmp_path / "c.json")
    assert set(results) >= DRIFT_IDS
    assert results["data.property_drift"]["status"] == "fail"
    assert code == 1


def test_a_plain_profile_leaves_the_drift_checks_out(tmp_path):
    write_folder(tmp_path / "ref", range(0, 20))
    code, _, _ = run_cli("data", "profile", "ref", "--json", "p.json", "--quiet")
    assert not DRIFT_IDS & set(results_of(tmp_path / "p.json"))


def test_a_reference_that_is_neither_a_folder_nor_a_snapshot_exits_2(tmp_path):
    write_folder(tmp_path / "cur", range(0, 10))
    Path("dlqa.toml").write_text(
        '[data]\nsource = "cur"\nreference = "no_such_folder"\n', encoding="utf-8"
    )
    code, out, err = run_cli("check", "--quiet")
    assert code == 2
    assert "no_such_folder" in out + err
    code, out, err = run_cli("data", "drift", "missing", "cur", "--quiet")
    assert code == 2
    assert "missing" in out + err


def test_an_unknown_snapshot_as_current_exits_2(tmp_path):
    write_folder(tmp_path / "ref", range(0, 10))
    code, out, err = run_cli("data", "drift", "ref", "99", "--quiet")
    assert code == 2
    assert "99" in out + err


def write_clips(root: Path, sample_rate: int, seeds: range) -> Path:
    """Class folders of one-second noisy tones at ``sample_rate``, as WAV."""
    import numpy as np
    import soundfile as sf

    for seed in seeds:
        rng = np.random.default_rng(seed)
        t = np.arange(sample_rate) / sample_rate
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t) * np.hanning(len(t))
        folder = root / ("low" if seed % 2 else "high")
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{seed:03d}.wav", tone + rng.normal(0, 0.01, len(t)), sample_rate)
    return root


def test_a_switch_of_microphone_sample_rate_drifts(tmp_path):
    write_clips(tmp_path / "ref", 16_000, range(0, 60))
    write_clips(tmp_path / "cur", 8_000, range(60, 120))
    code, _, _ = run_cli("data", "drift", "ref", "cur", "--json", "d.json", "--quiet")
    assert code == 1
    drifted = results_of(tmp_path / "d.json")["data.property_drift"]
    assert drifted["status"] == "fail" and "sample_rate" in drifted["summary"]


def test_a_run_without_drift_or_label_checks_reads_neither_reference_nor_embeddings(tmp_path):
    from dlqa.config import load_config
    from dlqa.runner import run_configured_checks

    write_folder(tmp_path / "cur", range(0, 10))
    Path("dlqa.toml").write_text(
        '[data]\nsource = "cur"\nreference = "no_such_folder"\nembeddings = "missing.parquet"\n',
        encoding="utf-8",
    )
    config = load_config(Path("dlqa.toml"))
    # Only data.dark runs: the reference and the embeddings file are never opened (both
    # would be usage errors, as the full run shows).
    run = run_configured_checks(config, checks=["data.dark"])
    assert [r.check_id for r in run.results] == ["data.dark"]
    code, out, err = run_cli("check", "--quiet")
    assert code == 2 and "no_such_folder" in out + err
