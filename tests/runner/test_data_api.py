"""The Python API: run_data_qa on in-memory arrays, stored and reported like files."""

import numpy as np

from dlqa.core.results import Status
from dlqa.runner import run_data_qa
from dlqa.sources.arrays import ArraySource
from dlqa.store import open_store


def test_arrays_are_profiled_checked_and_stored(tmp_path):
    rng = np.random.default_rng(0)
    images = [
        (np.add.outer(np.arange(64), np.arange(64)) * rng.uniform(0.5, 2) % 256).astype(np.uint8)
        for _ in range(30)
    ]
    images = [np.stack([im, np.roll(im, k, axis=0), np.roll(im, 2 * k, axis=1)], -1)
              for k, im in enumerate(images, start=3)]  # fmt: skip
    images[5] = np.zeros((64, 64, 3), np.uint8)  # dark
    images[7] = images[6].copy()  # exact duplicate with another label
    labels = ["a", "b"] * 15
    store = open_store(project_dir=tmp_path)
    run = run_data_qa(ArraySource(images, labels=labels), store, workers=1)

    results = {r.check_id: r for r in run.results}
    assert results["data.dark"].flagged_ids() == {"5"}
    assert results["data.exact_duplicates"].flagged_ids() == {"6", "7"}
    assert results["data.conflicting_labels"].status is Status.FAIL
    assert results["data.format_mismatch"].status is Status.PASS
    assert run.exit_code == 1
    # Stored: the snapshot and each result, in order.
    assert store.get_snapshot("latest").fingerprint == run.report.meta["fingerprint"]
    assert [r.check_id for r in store.results_for_run(run.run_id)] == list(results)
    assert run.report.meta["n_samples"] == 30
    assert store.get_run(run.run_id).status == "finished"


def test_in_memory_evidence_gets_thumbnails_waveforms_and_players(tmp_path):
    from dlqa.report.media_types import audio_media_type, image_media_type
    from dlqa.sources import AudioArraySource

    store = open_store(project_dir=tmp_path)
    rng = np.random.default_rng(0)
    images = [rng.integers(60, 200, (32, 32, 3), dtype=np.uint8) for _ in range(12)]
    images.append(np.zeros((32, 32, 3), dtype=np.uint8))  # a black frame: data.dark's
    run = run_data_qa(ArraySource(images), store, workers=1)
    assert image_media_type(run.report.thumbnails["12"]) == "image/jpeg"

    t = np.arange(16_000) / 16_000
    clips = [0.3 * np.sin(2 * np.pi * (300 + 40 * k) * t) * np.hanning(len(t)) for k in range(6)]
    clips.append(0.0002 * np.sin(2 * np.pi * 440 * t))  # near-silent
    run = run_data_qa(AudioArraySource(clips, 16_000), store, workers=1)
    assert image_media_type(run.report.thumbnails["6"]) == "image/png"  # the waveform
    assert audio_media_type(run.report.media["6"]) in ("audio/ogg", "audio/wav")
