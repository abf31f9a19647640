"""The demo's parts as stored runs: the image part is the `dlqa check` run; the audio and text
parts are data profiles of their own (`dlqa data profile --label-errors`), and the drift part
compares the training images with an incoming folder (`dlqa data drift`); each has reports
beside the image report. Each part's planted problems are verified against its run's results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlqa.config import Config
from dlqa.core.results import CheckResult
from dlqa.core.stages import ProgressFactory
from dlqa.demo.build import DemoProject
from dlqa.demo.verify import PlantedOutcome, unexpected_failures, verify_planted
from dlqa.report.model import Report
from dlqa.runner import RunSession, run_data_qa, run_drift
from dlqa.sources.base import Source
from dlqa.sources.open import open_source


@dataclass(frozen=True)
class PartRun:
    part: str  # "image", "audio", "text" or "drift"
    run_id: int
    outcomes: list[PlantedOutcome]
    unexpected: list[str]  # data checks that failed with nothing planted for them
    written: dict[str, Path]  # report format -> file
    report: Report

    @property
    def missed(self) -> list[PlantedOutcome]:
        return [o for o in self.outcomes if not o.caught]


def part_run(part: str, session: RunSession, planted: dict[str, list[str]]) -> PartRun:
    """A finished run of one part, with its planted problems verified."""
    assert session.run_id is not None and session.report is not None
    results: list[CheckResult] = session.results
    return PartRun(
        part=part,
        run_id=session.run_id,
        outcomes=verify_planted(results, planted, part),
        unexpected=unexpected_failures(results, part),
        written=dict(session.written),
        report=session.report,
    )


def part_source(project: DemoProject, part: str) -> Source:
    """The source of the audio or text part, read as ``dlqa data profile`` reads it."""
    if part == "audio" and project.audio is not None:
        return open_source(project.audio.folder, modality="audio")
    if part == "text" and project.text is not None:
        return open_source(project.text.manifest, text_column="text", id_column="id")
    raise ValueError(f"the demo project has no {part} part")


def run_data_parts(
    project: DemoProject,
    config: Config,
    *,
    workers: int | None = None,
    progress: ProgressFactory | None = None,
) -> list[PartRun]:
    """Profile the audio and text parts (those built), one stored run each, reports in
    ``<report dir>/<part>/run-<id>/``."""
    runs = []
    report_dir = config.resolve(config.report.dir)
    # The audio and text parts find label errors with dlqa's own features (the image
    # embeddings of [data] are the image part's).
    own_features = config.data.model_copy(update={"embeddings": None, "label_errors": True})
    part_config = config.model_copy(update={"data": own_features})
    for part, planted in project.planted_by_part().items():
        if part in ("image", "eval"):
            continue  # the image and eval parts are the `dlqa check` run
        if part == "drift":
            assert project.incoming is not None
            # `dlqa data drift data/train incoming`
            session = run_drift(
                open_source(project.data_dir / "train"),
                open_source(project.incoming),
                config=config,
                workers=workers,
                progress=progress,
                report_dir=report_dir / part,
                formats=None,
            )
        else:
            session = run_data_qa(
                part_source(project, part),
                config=part_config,
                workers=workers,
                progress=progress,
                title=f"Data QA of the demo's {part} part",
                report_dir=report_dir / part,
                formats=None,  # the config's formats, as for the image report
            )
        runs.append(part_run(part, session, planted))
    return runs
