"""Memory B cells split by their own heavy-chain constant transcripts.

A B cell expresses one heavy-chain constant region, among its most abundant transcripts, so a
memory B cell's own IGHG/IGHA/IGHE against IGHM/IGHD reads settle switched against unswitched,
whatever its sub-cluster says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import _keys as K
from .._logging import logger

MEMORY_BY_ISOTYPE = {"switched": "B_memory_switched", "unswitched": "B_memory_unswitched"}
ISOTYPE_CONFIDENCE_SCALE = 2.0  # a lead of this much log-expression gives 1 - 1/e


def memory_isotypes(cells: pd.DataFrame, matrix, index: dict[str, int], margin: float) -> None:
    """Relabel memory B cells by their dominant heavy-chain constant transcripts, in place."""
    labels = cells[K.CELL_TYPE].to_numpy(dtype=object)
    rows = np.flatnonzero(np.isin(labels, list(MEMORY_BY_ISOTYPE.values())))
    switched = [index[g] for g in K.SWITCHED_ISOTYPES if g in index]
    unswitched = [index[g] for g in K.UNSWITCHED_ISOTYPES if g in index]
    if not len(rows) or not switched or not unswitched:
        return
    lead = _row_max(matrix[rows][:, switched]) - _row_max(matrix[rows][:, unswitched])
    decided = np.where(lead >= margin, MEMORY_BY_ISOTYPE["switched"],
                       np.where(lead <= -margin, MEMORY_BY_ISOTYPE["unswitched"], None))
    changed = rows[(decided != None) & (decided != labels[rows])]  # noqa: E711
    if not len(changed):
        return
    positions = np.searchsorted(rows, changed)
    cells.iloc[changed, cells.columns.get_loc(K.CELL_TYPE)] = decided[positions]
    confidence = 1.0 - np.exp(-np.abs(lead[positions]) / ISOTYPE_CONFIDENCE_SCALE)
    cells.iloc[changed, cells.columns.get_loc(K.CELL_TYPE_CONFIDENCE)] = np.minimum(
        confidence, cells[K.LINEAGE_CONFIDENCE].to_numpy()[changed]
    )
    logger.info("%d memory B cells relabelled by their own heavy-chain constant transcripts",
                len(changed))


def _row_max(block) -> np.ndarray:
    block = block.toarray() if sp.issparse(block) else np.asarray(block)
    return block.max(axis=1).astype(float)
