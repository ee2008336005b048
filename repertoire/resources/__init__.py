"""Curated data shipped with the package: marker panels of cell identity and ligand-receptor
interactions."""

from ._interactions import interactions, subunits
from ._markers import marker_panels

__all__ = ["interactions", "marker_panels", "subunits"]
