"""Tools: clusters, identity, CAR, B-cell state, clones, reconstitution, niches, outcomes."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_annotate": ("annotate",),
    "_bcr": ("bcr_state",),
    "_car": ("detect_car",),
    "_clones": ("clonotypes",),
    "_cluster": ("cluster",),
    "_communication": ("communication",),
    "_composition": ("composition",),
    "_diversity": ("diversity",),
    "_niche_outcomes": ("niche_outcomes",),
    "_niches": ("niche_scores",),
    "_outcomes": ("compare_outcomes",),
    "_predict": ("predict_outcome",),
    "_programmes": ("communication_programmes",),
    "_reconstitution": ("reconstitution",),
    "_spatial": ("spatial_niches",),
    "_tracking": ("track_clones",),
})
