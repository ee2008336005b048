"""Highly variable genes across samples, without receptor segments, mitochondria or the CAR."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._logging import logger
from .._utils import batches, require_layer, store

BATCH = "batch"

# Receptor V, D and J segments (IGHV3-23, TRBJ2-7, ...) carry clonotype, not cell state; the
# digit keeps constant-region genes such as IGHD (IgD) and IGHM, which mark naive B cells.
EXCLUDE = (
    r"^MT-",
    r"^(IG[HKL][VDJ]|TR[ABDG][VDJ])\d",
    rf"^{re.escape(K.CAR_FEATURE)}$",
    r"^CAR_",
)
COLUMNS = (
    K.HVG, "means", "dispersions", "dispersions_norm", "highly_variable_nbatches", "excluded"
)


@doc_params
def highly_variable_genes(
    adata: AnnData,
    *,
    n_top_genes: int = 2000,
    batch_key: str | None = K.SAMPLE,
    flavor: Literal["seurat", "cell_ranger"] = "seurat",
    exclude: Sequence[str] = EXCLUDE,
    min_cells_per_batch: int = 50,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Select highly variable genes on log-normalised data, sample-aware.

    Wraps :func:`scanpy.pp.highly_variable_genes` with ``batch_key``: genes are ranked by the
    number of samples in which they are variable, then by normalised dispersion. Samples with
    fewer than ``min_cells_per_batch`` cells are pooled into one batch, since dispersions
    over a handful of cells are noise. Genes matching ``exclude`` are never selected:
    mitochondrial genes, immunoglobulin and T-cell receptor V/D/J segments (clonotype rather
    than cell state) and the CAR transgene.

    Parameters
    ----------
    {adata}
        With log-normalised values in ``.X`` (see :func:`repertoire.pp.normalize`).
    n_top_genes
        Number of genes to select.
    {batch_key}
    flavor
        Dispersion model of :func:`scanpy.pp.highly_variable_genes`.
    exclude
        Regular expressions; genes whose symbol matches any are not selected.
    min_cells_per_batch
        Samples with fewer cells are pooled.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-gene table (``highly_variable``, ``means``, ``dispersions``,
    ``dispersions_norm``, ``highly_variable_nbatches``, ``excluded``). Otherwise ``None``;
    these columns go to ``.var`` and ``.uns["hvg"]`` holds scanpy's ``"flavor"`` beside
    ``"params"``.
    """
    require_layer(adata, None)
    excluded = _matches(adata.var_names, exclude)
    labels = batches(adata.obs, batch_key)
    small = labels.value_counts()
    small = small.index[small < min_cells_per_batch]
    pooled = labels.astype(str).where(~labels.isin(small), "pooled small samples")
    # a view of a shell sharing .X: scanpy materialises one sample at a time, never all genes
    shell = AnnData(X=adata.X, obs=pd.DataFrame({BATCH: pooled.astype("category")}),
                    var=pd.DataFrame(index=adata.var_names), uns={K.LOG1P: {"base": None}})
    kept = shell[:, ~excluded]
    result = sc.pp.highly_variable_genes(
        kept, n_top_genes=min(n_top_genes, kept.n_vars), flavor=flavor,
        batch_key=BATCH if pooled.nunique() > 1 else None, inplace=False,
    )
    result.index = kept.var_names
    genes = result.reindex(adata.var_names)
    genes[K.HVG] = genes[K.HVG].astype("boolean").fillna(False).astype(bool)
    if "highly_variable_nbatches" not in genes:
        genes["highly_variable_nbatches"] = genes[K.HVG].astype(int)
    genes["highly_variable_nbatches"] = genes["highly_variable_nbatches"].fillna(0).astype(int)
    genes["excluded"] = excluded
    genes = genes[list(COLUMNS)]
    logger.info(
        "selected %d highly variable genes (%d genes excluded by pattern, %d samples pooled)",
        genes[K.HVG].sum(), excluded.sum(), len(small),
    )
    return store(
        adata, K.HVG_UNS, inplace=inplace, result=genes, var=genes, uns={"flavor": flavor},
        params={"flavor": flavor, "n_top_genes": n_top_genes, "batch_key": batch_key,
                "exclude": list(exclude), "min_cells_per_batch": min_cells_per_batch},
    )


def _matches(names: pd.Index, patterns: Sequence[str]) -> np.ndarray:
    if not patterns:
        return np.zeros(len(names), dtype=bool)
    combined = re.compile("|".join(f"(?:{p})" for p in patterns))
    return np.fromiter((bool(combined.search(n)) for n in names), dtype=bool, count=len(names))
