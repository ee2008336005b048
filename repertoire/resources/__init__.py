"""Curated data shipped with the package: marker panels of cell identity."""

from ._markers import marker_panels

__all__ = ["marker_panels"]
