"""The result of a check: verdict, value, threshold and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def fails_gate(self) -> bool:
        # A crashed check fails the gate too: nothing hides behind an exception.
        return self in (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Evidence:
    """What a person looks at. ``items`` holds every flagged item, ranked; views show the top."""

    kind: str  # "samples", "pairs", "groups", "parameters", "inputs", "table", "plot"
    items: list[Any]
    total: int
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "items": list(self.items), "total": self.total}
        if self.description:
            data["description"] = self.description
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            kind=data["kind"],
            items=list(data["items"]),
            total=int(data["total"]),
            description=data.get("description", ""),
        )


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    status: Status
    summary: str
    value: float | None = None
    threshold: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "status": self.status.value,
            "summary": self.summary,
            "value": self.value,
            "threshold": self.threshold,
            "evidence": [e.to_dict() for e in self.evidence],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            check_id=data["check_id"],
            status=Status(data["status"]),
            summary=data["summary"],
            value=data.get("value"),
            threshold=data.get("threshold"),
            evidence=[Evidence.from_dict(e) for e in data.get("evidence", [])],
            details=dict(data.get("details") or {}),
        )

    def flagged_ids(self) -> set[str]:
        """Every sample id named by this result's sample, pair or group evidence."""
        ids: set[str] = set()
        for ev in self.evidence:
            for item in ev.items:
                if ev.kind == "samples":
                    ids.add(item["id"] if isinstance(item, dict) else str(item))
                elif ev.kind in ("pairs", "groups"):
                    members = item["ids"] if isinstance(item, dict) else item
                    ids.update(str(m) for m in members)
        return ids
