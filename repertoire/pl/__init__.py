"""Plotting: one function per result, each returning its axes or figure."""

from ._bcr import isotypes, shm
from ._clones import clone_tracking, diversity
from ._embedding import embedding
from ._qc import qc
from ._reconstitution import reconstitution, reconstitution_cohort

__all__ = [
    "clone_tracking", "diversity", "embedding", "isotypes", "qc", "reconstitution",
    "reconstitution_cohort", "shm",
]
