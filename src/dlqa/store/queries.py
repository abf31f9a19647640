"""Paged reads for the dashboard: lists that never load every row (mixed into Store)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker


class QueryMethods:
    """The store's paged queries (mixed into :class:`dlqa.store.Store`)."""

    url: str
    _sessions: sessionmaker[Session]


__all__ = ["QueryMethods"]
