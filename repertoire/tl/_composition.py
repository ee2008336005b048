"""Cells of each label per sample, as a tidy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._utils import one_batch, require_obs, sample_metadata

ORDER_COLUMNS = (K.PATIENT, K.DAY)


@doc_params
@one_batch("batch_key")
def composition(
    adata: AnnData,
    *,
    groupby: str = K.CELL_TYPE,
    batch_key: str = K.SAMPLE,
) -> pd.DataFrame:
    """Count the cells of each label in each sample.

    Every sample-label pair appears, with zero cells too, so a sample without B cells
    (aplasia) has rows of zeros rather than none. Samples are ordered by patient, then day,
    then name, where those columns exist.

    Parameters
    ----------
    {adata}
    groupby
        Column of ``.obs`` with the labels to count (cell types by default).
    batch_key
        Column of ``.obs`` naming the sample of each cell. Absent from ``.obs`` (one sample on
        its own), all cells are one sample, ``"all"``.

    Returns
    -------
    A table with columns ``batch_key``, ``patient_id`` and ``day`` (when in ``.obs``),
    ``groupby``, ``n_cells`` and ``fraction`` (of the sample's cells), one row per sample
    and label; nothing is written into ``adata``.
    """
    require_obs(adata, batch_key, groupby)
    samples = sample_order(adata, batch_key)
    labels = adata.obs[groupby]
    categories = (list(labels.cat.categories) if isinstance(labels.dtype, pd.CategoricalDtype)
                  else sorted(labels.dropna().astype(str).unique()))
    counts = pd.crosstab(adata.obs[batch_key].astype(str), labels.astype(str))
    counts = counts.reindex(index=samples, columns=[str(c) for c in categories], fill_value=0)
    fraction = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    table = counts.stack().rename("n_cells").to_frame()
    table["fraction"] = fraction.stack()
    table = table.rename_axis([batch_key, groupby]).reset_index()
    metadata = sample_metadata(adata.obs, batch_key, ORDER_COLUMNS)
    if len(metadata.columns) > 1:
        table = table.merge(metadata, on=batch_key, how="left")
        table = table[[batch_key, *metadata.columns.drop(batch_key), groupby, "n_cells",
                       "fraction"]]
    table["n_cells"] = table["n_cells"].astype(int)
    return table


def sample_order(adata: AnnData, batch_key: str) -> list[str]:
    """Return samples ordered by patient, then day, then name (the columns that exist)."""
    metadata = sample_metadata(adata.obs, batch_key, ORDER_COLUMNS)
    return metadata.sort_values([*metadata.columns.drop(batch_key), batch_key],
                                kind="stable")[batch_key].tolist()
