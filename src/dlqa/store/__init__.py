"""Persistent results: runs, check results, dataset snapshots and content-addressed artifacts.

Everything a user sees is a view of what is stored here. The schema is managed by
Alembic migrations shipped in ``dlqa/store/migrations``; opening a database always
upgrades it to the newest revision (``check_database`` looks without upgrading).
"""

from dlqa.store.adjudications import AdjudicationRecord
from dlqa.store.artifacts import ArtifactStore
from dlqa.store.connect import (
    CONNECT_TIMEOUT_S,
    DATABASE_URL_ENV,
    default_database_url,
    redact_url,
    resolve_database_url,
)
from dlqa.store.maintenance import (
    DatabaseStatus,
    UpgradeOutcome,
    check_database,
    upgrade_database,
)
from dlqa.store.records import (
    RUN_FAILED,
    RUN_FINISHED,
    RUN_INTERRUPTED,
    RUN_RUNNING,
    RunRecord,
    SnapshotRecord,
)
from dlqa.store.reviews import (
    VERDICTS,
    NewVerdict,
    ReviewSampleRecord,
    VerdictRecord,
)
from dlqa.store.store import ARTIFACTS_ENV, Store, artifact_root, open_store

__all__ = [
    "AdjudicationRecord",
    "ARTIFACTS_ENV",
    "CONNECT_TIMEOUT_S",
    "DATABASE_URL_ENV",
    "RUN_FAILED",
    "RUN_FINISHED",
    "RUN_INTERRUPTED",
    "RUN_RUNNING",
    "ArtifactStore",
    "DatabaseStatus",
    "RunRecord",
    "SnapshotRecord",
    "Store",
    "UpgradeOutcome",
    "VERDICTS",
    "NewVerdict",
    "ReviewSampleRecord",
    "VerdictRecord",
    "artifact_root",
    "check_database",
    "default_database_url",
    "open_store",
    "redact_url",
    "resolve_database_url",
    "upgrade_database",
]
