"""Tools: clustering, embeddings, B-cell receptor state, clones and reconstitution."""

from ._bcr import bcr_state
from ._clones import clonotypes
from ._cluster import cluster
from ._diversity import diversity
from ._reconstitution import reconstitution
from ._tracking import track_clones
from ._umap import umap

__all__ = [
    "bcr_state", "clonotypes", "cluster", "diversity", "reconstitution", "track_clones", "umap",
]
