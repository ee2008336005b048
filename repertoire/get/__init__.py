"""Tidy tables out of an analysed AnnData, as :mod:`scirpy.get` does for receptors.

The command line, the workflow and the reports read results through these functions, so that
no caller needs to know where a table sits in ``.uns``. Each returns a copy.
"""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_tables": (
        "annotation", "bcr_states", "car", "cell_types", "clone_tracking", "clones",
        "cluster_counts", "cluster_keys", "communication", "communication_programmes",
        "diversity", "inputs", "niche_outcomes", "niche_scores", "qc", "reconstitution",
        "spatial_niches",
    ),
})
