"""SQLAlchemy models of the store.

The schema is written for SQLite and PostgreSQL alike: generic JSON, timezone-aware
timestamps, bounded strings and named constraints. Every change here needs a new
Alembic revision in ``migrations/versions``; ``tests/store`` fails when the models
and the migrations drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep migrations reproducible across backends (PostgreSQL
# needs a name to drop a constraint; SQLite batch migrations need one to find it).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DIGEST_LENGTH = 64  # sha256 hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite stores no offset, so values are normalised to UTC on the way in and
    tagged as UTC on the way out; PostgreSQL (timestamptz) already does this.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    command: Mapped[str] = mapped_column(Text, nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # git, versions, host and command of the run (null for runs of dlqa 0.1.0).
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What views need besides the results: title, meta, class counts, histogram bins,
    # thumbnail artifacts. Written by the run session; `dlqa report` re-renders from it.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ResultRow(Base):
    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("run_id", "position", name="uq_results_run_id_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    check_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    n: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    interval_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    interval_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    interval_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ArtifactRow(Base):
    __tablename__ = "artifacts"

    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    # 64-bit: a Parquet table can outgrow PostgreSQL's 32-bit INTEGER.
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    media_type: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SnapshotRow(Base):
    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    source: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    n_samples: Mapped[int] = mapped_column(Integer, nullable=False)
    # A foreign key so that a snapshot can never point at a table that is not stored.
    table_digest: Mapped[str] = mapped_column(
        ForeignKey("artifacts.digest"), nullable=False, index=True
    )
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ReviewSampleRow(Base):
    """A drawn spot-check sample: what was drawn from which snapshot, how, and why each sample
    was in it (``items``: ``{"id", "label", "random", "flagged_by"}``)."""

    __tablename__ = "review_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # 64-bit: seeds are drawn from the whole range numpy accepts.
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)  # random draws asked for
    strata: Mapped[str] = mapped_column(String(255), nullable=False)
    # stratum -> {"size": samples in it, "drawn": random draws from it}
    allocation: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    items: Mapped[list[Any]] = mapped_column(JSON, nullable=False)


class ReviewVerdictRow(Base):
    """One reviewer's verdict on one sample. Rows are only ever added: a later verdict on the
    same sample of the same source supersedes an earlier one, which stays as history."""

    __tablename__ = "review_verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("review_samples.id"), nullable=False, index=True
    )
    source: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    # Text, not String(n): an id is a relative path or a manifest cell, of any length.
    sample_id: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)  # at review time
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    correct_label: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    reviewer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AdjudicationRow(Base):
    """An adjudicator's final label for an item the annotators disagreed on. Rows are only ever
    added: a later decision on the same item of the same source supersedes an earlier one."""

    __tablename__ = "adjudications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The labels.agreement run whose queue showed the item (null when decided elsewhere).
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    item_id: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    adjudicator: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
