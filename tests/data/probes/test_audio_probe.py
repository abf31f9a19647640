"""Audio probe: levels, clipping, silence, the loudest second, DC offset, truncation, content
hashes and bad files, on synthesised clips written to real WAV, FLAC, OGG and MP3 files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.data.chunk_probe import probe_chunk, probe_sample
from dlqa.data.modalities import AUDIO, profile_schema
from dlqa.sources.base import Sample
from tests.data.audio_signals import RATE, array_samples, fade, file_samples, tone, word, write


def probe_file(path: Path) -> dict:
    return probe_sample(Sample(path.name, 0, path=str(path)), "audio")


def probe_array(x: np.ndarray, rate: int = RATE) -> dict:
    return probe_sample(array_samples([x], rate)[0], "audio")


@pytest.mark.parametrize(
    ("suffix", "subtype", "expected"),
    [
        (".wav", "PCM_16", "PCM_16"),
        (".wav", "FLOAT", "FLOAT"),
        (".flac", "PCM_24", "PCM_24"),
        (".ogg", "VORBIS", "VORBIS"),
        (".mp3", "MPEG_LAYER_III", "MPEG_LAYER_III"),
    ],
)
def test_each_format_decodes_with_its_header_facts(tmp_path, suffix, subtype, expected):
    path = write(tmp_path / f"clip{suffix}", tone(440, 1.0, -6), subtype=subtype)
    row = probe_file(path)
    assert row["error"] is None, row["error_detail"]
    assert (row["sample_rate"], row["channels"], row["subtype"]) == (RATE, 1, expected)
    assert row["duration"] == pytest.approx(1.0, abs=0.1)  # MP3 may pad a frame
    assert row["peak_dbfs"] == pytest.approx(-6.0, abs=1.0)
    assert len(row["fingerprint"]) % 8 == 0


def test_levels_of_a_tone_in_dbfs(tmp_path):
    row = probe_file(write(tmp_path / "t.wav", tone(1000, 2.0, -20)))
    assert row["peak_dbfs"] == pytest.approx(-20.0, abs=0.1)
    assert row["rms_dbfs"] == pytest.approx(-23.0 - 0.3, abs=0.3)  # sine: -3 dB; fades: -0.3
    assert row["loudest_window_dbfs"] == pytest.approx(-23.0, abs=0.2)
    assert row["silent_fraction"] == 0.0
    assert row["dc_offset"] == pytest.approx(0.0, abs=1e-4)


def test_stereo_clip_counts_its_channels(tmp_path):
    stereo = np.stack([tone(440, 1.0, -6), tone(660, 1.0, -12)], axis=1)
    row = probe_file(write(tmp_path / "s.flac", stereo))
    assert row["channels"] == 2 and row["frames"] == RATE
    assert row["peak_dbfs"] == pytest.approx(-6.0, abs=0.1)


def test_digital_silence_is_a_number_not_minus_infinity():
    row = probe_array(np.zeros(RATE, dtype=np.float32))
    assert row["rms_dbfs"] == row["peak_dbfs"] == -150.0
    assert row["silent_fraction"] == 1.0
    assert row["truncated"] is None and row["start_edge_db"] is None


def test_a_full_scale_square_wave_is_clipped_and_a_single_peak_is_not(tmp_path):
    square = np.sign(np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)
    clipped = probe_file(write(tmp_path / "square.wav", square))
    assert clipped["clipped_fraction"] > 0.9 and clipped["clipped_runs"] > 800

    peaky = tone(440, 1.0, -6)
    peaky[RATE // 2] = 1.0
    single = probe_file(write(tmp_path / "peak.wav", peaky))
    assert single["peak_dbfs"] == pytest.approx(0.0, abs=0.01)
    assert single["clipped_fraction"] == 0.0 and single["clipped_runs"] == 0


def test_an_overdriven_sine_is_clipped_in_runs(tmp_path):
    overdriven = np.clip(2 * tone(100, 1.0, 0, faded=None), -1, 1)
    row = probe_file(write(tmp_path / "hot.wav", overdriven))
    # 2 sin(x) sits at the rails for 2/3 of each cycle, 200 runs a second
    assert row["clipped_fraction"] == pytest.approx(2 / 3, abs=0.02)
    assert row["clipped_runs"] == pytest.approx(200, abs=2)


def test_dc_offset_is_the_mean_sample_value(tmp_path):
    row = probe_file(write(tmp_path / "dc.wav", tone(440, 1.0, -20) + np.float32(0.1)))
    assert row["dc_offset"] == pytest.approx(0.1, abs=0.001)


def test_silent_fraction_counts_quiet_ten_millisecond_frames():
    half = np.concatenate([tone(440, 1.0, -6, faded=None), np.zeros(RATE, dtype=np.float32)])
    assert probe_array(half)["silent_fraction"] == pytest.approx(0.5, abs=0.01)


def test_loudest_window_finds_the_burst():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5 * RATE) * 10 ** (-50 / 20)
    x[3 * RATE : int(3.5 * RATE)] = rng.standard_normal(RATE // 2) * 10 ** (-10 / 20)
    row = probe_array(x.astype(np.float32))
    # Every second from 2.5 to 3.0 s holds the whole half-second burst.
    assert 2.45 <= row["loudest_window_start"] <= 3.05
    assert row["loudest_window_dbfs"] == pytest.approx(-13.0, abs=0.3)


@pytest.mark.parametrize(
    ("clip", "expected"),
    [
        (tone(440, 1.0, -6), None),  # 50 ms fades: a natural start and end
        (tone(440, 1.0, -6, faded=None), "both"),
        (fade(tone(440, 1.0123, -6, faded=None))[: RATE // 2 + 37], "end"),  # cut mid-cycle
        (tone(440, 1.0, -6, faded=None)[::-1].copy() * np.linspace(1, 0, RATE), "start"),
        (np.concatenate([np.zeros(800), tone(440, 1.0, -6, faded=None), np.zeros(800)]), None),
    ],
    ids=["faded", "both", "cut-end", "cut-start", "silence-around"],
)
def test_truncation_tells_a_cut_from_a_fade(clip, expected):
    row = probe_array(np.asarray(clip, dtype=np.float32))
    assert row["truncated"] == expected


def test_a_word_cut_in_the_middle_of_a_syllable_is_truncated_at_the_end():
    speech = word(3)
    frames = np.square(speech[: len(speech) // 160 * 160]).reshape(-1, 160).mean(axis=1)
    loudest = int(np.argmax(frames)) * 160
    whole, cut = probe_array(speech), probe_array(speech[:loudest])
    assert whole["truncated"] is None
    assert cut["truncated"] == "end" and cut["end_edge_db"] > -20


def test_the_same_samples_in_another_container_or_bit_depth_hash_alike(tmp_path):
    pcm = np.round(word(1) * 32767).astype(np.int16)
    wav = probe_file(write(tmp_path / "a.wav", pcm, subtype="PCM_16"))
    flac = probe_file(write(tmp_path / "a.flac", pcm, subtype="PCM_24"))
    floats = probe_file(write(tmp_path / "f.wav", pcm / np.float32(32768), subtype="FLOAT"))
    memory = probe_array(pcm)
    assert wav["sha256"] != flac["sha256"] != floats["sha256"]
    assert wav["content_hash"] == flac["content_hash"] == floats["content_hash"]
    assert memory["content_hash"] == wav["content_hash"]
    other_rate = probe_file(write(tmp_path / "b.wav", pcm, rate=22_050, subtype="PCM_16"))
    stereo = probe_file(write(tmp_path / "c.wav", np.stack([pcm, pcm], 1), subtype="PCM_16"))
    assert len({wav["content_hash"], other_rate["content_hash"], stereo["content_hash"]}) == 3


def _wav_bytes(tmp_path: Path) -> bytes:
    return write(tmp_path / "ok.wav", tone(440, 1.0, -6), subtype="PCM_16").read_bytes()


def _bad(tmp_path: Path, name: str, data: bytes) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    return probe_file(path)


def test_an_empty_file_and_a_frameless_wav_are_empty(tmp_path):
    assert _bad(tmp_path, "zero.wav", b"")["error"] == "empty"
    header_only = _bad(tmp_path, "header.wav", _wav_bytes(tmp_path)[:44])
    assert header_only["error"] == "empty"
    assert header_only["error_detail"] == "the clip has no audio frames"


def test_random_bytes_named_wav_are_corrupt(tmp_path):
    row = _bad(tmp_path, "noise.wav", np.random.default_rng(0).bytes(5000))
    assert row["error"] == "corrupt"
    assert row["error_detail"].startswith("not decodable as audio: ")
    assert "BytesIO" not in row["error_detail"]


def test_a_wav_cut_short_is_truncated(tmp_path):
    data = _wav_bytes(tmp_path)
    row = _bad(tmp_path, "cut.wav", data[: len(data) // 2])
    assert row["error"] == "truncated"
    assert "declares 32000 bytes of audio but the file holds" in row["error_detail"]
    assert row["duration"] == pytest.approx(0.5, abs=0.01)  # what is there is still measured


def test_a_wav_header_that_understates_its_audio_is_corrupt(tmp_path):
    data = bytearray(_wav_bytes(tmp_path))
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 1000)
    row = _bad(tmp_path, "short_header.wav", bytes(data))
    assert row["error"] == "corrupt" and "header understates the audio" in row["error_detail"]


def test_a_wav_with_metadata_after_the_audio_is_fine(tmp_path):
    info = b"INFOICMT" + struct.pack("<I", 4) + b"note"
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    assert _bad(tmp_path, "list.wav", _wav_bytes(tmp_path) + chunk)["error"] is None


def test_an_unsupported_codec_is_named(tmp_path):
    data = bytearray(_wav_bytes(tmp_path))
    at = data.find(b"fmt ")
    data[at + 8 : at + 10] = struct.pack("<H", 0x0160)
    row = _bad(tmp_path, "wma.wav", bytes(data))
    assert row["error"] == "corrupt"
    assert row["error_detail"] == ("unsupported codec: WAV format tag 0x0160 (Windows Media Audio)")


@pytest.mark.parametrize(("suffix", "expected"), [(".mp3", "truncated"), (".flac", "corrupt")])
def test_a_compressed_clip_cut_short_is_a_finding(tmp_path, suffix, expected):
    data = write(tmp_path / f"whole{suffix}", word(2, 3.0)).read_bytes()
    row = _bad(tmp_path, f"cut{suffix}", data[: len(data) // 2])
    assert row["error"] == expected and row["error_detail"]


def test_bad_files_are_findings_in_a_chunk_not_exceptions(tmp_path):
    good = write(tmp_path / "good.wav", tone())
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    batch = probe_chunk((file_samples([good, bad, empty]), [], "audio"))
    assert batch.schema == profile_schema(AUDIO, [])
    assert batch.column("error").to_pylist() == [None, "corrupt", "empty"]


def test_in_memory_waveforms_of_any_sample_type():
    pcm = np.round(tone() * 32767).astype(np.int16)
    as_int, as_float = probe_array(pcm), probe_array(pcm / np.float32(32768))
    assert (as_int["subtype"], as_float["subtype"]) == ("PCM_16", "FLOAT")
    assert as_int["content_hash"] == as_float["content_hash"]
    assert as_int["sha256"] != as_float["sha256"]
    stereo = probe_array(np.stack([pcm, pcm], axis=1))
    assert stereo["channels"] == 2
    empty = probe_array(np.zeros(0, dtype=np.float32))
    assert (empty["error"], empty["frames"]) == ("empty", 0)


def test_a_value_that_is_not_a_waveform_is_a_usage_error_and_a_corrupt_row_in_a_chunk():
    cube = np.zeros((4, 4, 4), dtype=np.float32)
    with pytest.raises(UsageError, match="audio arrays must be"):
        probe_array(cube)
    with pytest.raises(UsageError, match="sample_rate"):
        probe_sample(Sample("x", 0, array=tone()), "audio")
    batch = probe_chunk((array_samples([cube, tone()]), [], "audio"))
    assert batch.column("error").to_pylist() == ["corrupt", None]
