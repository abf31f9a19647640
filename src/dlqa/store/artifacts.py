"""Content-addressed artifact files: ``<root>/<first 2 hex>/<rest of the sha256>``.

Files are written to a temporary name in the same folder and moved into place with
``os.replace``, so a reader never sees half a file and a crash leaves at most a
stray temporary. Writing the same content twice is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dlqa.core.errors import UsageError
from dlqa.store.models import ArtifactRow, utc_now

DEFAULT_MEDIA_TYPE = "application/octet-stream"
CHUNK_SIZE = 1 << 20  # 1 MiB: large enough to be fast, small enough to keep memory flat
_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"


def is_digest(text: str) -> bool:
    """Whether ``text`` looks like a sha256 hex digest (lower case, as the store writes them)."""
    return isinstance(text, str) and _DIGEST_PATTERN.fullmatch(text) is not None


class ArtifactStore:
    """Files named by the sha256 of their content, each with a row in ``artifacts``."""

    def __init__(self, root: Path, sessions: sessionmaker[Session]) -> None:
        self.root = Path(root)
        self._sessions = sessions

    def put_bytes(self, data: bytes, media_type: str = DEFAULT_MEDIA_TYPE) -> str:
        """Store ``data``; return its sha256 hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        target = self._target(digest)
        if not target.is_file():
            self._write_atomically(target, [data])
        self._record(digest, len(data), media_type)
        return digest

    def put_file(self, path: Path | str, media_type: str = DEFAULT_MEDIA_TYPE) -> str:
        """Copy the file at ``path`` into the store, in chunks; return its sha256 hex digest."""
        source = Path(path)
        if not source.is_file():
            raise UsageError(
                f"cannot store {source}: it is not a readable file",
                hint="check the path; the file must exist before it is stored",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        # The digest is only known after reading, so stream into a temporary in the
        # store's root (same filesystem, so the final move is atomic) while hashing.
        hasher = hashlib.sha256()
        size = 0
        temp_path = self._new_temp(self.root)
        try:
            with open(source, "rb") as reader, open(temp_path, "wb") as writer:
                while chunk := reader.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            digest = hasher.hexdigest()
            target = self._target(digest)
            if target.is_file():
                temp_path.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp_path, target)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        self._record(digest, size, media_type)
        return digest

    def path(self, digest: str) -> Path:
        """Where the artifact with ``digest`` lies; UsageError if the store does not hold it."""
        if not is_digest(digest):
            raise UsageError(
                f"{digest!r} is not an artifact digest",
                hint="an artifact digest is the 64-character lower-case sha256 hex of its content",
            )
        target = self._target(digest)
        if not target.is_file():
            raise UsageError(
                f"artifact {digest} is missing from {self.root}",
                hint="the .dlqa/artifacts folder was moved or pruned; re-run the command "
                "that produced it",
            )
        return target

    def exists(self, digest: str) -> bool:
        return is_digest(digest) and self._target(digest).is_file()

    def _target(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    @staticmethod
    def _new_temp(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=folder)
        os.close(handle)
        return Path(name)

    def _write_atomically(self, target: Path, chunks: Iterable[bytes]) -> None:
        temp_path = self._new_temp(target.parent)
        try:
            with open(temp_path, "wb") as writer:
                for chunk in chunks:
                    writer.write(chunk)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(temp_path, target)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise

    def _record(self, digest: str, size: int, media_type: str) -> None:
        """The artifact's row, once: recording content that another process records at the
        same moment is success (INSERT ... ON CONFLICT DO NOTHING on both databases)."""
        values = {
            "digest": digest,
            "size": size,
            "media_type": media_type,
            "created_at": utc_now(),
        }
        with self._sessions() as session:
            if session.get(ArtifactRow, digest) is not None:
                return  # the usual case for repeated content: no write at all
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                statement = postgresql.insert(ArtifactRow).on_conflict_do_nothing()
            elif dialect == "sqlite":
                statement = sqlite.insert(ArtifactRow).on_conflict_do_nothing()
            else:
                statement = insert(ArtifactRow)
            try:
                session.execute(statement.values(**values))
                session.commit()
            except IntegrityError:
                # Another database without ON CONFLICT: the row is there, that is success.
                session.rollback()
