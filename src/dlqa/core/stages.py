"""The registry of stages: what a stage declares so that dlqa can run and show it.

A stage (data, train, and every later one) names its ``dlqa.toml`` section as a pydantic
model, says how it builds the context its checks read, and how views describe its evidence
kinds. Stages register through :func:`register_stage` from the modules that the
``dlqa.stages`` entry points name; ``core`` never names one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from dlqa.core.plugins import STAGE_GROUP, PluginError, current_origin, load_group

# Sections of dlqa.toml that belong to the core, not to a stage.
CORE_SECTIONS = frozenset({"project", "store", "report", "execute", "gates"})

ProgressFactory = Callable[[int, str], Callable[[int], None]]


def _no_progress(total: int, description: str) -> Callable[[int], None]:
    return lambda advance: None


@dataclass
class StageRun:
    """What a stage's ``build_context`` receives from the run session."""

    config: Any  # the whole validated dlqa.toml (dlqa.config.Config)
    section: Any  # this stage's section of it
    store: Any  # dlqa.store.Store: snapshots and artifacts
    run_id: int
    workers: int | None = None
    progress: ProgressFactory = _no_progress
    # What the command hands the stage directly (a Source for `dlqa data profile SOURCE`),
    # taking precedence over the section.
    inputs: dict[str, Any] = field(default_factory=dict)
    # The ids of the checks this run will run (None: not known, so all of them): a stage
    # builds what only some checks read (a reference profile, a label model) only for them.
    check_ids: frozenset[str] | None = None
    # Extra fields a stage adds to the report (class counts, histograms, thumbnails); the
    # run session stores them with the run so that `dlqa report` can re-render it.
    report_parts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageSpec:
    name: str
    title: str
    # The [name] section of dlqa.toml; None for a stage without settings.
    section: type[BaseModel] | None = None
    # Builds the context the stage's checks read; None for stages whose checks run only from
    # the Python API (the training monitor). Raising UsageError is a usage error (exit 2).
    # It may return a context manager: the checks then run inside it (to restore state).
    build_context: Callable[[StageRun], Any] | None = None
    # Called with the context and the stage's results once its checks ran (report parts that
    # depend on results, such as thumbnails of the evidence).
    after_checks: Callable[[Any, list[Any], StageRun], None] | None = None
    # Whether `dlqa check` runs the stage for this section (e.g. data needs a source).
    is_configured: Callable[[Any], bool] = lambda section: False
    order: int = 100  # `dlqa check` runs stages by this number, lowest first
    # The order its checks run in (ids not listed run after, by id).
    check_order: tuple[str, ...] = ()
    # The modality of a built context ("image", "audio", "text"); checks registered for other
    # modalities are left out of the run (and say why when asked for by name).
    modality_of: Callable[[Any], str | None] | None = None
    # The optional inputs a built context has (data: "reference", "reviews"); checks that
    # need one it lacks are left out of the run (and say why when asked for by name).
    inputs_of: Callable[[Any], frozenset[str]] | None = None
    # Input name -> how a user provides it, for the reason of such a skip.
    input_hints: dict[str, str] = field(default_factory=dict)
    # Evidence kind -> one line of text for an item (terminal, JUnit, pytest).
    evidence_kinds: dict[str, Callable[[Any], str]] = field(default_factory=dict)
    origin: str = "dlqa"


_STAGES: dict[str, StageSpec] = {}


def register_stage(spec: StageSpec) -> StageSpec:
    origin = current_origin()
    where = origin.describe() if origin else f"stage {spec.name!r}"
    if spec.name in CORE_SECTIONS:
        raise PluginError(f"{where}: {spec.name!r} is a core section of dlqa.toml, not a stage")
    if origin is not None and origin.name != spec.name:
        raise PluginError(f"{where} registers stage {spec.name!r}; a plugin registers its own name")
    existing = _STAGES.get(spec.name)
    if existing is not None and existing.origin != (origin.distribution if origin else "dlqa"):
        raise PluginError(
            f"{where}: stage {spec.name!r} is already registered by {existing.origin}"
        )
    if origin is not None:
        spec = StageSpec(**{**spec.__dict__, "origin": origin.distribution})
    _STAGES[spec.name] = spec
    return spec


def all_stages() -> list[StageSpec]:
    load_group(STAGE_GROUP)
    return sorted(_STAGES.values(), key=lambda s: (s.order, s.name))


def get_stage(name: str) -> StageSpec | None:
    load_group(STAGE_GROUP)
    return _STAGES.get(name)


def evidence_describer(kind: str) -> Callable[[Any], str] | None:
    """The function a stage registered to describe items of this evidence kind."""
    for stage in all_stages():
        if kind in stage.evidence_kinds:
            return stage.evidence_kinds[kind]
    return None
