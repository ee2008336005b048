"""Per-cell quality metrics from raw counts."""

from __future__ import annotations

import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._utils import require_layer, store

# .var flags; their names make scanpy write pct_counts_mt and pct_counts_ribo (K.PCT_MT, K.PCT_RIBO)
MT = "mt"
RIBO = "ribo"
MT_PREFIX = "MT-"
RIBO_PREFIXES = ("RPL", "RPS")


@doc_params
def qc_metrics(
    adata: AnnData, *, layer: str | None = K.COUNTS, inplace: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Compute per-cell quality metrics from raw counts.

    Wraps :func:`scanpy.pp.calculate_qc_metrics`. Mitochondrial genes are those whose symbol
    starts with ``MT-``, ribosomal protein genes those starting with ``RPL`` or ``RPS``.

    Parameters
    ----------
    {adata}
    {counts_layer}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table (``total_counts``, ``n_genes_by_counts``,
    ``pct_counts_mt``, ``pct_counts_ribo``) and a per-gene table (booleans ``mt``, ``ribo``).
    Otherwise ``None``, and these columns are written to ``.obs`` and ``.var``.
    """
    require_layer(adata, layer)
    symbols = adata.var_names.str.upper()
    genes = pd.DataFrame(
        {MT: symbols.str.startswith(MT_PREFIX), RIBO: symbols.str.startswith(RIBO_PREFIXES)},
        index=adata.var_names,
    )
    matrix = adata.X if layer is None else adata.layers[layer]
    shell = AnnData(X=matrix, obs=pd.DataFrame(index=adata.obs_names), var=genes)
    metrics, _ = sc.pp.calculate_qc_metrics(
        shell, qc_vars=[MT, RIBO], percent_top=None, log1p=False, inplace=False
    )
    cells = metrics[[K.N_COUNTS, K.N_GENES, K.PCT_MT, K.PCT_RIBO]]
    return store(adata, None, params={"layer": layer}, inplace=inplace, result=(cells, genes),
                 obs=cells, var=genes)
