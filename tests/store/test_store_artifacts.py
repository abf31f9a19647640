"""Content-addressed artifacts: named by sha256, written atomically, stored once."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
import sqlalchemy as sa

from dlqa.core.errors import UsageError
from dlqa.store import Store

MIB = 1 << 20


def artifact_rows(store: Store) -> list[tuple[str, int, str]]:
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT digest, size, media_type FROM artifacts ORDER BY digest")
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(MIB):
            hasher.update(chunk)
    return hasher.hexdigest()


def stray_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".tmp")]


def test_put_bytes_names_the_file_by_its_sha256(store: Store) -> None:
    data = b"per-sample table"
    digest = store.artifacts.put_bytes(data, "application/vnd.apache.parquet")

    assert digest == hashlib.sha256(data).hexdigest()
    expected_path = store.project_dir / ".dlqa" / "artifacts" / digest[:2] / digest[2:]
    assert store.artifacts.root == store.project_dir / ".dlqa" / "artifacts"
    assert store.artifacts.path(digest) == expected_path
    assert expected_path.read_bytes() == data
    assert store.artifacts.exists(digest)
    assert artifact_rows(store) == [(digest, len(data), "application/vnd.apache.parquet")]


def test_storing_the_same_content_twice_is_a_no_op(store: Store) -> None:
    first = store.artifacts.put_bytes(b"same")
    inode = store.artifacts.path(first).stat().st_ino
    second = store.artifacts.put_bytes(b"same", "text/plain")

    assert second == first
    assert store.artifacts.path(first).stat().st_ino == inode  # not rewritten
    assert artifact_rows(store) == [(first, 4, "application/octet-stream")]
    assert stray_files(store.artifacts.root) == []


def test_different_content_gets_different_files(store: Store) -> None:
    digests = {store.artifacts.put_bytes(bytes([n])) for n in range(20)}
    assert len(digests) == 20
    assert len(artifact_rows(store)) == 20
    assert all(store.artifacts.path(d).stat().st_size == 1 for d in digests)


def test_a_file_lost_from_disk_is_written_again(store: Store) -> None:
    digest = store.artifacts.put_bytes(b"precious")
    store.artifacts.path(digest).unlink()
    assert not store.artifacts.exists(digest)

    assert store.artifacts.put_bytes(b"precious") == digest
    assert store.artifacts.path(digest).read_bytes() == b"precious"


def test_put_file_streams_a_large_file(store: Store, tmp_path: Path) -> None:
    size = 24 * MIB + 123  # not a whole number of chunks
    source = tmp_path / "big.bin"
    expected = hashlib.sha256()
    with open(source, "wb") as writer:
        written = 0
        while written < size:
            chunk = os.urandom(min(MIB, size - written))
            expected.update(chunk)
            writer.write(chunk)
            written += len(chunk)

    tracemalloc.start()
    try:
        digest = store.artifacts.put_file(source, "application/octet-stream")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest == expected.hexdigest()
    # Reading the file whole would allocate at least its size; streaming stays near a chunk.
    assert peak < 4 * MIB
    stored = store.artifacts.path(digest)
    assert stored.stat().st_size == size
    assert sha256_of(stored) == digest
    assert artifact_rows(store) == [(digest, size, "application/octet-stream")]
    assert stray_files(store.artifacts.root) == []


def test_put_file_and_put_bytes_agree(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "small.txt"
    source.write_bytes(b"hello artifacts")
    from_bytes = store.artifacts.put_bytes(b"hello artifacts")

    assert store.artifacts.put_file(source) == from_bytes
    assert store.artifacts.put_file(str(source)) == from_bytes
    assert len(artifact_rows(store)) == 1
    assert stray_files(store.artifacts.root) == []


def test_put_file_of_a_missing_file_is_a_usage_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nowhere.bin"):
        store.artifacts.put_file(tmp_path / "nowhere.bin")
    assert artifact_rows(store) == []


def test_missing_digest_is_a_usage_error(store: Store) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.artifacts.exists(absent)
    with pytest.raises(UsageError, match=f"artifact {absent} is missing"):
        store.artifacts.path(absent)


@pytest.mark.parametrize("bad", ["", "abc", "Z" * 64, "A" * 64, "../" + "a" * 61])
def test_malformed_digest_is_a_usage_error(store: Store, bad: str) -> None:
    assert not store.artifacts.exists(bad)
    with pytest.raises(UsageError, match="not an artifact digest"):
        store.artifacts.path(bad)
