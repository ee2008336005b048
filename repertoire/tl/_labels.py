"""The transcriptome's call per cell, read from ``.obs["lineage"]`` and ``.obs["cell_type"]``.

Both columns are optional: receptor-only data have neither, and every function that uses them
says so and works from the receptor alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import _keys as K

TX_STATE = K.BCR_STATE_OF_CELL_TYPE
MEMORY_STATES = ("memory_unswitched", "memory_switched", "DN")


def has_transcriptome_calls(obs: pd.DataFrame) -> bool:
    """Whether ``.obs`` holds a lineage or cell-type call."""
    return K.LINEAGE in obs or K.CELL_TYPE in obs


def transcriptome_calls(obs: pd.DataFrame) -> pd.DataFrame:
    """Lineage and B-cell state of every cell according to the transcriptome.

    Returns columns ``lineage`` (from ``.obs["lineage"]``, otherwise derived from the cell
    type: plasma cell types are ``plasma``, other B cell types ``B``, the rest ``other``) and
    ``state`` (the receptor state of the cell type, see :data:`TX_STATE`; plasma for plasma
    lineage cells without a cell type). Both are NaN when ``.obs`` has neither column.
    """
    index = obs.index
    cell_type = (
        obs[K.CELL_TYPE].astype(object) if K.CELL_TYPE in obs
        else pd.Series(np.nan, index=index, dtype=object)
    )
    state = cell_type.map(TX_STATE)
    if K.LINEAGE in obs:
        lineage = obs[K.LINEAGE].astype(object)
    elif K.CELL_TYPE in obs:
        is_b = cell_type.astype(str).str.startswith("B_") | state.notna()
        lineage = pd.Series(
            np.where(state == "plasma", "plasma", np.where(is_b, "B", "other")), index=index,
            dtype=object,
        ).where(cell_type.notna())
    else:
        lineage = pd.Series(np.nan, index=index, dtype=object)
    state = state.where(state.notna(), pd.Series(
        np.where(lineage == "plasma", "plasma", None), index=index, dtype=object
    ))
    # a B-lineage state on a cell whose lineage disagrees is not used
    state = state.where(lineage.isin(K.B_LINEAGES))
    return pd.DataFrame({"lineage": lineage, "state": state}, index=index)
