"""Low-quality cells: per-sample adaptive thresholds by median absolute deviation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._logging import logger
from .._utils import batches, require_obs, store


@doc_params
def flag_low_quality(
    adata: AnnData,
    *,
    batch_key: str | None = K.SAMPLE,
    nmads: float = 5.0,
    nmads_mt: float = 3.0,
    min_pct_mt: float = 8.0,
    max_pct_mt: float = 25.0,
    min_genes: int = 200,
    key_added: str = K.LOW_QUALITY,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Flag low-quality cells with thresholds adapted to each sample.

    Following the single-cell best practices (Heumos et al., Nat Rev Genet 2023), within each
    sample a cell is an outlier when ``log1p(total_counts)`` or ``log1p(n_genes_by_counts)``
    lies more than ``nmads`` median absolute deviations (MAD, unscaled) from the sample's
    median, or when ``pct_counts_mt`` exceeds the median by more than ``nmads_mt`` MADs and
    also exceeds ``min_pct_mt``. Two fixed limits apply as well: ``pct_counts_mt`` above
    ``max_pct_mt`` and fewer than ``min_genes`` detected genes. A metric whose MAD is 0 in a
    sample (all cells alike) gives no adaptive limit there rather than flagging every cell off
    the median.

    Parameters
    ----------
    {adata}
        Needs the columns written by :func:`repertoire.pp.qc_metrics`.
    {batch_key}
    nmads
        Width of the accepted band of counts and genes, in MADs on the log scale.
    nmads_mt
        Accepted excess of mitochondrial percentage over the median, in MADs.
    min_pct_mt
        Mitochondrial percentage below which no cell is flagged by the adaptive rule.
    max_pct_mt
        Mitochondrial percentage above which every cell is flagged.
    min_genes
        Cells with fewer detected genes are flagged.
    {key_added}
        ``.obs[key_added]`` holds the flag.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table with the boolean ``key_added`` and the
    per-sample threshold table (one row per sample: medians, MADs and the effective limits
    ``min_counts``, ``max_counts``, ``min_genes``, ``max_genes``, ``max_pct_mt`` in the units of
    the metrics, and ``n_low_quality``). Otherwise ``None``; the flags go to
    ``.obs[key_added]`` and ``.uns[key_added]`` holds ``"samples"`` (the table) and
    ``"params"``.
    """
    hint = "; run repertoire.pp.qc_metrics first"
    require_obs(adata, K.N_COUNTS, K.N_GENES, K.PCT_MT, hint=hint)
    labels = batches(adata.obs, batch_key)
    log_counts = np.log1p(adata.obs[K.N_COUNTS].to_numpy(dtype=float))
    log_genes = np.log1p(adata.obs[K.N_GENES].to_numpy(dtype=float))
    pct_mt = adata.obs[K.PCT_MT].to_numpy(dtype=float)
    flagged = np.zeros(adata.n_obs, dtype=bool)
    rows = []
    for batch in labels.cat.categories:
        cells = (labels == batch).to_numpy()
        lo_c, hi_c, med_c, mad_c = _band(log_counts[cells], nmads)
        lo_g, hi_g, med_g, mad_g = _band(log_genes[cells], nmads)
        _, hi_mt, med_mt, mad_mt = _band(pct_mt[cells], nmads_mt)
        max_mt = min(max(hi_mt, min_pct_mt), max_pct_mt)
        lo_g = max(lo_g, np.log1p(min_genes))
        outlier = (
            (log_counts[cells] < lo_c) | (log_counts[cells] > hi_c)
            | (log_genes[cells] < lo_g) | (log_genes[cells] > hi_g)
            | (pct_mt[cells] > max_mt)
        )
        flagged[cells] = outlier
        rows.append({
            batch_key or "batch": batch, "n_cells": int(cells.sum()),
            "n_low_quality": int(outlier.sum()),
            "median_log1p_counts": med_c, "mad_log1p_counts": mad_c,
            "min_counts": np.expm1(lo_c), "max_counts": np.expm1(hi_c),
            "median_log1p_genes": med_g, "mad_log1p_genes": mad_g,
            "min_genes": np.expm1(lo_g), "max_genes": np.expm1(hi_g),
            "median_pct_mt": med_mt, "mad_pct_mt": mad_mt, "max_pct_mt": max_mt,
        })
    thresholds = pd.DataFrame(rows)
    logger.info(
        "flagged %d of %d cells as low quality (%s)", flagged.sum(), adata.n_obs,
        ", ".join(f"{r[batch_key or 'batch']}: {r['n_low_quality']}" for r in rows),
    )
    cells = pd.DataFrame({key_added: flagged}, index=adata.obs_names)
    return store(
        adata, key_added, inplace=inplace, result=(cells, thresholds), obs=cells,
        tables={K.TABLE_SAMPLES: thresholds},
        params={"batch_key": batch_key, "nmads": nmads, "nmads_mt": nmads_mt,
                "min_pct_mt": min_pct_mt, "max_pct_mt": max_pct_mt, "min_genes": min_genes},
    )


def _band(values: np.ndarray, nmads: float) -> tuple[float, float, float, float]:
    """Return ``median -/+ nmads * MAD``, the median and the MAD; an infinite band when MAD is 0."""
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    if mad == 0:
        return -np.inf, np.inf, median, mad
    return median - nmads * mad, median + nmads * mad, median, mad
