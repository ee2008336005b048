"""Curated data shipped with the package: marker panels, ligand-receptor interactions, niches.

``ALTERNATIVE`` joins genes that stand for one marker feature (``IGHG1|IGHG2``: the highest of
them counts).
"""

from ._interactions import interactions, subunits
from ._markers import ALTERNATIVE, marker_panels
from ._niches import niches

__all__ = ["ALTERNATIVE", "interactions", "marker_panels", "niches", "subunits"]
