"""Plotting: one function per result, each returning its axes or figure."""

from ._annotate import cell_types, composition, marker_dotplot
from ._bcr import isotypes, shm
from ._clones import clone_tracking, diversity
from ._embedding import embedding, embedding_panels
from ._niche_strip import niche_patient
from ._niches import interactions, niche_heatmap, niche_outcomes
from ._qc import qc
from ._reconstitution import reconstitution, reconstitution_cohort
from ._spatial import spatial_niches
from ._timeline import car_kinetics, reconstitution_timeline

__all__ = [
    "car_kinetics", "cell_types", "clone_tracking", "composition", "diversity", "embedding",
    "embedding_panels", "interactions", "isotypes", "marker_dotplot", "niche_heatmap",
    "niche_outcomes", "niche_patient", "qc", "reconstitution", "reconstitution_cohort",
    "reconstitution_timeline", "shm", "spatial_niches",
]
