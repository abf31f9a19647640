"""Deployment QA (issue 12, in progress): the serving preprocessing as a typed spec
(:class:`ImagePreprocessing`), the first piece of the export bundle's manifest."""

from dlqa.deploy.preprocessing import INTERPOLATIONS, ImagePreprocessing

__all__ = ["INTERPOLATIONS", "ImagePreprocessing"]
