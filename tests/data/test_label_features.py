"""Features for dlqa's own label model (images, text, audio), and the out-of-fold model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from scipy import sparse

from dlqa.data.label_features import (
    extract_features,
    mel_filterbank,
    neighbour_vote,
    out_of_fold_probs,
)
from dlqa.sources.base import Sample


def _image(colour: tuple[int, int, int], stripes: bool, size: int = 256) -> np.ndarray:
    image = np.zeros((size, size, 3), dtype=np.uint8)
    image[:] = colour
    if stripes:  # 8-pixel bands: JPEG keeps them (it blurs 1-pixel colour stripes)
        for start in range(0, size, 32):
            image[:, start : start + 8] = 255 - np.array(colour, dtype=np.uint8)
    return image


def test_image_features_from_files_and_arrays(tmp_path) -> None:
    red = _image((200, 20, 20), stripes=True)
    Image.fromarray(red).save(tmp_path / "red.png")
    Image.fromarray(red).save(tmp_path / "red.jpg", quality=95, subsampling=0)
    Image.fromarray(red).convert("RGBA").save(tmp_path / "red_alpha.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    samples = [
        Sample("png", 0, path=str(tmp_path / "red.png")),
        Sample("jpg", 1, path=str(tmp_path / "red.jpg")),
        Sample("rgba", 2, path=str(tmp_path / "red_alpha.png")),
        Sample("array", 3, array=red),
        Sample("grey", 4, array=red[:, :, 0]),
        Sample("blue", 5, array=_image((20, 20, 200), stripes=False)),
        Sample("broken", 6, path=str(tmp_path / "broken.jpg")),
    ]
    ticks = []
    ids, features, decoded = extract_features(samples, "image", ticks.append)
    assert ids == ["png", "jpg", "rgba", "array", "grey", "blue", "broken"]
    assert sum(ticks) == len(samples)
    assert decoded.tolist() == [True] * 6 + [False]
    assert np.isnan(features[6]).all() and np.isfinite(features[:6]).all()
    # One picture through PNG, JPEG (decoded at a reduced scale), RGBA and memory: nearly
    # one vector.
    spread = np.abs(features[:4] - features[3]).max()
    assert spread < 0.1
    # A plain blue square differs from red stripes far more than that.
    assert np.abs(features[5] - features[3]).max() > 5 * spread


def test_text_features_are_normalised_tf_idf(tmp_path) -> None:
    (tmp_path / "doc.txt").write_text("the river runs by the stone bridge", encoding="utf-8")
    texts = ["the river runs under the bridge", "a river and a stone", "", "stone bridge"]
    samples = [Sample(f"t{k}", k, text=t) for k, t in enumerate(texts)]
    samples.append(Sample("file", 4, path=str(tmp_path / "doc.txt")))
    ids, features, decoded = extract_features(samples, "text")
    assert ids[-1] == "file" and sparse.issparse(features)
    assert decoded.tolist() == [True, True, False, True, True]
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1))).ravel()
    assert norms[decoded] == pytest.approx(1.0, abs=1e-5) and norms[2] == 0


def test_audio_features_from_files_and_arrays(tmp_path) -> None:
    rate = 16_000
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", tone, rate, subtype="PCM_16")
    high = np.arange(44_100) / 44_100
    sf.write(tmp_path / "tone_44k.wav", 0.3 * np.sin(2 * np.pi * 440 * high), 44_100)
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    noise = np.random.default_rng(0).normal(0, 0.1, rate).astype(np.float32)
    samples = [
        Sample("wav", 0, path=str(tmp_path / "tone.wav")),
        Sample("array", 1, array=tone, sample_rate=rate),
        Sample("int16", 2, array=(tone * 32767).astype(np.int16), sample_rate=rate),
        Sample("44k", 3, path=str(tmp_path / "tone_44k.wav")),
        Sample("noise", 4, array=np.stack([noise, noise], axis=1), sample_rate=rate),
        Sample("bad", 5, path=str(tmp_path / "bad.wav")),
        Sample("no_rate", 6, array=tone),
    ]
    _, features, decoded = extract_features(samples, "audio")
    assert decoded.tolist() == [True] * 5 + [False, False]
    tones = features[:4]
    # One tone from a file, memory, int16 and another rate: close; noise: far.
    assert np.linalg.norm(tones - tones[0], axis=1).max() < 1.0
    assert np.linalg.norm(features[4] - tones[0]) > 10.0


def test_mel_filters_cover_the_band_once() -> None:
    bank = mel_filterbank(16_000, 512, n_mels=20)
    assert bank.shape == (20, 257)
    assert bank.max(axis=1) == pytest.approx(1.0, abs=0.1)
    # Neighbouring triangles overlap by half: inside the band each bin sums to about one.
    assert bank.sum(axis=0)[5:220] == pytest.approx(1.0, abs=0.05)


def test_out_of_fold_probs_shape_and_rows() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 30)
    features = rng.normal(0, 1, (90, 4)) + labels[:, None] * 3.0
    labels = np.concatenate([labels, [3, 3, -1]])  # class 3: too few samples; one unlabelled
    features = np.vstack([features, rng.normal(0, 1, (3, 4))])
    probs = out_of_fold_probs(features, labels, 4)
    assert probs.shape == (93, 4)
    assert np.isnan(probs[90:]).all()
    assert probs[:90].sum(axis=1) == pytest.approx(1.0)
    assert (probs[:90, 3] == 0).all()  # never trained on
    assert (probs[:90].argmax(axis=1) == labels[:90]).mean() > 0.9


def test_probabilities_are_out_of_fold() -> None:
    """Every sample has a feature of its own and a random label: a model that saw the sample
    would know its label, one that did not can only guess."""
    rng = np.random.default_rng(2)
    n = 200
    labels = rng.integers(0, 4, n)
    identity = np.eye(n)
    probs = out_of_fold_probs(sparse.csr_matrix(identity), labels, 4, regularisation=100.0)
    accuracy = (probs.argmax(axis=1) == labels).mean()
    assert accuracy < 0.45  # chance is 0.25-0.3 (the largest class)
    # The same model fitted on all samples, for contrast, remembers them.
    from sklearn.linear_model import LogisticRegression

    seen = LogisticRegression(C=100.0, max_iter=300).fit(identity, labels)
    assert (seen.predict(identity) == labels).mean() > 0.95


def test_no_model_without_two_classes() -> None:
    probs = out_of_fold_probs(np.ones((10, 2)), np.zeros(10, dtype=int), 1)
    assert np.isnan(probs).all()


def test_neighbour_vote_skips_rows_without_features() -> None:
    features = np.repeat(np.eye(3), 4, axis=0)
    features[0] = np.nan
    labels = np.repeat(np.arange(3), 4)
    usable, local, agreeing = neighbour_vote(features, np.arange(12), labels, 3, 3)
    assert not usable[0] and usable[1:].all()
    assert local.shape == (11, 3) and agreeing.shape == (11,)
    assert neighbour_vote(features[:3], np.arange(3), labels[:3], 3, 3) is None
