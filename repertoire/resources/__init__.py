"""Curated data shipped with the package: marker panels, ligand-receptor interactions, niches.

``ALTERNATIVE`` joins genes that stand for one marker feature (``IGHG1|IGHG2``: the highest of
them counts).
"""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_interactions": ("interactions", "subunits"),
    "_markers": ("ALTERNATIVE", "marker_panels"),
    "_niches": ("niches",),
})
