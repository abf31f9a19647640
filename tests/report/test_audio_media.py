"""Audio previews and waveform thumbnails, made from files written with soundfile."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from dlqa.report import audio_media
from dlqa.report.audio_media import (
    AUDIO_PREVIEW_MEDIA_TYPE,
    FULL_SCALE_BAND,
    PREVIEW_SECONDS,
    WAVEFORM_HEIGHT,
    WAVEFORM_WIDTH,
    make_audio_preview,
    make_waveform_thumbnail,
)
from dlqa.report.media_types import audio_data_uri, audio_media_type, png_size

RATE = 16_000


def _tone(seconds: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(data), always_2d=True)
    return samples, rate


def _rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _red_pixels(pixels: np.ndarray) -> int:
    """Pixels a reader sees as red: the clipped envelope and the clipped full-scale band."""
    r, g, b = (pixels[..., channel].astype(int) for channel in range(3))
    return int(((r > 190) & (g < 150) & (b < 150)).sum())


def test_a_long_stereo_file_previews_as_at_most_ten_seconds_of_mono_ogg(tmp_path: Path) -> None:
    stereo = np.stack([_tone(25, rate=44_100), _tone(25, 0.2, rate=44_100)], axis=1)
    path = tmp_path / "long.flac"
    soundfile.write(path, stereo, 44_100)
    preview = make_audio_preview(path)
    assert preview.startswith(b"OggS")
    assert audio_media_type(preview) == AUDIO_PREVIEW_MEDIA_TYPE == "audio/ogg"
    samples, rate = _decode(preview)
    assert samples.shape[1] == 1
    assert rate <= 22_050
    assert len(samples) / rate <= PREVIEW_SECONDS + 0.01
    assert len(samples) / rate >= PREVIEW_SECONDS - 0.1
    assert len(preview) < 200_000  # small enough to embed a dozen in a page


def test_a_short_clip_previews_whole(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    soundfile.write(path, _tone(1.5), RATE)
    samples, rate = _decode(make_audio_preview(str(path)))
    assert rate == RATE
    assert abs(len(samples) / rate - 1.5) < 0.05
    assert 0.3 < np.abs(samples).max() < 0.7  # the tone, not silence


def test_the_preview_of_a_long_clip_is_its_loudest_part() -> None:
    quiet = np.zeros(30 * RATE, dtype=np.float32)
    quiet[20 * RATE : 22 * RATE] = _tone(2, 0.8)  # a burst 20 s in
    samples, _ = _decode(make_audio_preview(waveform=quiet, sample_rate=RATE))
    assert np.abs(samples).max() > 0.5


def test_integer_and_multichannel_waveforms_are_accepted() -> None:
    pcm = (np.stack([_tone(1), _tone(1)], axis=1) * 32767).astype(np.int16)
    samples, _ = _decode(make_audio_preview(waveform=pcm, sample_rate=RATE))
    assert 0.3 < np.abs(samples).max() < 0.7
    thumbnail = make_waveform_thumbnail(waveform=pcm, sample_rate=RATE)
    assert png_size(thumbnail) == (WAVEFORM_WIDTH, WAVEFORM_HEIGHT)


def test_the_preview_falls_back_to_wav_when_vorbis_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = soundfile.write

    def no_vorbis(file, data, rate, *args, **kwargs):
        if kwargs.get("format") == "OGG":
            raise soundfile.LibsndfileError(0, "no Vorbis here: ")
        return real_write(file, data, rate, *args, **kwargs)

    monkeypatch.setattr(soundfile, "write", no_vorbis)
    preview = make_audio_preview(waveform=_tone(3, rate=44_100), sample_rate=44_100)
    assert audio_media_type(preview) == "audio/wav"
    assert audio_data_uri(preview).startswith("data:audio/wav;base64,")
    samples, rate = _decode(preview)
    assert rate <= 16_000 and abs(len(samples) / rate - 3) < 0.01


def test_waveform_thumbnail_is_a_png_of_the_right_size(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    soundfile.write(path, _tone(2), RATE)
    thumbnail = make_waveform_thumbnail(path)
    image = Image.open(io.BytesIO(thumbnail))
    assert image.format == "PNG"
    assert image.size == (WAVEFORM_WIDTH, WAVEFORM_HEIGHT) == (256, 64)
    assert len(thumbnail) < 4_000


def test_clipping_shows_red_in_the_full_scale_band_of_its_side(tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    clean = (0.5 * np.sin(2 * np.pi * 5 * t)).astype(np.float32)
    # Driven into the rails on top only: a square-ish wave flat at +1.0.
    clipped_top = np.clip(3 * np.sin(2 * np.pi * 5 * t), -0.6, 1.0).astype(np.float32)
    soundfile.write(tmp_path / "clean.wav", clean, RATE)
    soundfile.write(tmp_path / "clipped.wav", clipped_top, RATE, subtype="FLOAT")
    clean_pixels = _rgb(make_waveform_thumbnail(tmp_path / "clean.wav"))
    clipped_pixels = _rgb(make_waveform_thumbnail(tmp_path / "clipped.wav"))
    top, bottom = slice(0, FULL_SCALE_BAND), slice(WAVEFORM_HEIGHT - FULL_SCALE_BAND, None)
    assert _red_pixels(clean_pixels) == 0
    assert _red_pixels(clipped_pixels[top]) > WAVEFORM_WIDTH  # about half the columns clip
    assert _red_pixels(clipped_pixels[bottom]) == 0  # the bottom never reaches full scale
    # Silence draws the zero line (and the faint bands) only.
    silence = _rgb(make_waveform_thumbnail(waveform=np.zeros(RATE), sample_rate=RATE))
    zero_rows = {int(row) for row in np.nonzero(np.any(silence != 255, axis=(1, 2)))[0]}
    assert zero_rows - set(range(FULL_SCALE_BAND)) - set(range(60, 64)) == {32}


def test_a_clip_shorter_than_the_image_is_drawn_across_it() -> None:
    pixels = _rgb(make_waveform_thumbnail(waveform=np.array([0.9, -0.9, 0.0]), sample_rate=RATE))
    assert pixels.shape == (WAVEFORM_HEIGHT, WAVEFORM_WIDTH, 3)
    assert np.any(pixels[:, -1] != pixels[:, 0])  # not a blank image


@pytest.mark.parametrize("make", [make_audio_preview, make_waveform_thumbnail])
def test_what_does_not_decode_raises(make, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really" + bytes(range(256)) * 4)
    with pytest.raises(RuntimeError):
        make(garbage)
    with pytest.raises(RuntimeError):
        make(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), RATE)
    with pytest.raises(ValueError):
        make(empty)
    with pytest.raises(ValueError):
        make(waveform=np.zeros(10), sample_rate=None)
    with pytest.raises(TypeError):
        make()


def test_module_constants_say_what_the_stage_stores() -> None:
    assert audio_media.WAVEFORM_MEDIA_TYPE == "image/png"
    assert audio_data_uri(b"fLaC....") == "data:audio/flac;base64,ZkxhQy4uLi4="
    assert audio_data_uri(b"<script>") is None
