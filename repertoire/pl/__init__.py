"""Plotting: one function per result, each returning its axes or figure."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_annotate": ("cell_types", "composition", "marker_dotplot"),
    "_bcr": ("isotypes", "shm"),
    "_clones": ("clone_tracking", "diversity"),
    "_embedding": ("embedding", "embedding_panels"),
    "_niche_strip": ("niche_patient",),
    "_niches": ("interactions", "niche_heatmap", "niche_outcomes"),
    "_qc": ("qc",),
    "_reconstitution": ("reconstitution", "reconstitution_cohort"),
    "_spatial": ("spatial_niches",),
    "_timeline": ("car_kinetics", "reconstitution_timeline"),
})
