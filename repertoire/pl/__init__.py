"""Plotting: one function per result, each returning its axes or figure."""

from ._annotate import cell_types, composition, marker_dotplot
from ._bcr import isotypes, shm
from ._clones import clone_tracking, diversity
from ._embedding import embedding, embedding_panels
from ._niches import interactions, niche_heatmap, niche_outcomes
from ._qc import qc
from ._reconstitution import reconstitution, reconstitution_cohort
from ._spatial import spatial_niches

__all__ = [
    "cell_types", "clone_tracking", "composition", "diversity", "embedding", "embedding_panels",
    "interactions", "isotypes", "marker_dotplot", "niche_heatmap", "niche_outcomes", "qc",
    "reconstitution", "reconstitution_cohort", "shm", "spatial_niches",
]
