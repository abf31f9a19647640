"""profile_source: one row per sample, in source order, streamed to Parquet."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import dlqa.data.chunk_probe as chunk_probe
import dlqa.data.probes.image as image_probe
from dlqa.core.errors import UsageError
from dlqa.data.chunk_probe import probe_sample
from dlqa.data.modalities import IMAGE, profile_schema
from dlqa.data.profile import ProfileInfo, profile_source, read_profile
from dlqa.execute import LocalExecutor, WorkerDied
from dlqa.sources.base import Sample

PROFILE_SCHEMA = profile_schema(IMAGE, [])


class ListSource:
    """The smallest Source: a list of samples."""

    kind = "folder"

    def __init__(self, root: Path, samples: list[Sample]) -> None:
        self.root = str(root)
        self.samples = samples

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)


def build_dataset(folder: Path) -> ListSource:
    """Eleven samples: good images of several formats plus every kind of bad file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files: list[tuple[str, str]] = []  # (name, label)
    for i in range(6):
        pixels = rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)
        name = f"good_{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(pixels).save(folder / name, "JPEG" if i % 2 else "PNG")
        files.append((name, "cat" if i < 3 else "dog"))
    Image.new("RGB", (30, 30), (9, 9, 9)).save(folder / "png_named.jpg", "PNG")
    files.append(("png_named.jpg", "cat"))
    (folder / "empty.png").write_bytes(b"")
    files.append(("empty.png", "dog"))
    (folder / "noise.jpg").write_bytes(rng.bytes(3000))
    files.append(("noise.jpg", "dog"))
    samples = [
        Sample(
            sample_id=name,
            index=index,
            path=str(folder / name),
            label=label,
            split="train",
            metadata={"source": "camera", "batch": index // 4},
        )
        for index, (name, label) in enumerate(files)
    ]
    index = len(samples)
    samples.append(
        Sample(
            sample_id="array_0",
            index=index,
            array=np.full((20, 30), 77, dtype=np.uint8),
            metadata={"source": "memory", "batch": 9},
        )
    )
    samples.append(
        Sample(
            sample_id="bad_array",
            index=index + 1,
            array=np.zeros((20, 30), dtype=np.float64),  # probe_array raises UsageError
            metadata={"source": "memory", "batch": 9},
        )
    )
    return ListSource(folder, samples)


def test_profile_writes_every_sample_in_order_with_the_schema(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    progress: list[int] = []
    info = profile_source(
        source,
        tmp_path / "out" / "profile.parquet",
        executor=LocalExecutor(1),
        chunk_size=4,
        on_progress=progress.append,
    )
    assert info == ProfileInfo(
        path=tmp_path / "out" / "profile.parquet",
        n_samples=11,
        n_errors=3,  # empty file, random bytes, float array
        meta_columns=["meta.source", "meta.batch"],
    )
    assert progress == [4, 4, 3]
    table = read_profile(info.path)
    assert table.schema.names == PROFILE_SCHEMA.names + ["meta.source", "meta.batch"]
    for field in PROFILE_SCHEMA:
        assert table.schema.field(field.name).type == field.type
    rows = table.to_pylist()
    assert [row["sample_id"] for row in rows] == [s.sample_id for s in source.samples]
    assert [row["index"] for row in rows] == list(range(11))
    by_id = {row["sample_id"]: row for row in rows}
    assert (
        by_id["good_1.jpg"]["sha256"]
        == hashlib.sha256((tmp_path / "data" / "good_1.jpg").read_bytes()).hexdigest()
    )
    assert (by_id["good_2.png"]["width"], by_id["good_2.png"]["height"]) == (50, 42)
    assert by_id["png_named.jpg"]["format_mismatch"] is True
    assert by_id["empty.png"]["error"] == "empty"
    assert by_id["noise.jpg"]["error"] == "corrupt"
    assert by_id["array_0"]["path"] is None
    assert by_id["array_0"]["brightness"] == pytest.approx(77, abs=0.5)
    assert by_id["bad_array"]["error"] == "corrupt"
    assert "uint8" in by_id["bad_array"]["error_detail"]
    assert by_id["good_0.png"]["meta.batch"] == "0"
    assert by_id["array_0"]["meta.source"] == "memory"
    assert not list((tmp_path / "out").glob("*.partial"))


def test_one_and_two_workers_give_identical_tables(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    tables = []
    for workers in (1, 2):
        with LocalExecutor(workers) as executor:
            info = profile_source(
                source, tmp_path / f"w{workers}.parquet", executor=executor, chunk_size=2
            )
        tables.append(read_profile(info.path))
    assert tables[0].num_rows == 11
    assert tables[0].equals(tables[1])


def test_probe_exception_for_one_sample_does_not_abort_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = build_dataset(tmp_path / "data")
    real_decode = image_probe.decode_image_bytes

    def decode_that_crashes_on_one_file(data: bytes):
        if data == (tmp_path / "data" / "good_3.jpg").read_bytes():
            raise RuntimeError("probe bug")
        return real_decode(data)

    monkeypatch.setattr(image_probe, "decode_image_bytes", decode_that_crashes_on_one_file)
    info = profile_source(source, tmp_path / "p.parquet", executor=LocalExecutor(1), chunk_size=5)
    rows = {row["sample_id"]: row for row in read_profile(info.path).to_pylist()}
    assert info.n_samples == 11
    # dlqa's bug is said as such, with where it happened; the file is not called corrupt.
    assert rows["good_3.jpg"]["error"] == "probe_error"
    assert rows["good_3.jpg"]["error_detail"].startswith("RuntimeError: probe bug (in ")
    assert "decode_that_crashes_on_one_file" in rows["good_3.jpg"]["error_detail"]
    assert rows["good_4.png"]["error"] is None and rows["good_4.png"]["brightness"] is not None


def test_statistics_failing_for_one_image_fail_only_that_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = build_dataset(tmp_path / "data")
    real_statistics = image_probe.pixel_statistics_many

    def statistics_that_crash_on_a_40_pixel_high_image(works):
        if any(luma.size[1] == 43 for luma, _ in works):  # good_3.jpg is 43 pixels high
            raise RuntimeError("statistics bug")
        return real_statistics(works)

    monkeypatch.setattr(
        image_probe, "pixel_statistics_many", statistics_that_crash_on_a_40_pixel_high_image
    )
    info = profile_source(source, tmp_path / "p.parquet", executor=LocalExecutor(1), chunk_size=8)
    rows = {row["sample_id"]: row for row in read_profile(info.path).to_pylist()}
    assert rows["good_3.jpg"]["error"] == "probe_error"
    assert rows["good_3.jpg"]["error_detail"].startswith("RuntimeError: statistics bug (in ")
    assert rows["good_3.jpg"]["label"] == "dog" and rows["good_3.jpg"]["meta.source"] == "camera"
    for name in ("good_0.png", "good_2.png", "good_4.png"):  # same chunk, measured alone
        assert rows[name]["error"] is None and rows[name]["sharpness"] is not None


def test_a_chunk_probes_exactly_like_samples_one_at_a_time(tmp_path: Path) -> None:
    folder = tmp_path / "same_size"
    folder.mkdir()
    rng = np.random.default_rng(5)
    samples = []
    for index in range(20):  # one working size (batched together) and a few others
        size = (32, 32) if index % 4 else (40 + index, 30)
        pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
        image = Image.fromarray(pixels if index % 5 else pixels[..., 0])
        path = folder / f"{index}.png"
        image.save(path)
        samples.append(Sample(sample_id=path.name, index=index, path=str(path), label="x"))
    chunk = chunk_probe.probe_chunk((samples, [], "image"))
    one_by_one = pa.RecordBatch.from_pylist(
        [probe_sample(sample) for sample in samples], schema=PROFILE_SCHEMA
    )
    assert chunk.to_pylist() == one_by_one.to_pylist()


def test_probe_sample_fills_every_column(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    row = probe_sample(source.samples[1])
    assert set(row) == set(PROFILE_SCHEMA.names)
    assert row["label"] == "cat" and row["split"] == "train"
    assert row["actual_format"] == row["ext_format"] == "jpeg"
    assert all(row[name] is not None for name in ("sha256", "phash", "sharpness", "entropy"))


def test_empty_source_writes_an_empty_table_with_the_schema(tmp_path: Path) -> None:
    info = profile_source(ListSource(tmp_path, []), tmp_path / "empty.parquet")
    table = read_profile(info.path)
    assert (info.n_samples, info.n_errors, table.num_rows) == (0, 0, 0)
    assert table.schema.names == PROFILE_SCHEMA.names


def test_failed_run_leaves_no_profile_behind(tmp_path: Path) -> None:
    class BrokenSource(ListSource):
        def __iter__(self) -> Iterator[Sample]:
            yield from self.samples[:5]
            raise OSError("disk went away")

    source = build_dataset(tmp_path / "data")
    with pytest.raises(OSError, match="disk went away"):
        profile_source(
            BrokenSource(source.root, source.samples), tmp_path / "p.parquet", chunk_size=2
        )
    assert not list(tmp_path.glob("p.parquet*"))


def test_read_profile_selects_columns_and_explains_missing_ones(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    info = profile_source(source, tmp_path / "p.parquet", executor=LocalExecutor(1))
    table = read_profile(info.path, columns=["sample_id", "brightness"])
    assert isinstance(table, pa.Table)
    assert table.schema.names == ["sample_id", "brightness"]
    with pytest.raises(UsageError, match="no column"):
        read_profile(info.path, columns=["nope"])
    with pytest.raises(UsageError, match="no profile table"):
        read_profile(tmp_path / "missing.parquet")


@pytest.mark.parametrize("chunk_size", [0, -3])
def test_bad_chunk_size_is_a_usage_error(tmp_path: Path, chunk_size: int) -> None:
    with pytest.raises(UsageError, match="chunk_size"):
        profile_source(ListSource(tmp_path, []), tmp_path / "p.parquet", chunk_size=chunk_size)


class DyingExecutor:
    """Runs tasks in this process like LocalExecutor(1), except that a task whose chunk holds
    one of ``kill_on`` "dies" (a WorkerDied, as the process pool reports it) the first
    ``times`` times it runs (every time when None); ``tasks_before`` is what each death says
    about the worker's earlier tasks."""

    workers = 2

    def __init__(self, kill_on: set[str], times: int | None = None, tasks_before: int = 0):
        self.kill_on = kill_on
        self.times = times
        self.tasks_before = tasks_before
        self.tasks_run: list[list[str]] = []

    def map(self, fn, items, *, max_in_flight=None, on_worker_death="raise"):
        for item in items:
            ids = [sample.sample_id for sample in item[0]]
            self.tasks_run.append(ids)
            if self.kill_on & set(ids) and (self.times is None or self.times > 0):
                if self.times is not None:
                    self.times -= 1
                death = WorkerDied(
                    "signal 11 (SIGSEGV)", exitcode=-11, tasks_before=self.tasks_before, item=item
                )
                if on_worker_death == "raise":
                    raise death
                yield death
            else:
                yield fn(item)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def test_a_sample_that_kills_its_worker_is_unreadable_and_costs_no_other_sample(
    tmp_path: Path,
) -> None:
    source = build_dataset(tmp_path / "data")
    executor = DyingExecutor({"good_2.png"})
    progress: list[int] = []
    info = profile_source(
        source, tmp_path / "p.parquet", executor=executor, chunk_size=4, on_progress=progress.append
    )
    clean = profile_source(
        source, tmp_path / "clean.parquet", executor=LocalExecutor(1), chunk_size=4
    )
    assert info.worker_deaths == [
        {"sample_id": "good_2.png", "reason": "signal 11 (SIGSEGV)", "outcome": "unreadable"}
    ]
    assert (info.n_samples, info.n_errors) == (11, clean.n_errors + 1)
    assert sum(progress) == 11
    # The chunk was probed again one sample at a time; the killer killed a fresh worker, so
    # it was not tried a third time; the other chunks ran once.
    first_chunk = ["good_0.png", "good_1.jpg", "good_2.png", "good_3.jpg"]
    assert executor.tasks_run[:5] == [first_chunk] + [[name] for name in first_chunk]
    assert executor.tasks_run[5:] == [
        ["good_4.png", "good_5.jpg", "png_named.jpg", "empty.png"],
        ["noise.jpg", "array_0", "bad_array"],
    ]
    rows = read_profile(info.path).to_pylist()
    expected = read_profile(clean.path).to_pylist()
    assert [row["sample_id"] for row in rows] == [row["sample_id"] for row in expected]
    for row, reference in zip(rows, expected, strict=True):
        if row["sample_id"] != "good_2.png":
            assert row == reference
    killer = next(row for row in rows if row["sample_id"] == "good_2.png")
    assert killer["error"] == "unreadable"
    assert killer["error_detail"] == "a worker died while reading this file: signal 11 (SIGSEGV)"
    assert (killer["label"], killer["split"], killer["meta.source"]) == ("cat", "train", "camera")
    assert killer["index"] == 2 and killer["path"].endswith("good_2.png")
    assert killer["sha256"] is None


def test_a_sample_that_died_on_a_used_worker_is_tried_once_more_before_it_is_blamed(
    tmp_path: Path,
) -> None:
    source = build_dataset(tmp_path / "data")
    # Dies twice (its chunk, then alone on a worker that had run other samples), then probes.
    executor = DyingExecutor({"good_2.png"}, times=2, tasks_before=3)
    info = profile_source(source, tmp_path / "p.parquet", executor=executor, chunk_size=4)
    assert executor.tasks_run.count(["good_2.png"]) == 2
    assert info.worker_deaths == [
        {"sample_id": "good_2.png", "reason": "signal 11 (SIGSEGV)", "outcome": "probed again"}
    ]
    rows = {row["sample_id"]: row for row in read_profile(info.path).to_pylist()}
    assert rows["good_2.png"]["error"] is None and rows["good_2.png"]["width"] == 50

    # Dying again on the second try makes it unreadable.
    executor = DyingExecutor({"good_2.png"}, times=3, tasks_before=3)
    info = profile_source(source, tmp_path / "p2.parquet", executor=executor, chunk_size=4)
    assert [death["outcome"] for death in info.worker_deaths] == ["unreadable"]


def test_a_death_that_no_sample_repeats_is_still_reported(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    executor = DyingExecutor({"good_5.jpg"}, times=1)
    info = profile_source(source, tmp_path / "p.parquet", executor=executor, chunk_size=4)
    assert info.worker_deaths == [
        {
            "sample_id": None,
            "reason": "signal 11 (SIGSEGV)",
            "outcome": "probed again",
            "samples": ["good_4.png", "empty.png"],
        }
    ]
    clean = profile_source(source, tmp_path / "clean.parquet", executor=LocalExecutor(1))
    assert read_profile(info.path).equals(read_profile(clean.path))


def test_a_one_sample_chunk_whose_worker_died_is_not_probed_again_needlessly(
    tmp_path: Path,
) -> None:
    source = build_dataset(tmp_path / "data")
    executor = DyingExecutor({"bad_array"})
    info = profile_source(source, tmp_path / "p.parquet", executor=executor, chunk_size=1)
    assert executor.tasks_run.count(["bad_array"]) == 1
    rows = {row["sample_id"]: row for row in read_profile(info.path).to_pylist()}
    assert rows["bad_array"]["error_detail"] == (
        "a worker died while probing this sample: signal 11 (SIGSEGV)"
    )


def test_no_worker_death_leaves_worker_deaths_empty(tmp_path: Path) -> None:
    source = build_dataset(tmp_path / "data")
    with LocalExecutor(2) as executor:
        info = profile_source(source, tmp_path / "p.parquet", executor=executor, chunk_size=3)
    assert info.worker_deaths == []


def test_the_crash_hook_never_fires_in_the_main_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(chunk_probe.CRASH_HOOK_VARIABLE, "good_2")
    source = build_dataset(tmp_path / "data")
    info = profile_source(source, tmp_path / "p.parquet", executor=LocalExecutor(1))
    rows = {row["sample_id"]: row for row in read_profile(info.path).to_pylist()}
    assert rows["good_2.png"]["error"] is None and info.worker_deaths == []
