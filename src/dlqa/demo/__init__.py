"""The bundled example project (`dlqa demo`) and its builder."""

from dlqa.demo.build import (
    CLASS_NAMES,
    PLANTED_PROBLEMS,
    DemoProject,
    build_demo_project,
    demo_config_text,
)

__all__ = [
    "CLASS_NAMES",
    "PLANTED_PROBLEMS",
    "DemoProject",
    "build_demo_project",
    "demo_config_text",
]
