"""Quality control in one call, and removal of the flagged cells."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import batches, require_layer, sample_metadata, store
from ._doublets import detect_doublets
from ._metrics import qc_metrics
from ._outliers import flag_low_quality

CELL_COLUMNS = (
    K.N_COUNTS, K.N_GENES, K.PCT_MT, K.PCT_RIBO, K.LOW_QUALITY, K.DOUBLET_SCORE,
    K.RECEPTOR_DOUBLET, K.RECEPTOR_DOUBLET_REASON, K.DOUBLET,
)


@doc_params
def qc(
    adata: AnnData,
    *,
    batch_key: str | None = K.SAMPLE,
    layer: str | None = K.COUNTS,
    nmads: float = 5.0,
    nmads_mt: float = 3.0,
    min_pct_mt: float = 8.0,
    max_pct_mt: float = 25.0,
    min_genes: int = 200,
    expected_doublet_rate: float | Literal["10x"] = 0.05,
    doublet_threshold: float | None = None,
    receptors: bool = True,
    random_state: int = 0,
    key_added: str = K.QC,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Compute quality metrics, flag low-quality cells and call doublets, sample by sample.

    Runs :func:`qc_metrics`, :func:`flag_low_quality` and :func:`detect_doublets` and
    summarises them per sample. Cells are flagged, not removed: see :func:`filter_cells`.

    Parameters
    ----------
    {adata}
    {batch_key}
    {counts_layer}
    nmads, nmads_mt, min_pct_mt, max_pct_mt, min_genes
        Thresholds of low quality, see :func:`flag_low_quality`.
    expected_doublet_rate
        See :func:`detect_doublets`.
    doublet_threshold
        Scrublet score threshold, see ``threshold`` of :func:`detect_doublets`.
    receptors
        Call doublets from receptor chains too, see :func:`detect_doublets`.
    {random_state}
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table (``total_counts``, ``n_genes_by_counts``,
    ``pct_counts_mt``, ``pct_counts_ribo``, ``low_quality``, ``doublet_score``,
    ``receptor_doublet``, ``receptor_doublet_reason``, ``predicted_doublet``) and the
    per-sample summary (the sample's ``patient_id``, ``timepoint``, ``day``, ``tissue`` and
    ``outcome`` where ``.obs`` has them, ``n_cells``, ``n_low_quality``, ``n_doublets``,
    ``n_flagged``, the thresholds of both steps, ``n_scrublet_doublets``,
    ``n_receptor_doublets`` and Scrublet's ``doublet_status``).
    Otherwise ``None``; the per-cell columns go to ``.obs``, ``mt`` and ``ribo`` to ``.var``,
    ``.uns["low_quality"]`` and ``.uns["predicted_doublet"]`` are written as by the single
    steps, and ``.uns[key_added]`` holds ``"samples"`` (the summary) and ``"params"``.
    """
    require_layer(adata, layer)
    labels = batches(adata.obs, batch_key)
    column = batch_key or "batch"
    # a light shell sharing the counts: the steps write into it, never into adata
    shell = AnnData(
        X=adata.X if layer is None else adata.layers[layer],
        obs=pd.DataFrame({column: labels}, index=adata.obs_names),
        var=pd.DataFrame(index=adata.var_names),
        obsm={K.AIRR: adata.obsm[K.AIRR]} if K.AIRR in adata.obsm else None,
    )
    qc_metrics(shell, layer=None)
    flag_low_quality(shell, batch_key=column, nmads=nmads, nmads_mt=nmads_mt,
                     min_pct_mt=min_pct_mt, max_pct_mt=max_pct_mt, min_genes=min_genes)
    detect_doublets(shell, batch_key=column, layer=None,
                    expected_doublet_rate=expected_doublet_rate, threshold=doublet_threshold,
                    receptors=receptors, random_state=random_state)
    summary = _summary(shell, column)
    if batch_key in adata.obs:
        # the sample's patient, timepoint and tissue stay known after merge drops its cells
        summary = sample_metadata(adata.obs, batch_key).merge(
            summary.astype({column: str}), on=column, how="right")
    cells = shell.obs[list(CELL_COLUMNS)]
    if inplace:
        # the records of the single steps, as if they had run on adata itself
        for key in (K.LOW_QUALITY, K.DOUBLET):
            adata.uns[key] = shell.uns[key]
            adata.uns[key][K.PARAMS]["batch_key"] = batch_key
        adata.uns[K.DOUBLET][K.PARAMS]["layer"] = layer
    return store(
        adata, key_added, inplace=inplace, result=(cells, summary), obs=cells, var=shell.var,
        tables={K.TABLE_SAMPLES: summary},
        params={"batch_key": batch_key, "layer": layer, "nmads": nmads, "nmads_mt": nmads_mt,
                "min_pct_mt": min_pct_mt, "max_pct_mt": max_pct_mt, "min_genes": min_genes,
                "expected_doublet_rate": expected_doublet_rate,
                "doublet_threshold": doublet_threshold, "receptors": receptors,
                "random_state": random_state},
    )


def failed_qc(summary: pd.DataFrame) -> pd.Series:
    """Return, per row of a QC summary (:func:`qc`), whether QC flagged every one of its cells.

    Such a sample (a failed library) has no cell left once :func:`filter_cells` has run.
    """
    return summary["n_flagged"] >= summary["n_cells"]


def _summary(shell: AnnData, column: str) -> pd.DataFrame:
    thresholds = shell.uns[K.LOW_QUALITY][K.TABLE_SAMPLES]
    doublets = shell.uns[K.DOUBLET][K.TABLE_SAMPLES].drop(columns="n_cells")
    doublets = doublets.rename(columns={"threshold": "doublet_threshold",
                                        "status": "doublet_status"})
    summary = thresholds.merge(doublets, on=column, how="left")
    flagged = shell.obs[K.LOW_QUALITY] | shell.obs[K.DOUBLET]
    n_flagged = flagged.groupby(shell.obs[column], observed=True).sum()
    summary.insert(3, "n_doublets", summary.pop("n_doublets"))
    summary.insert(4, "n_flagged", summary[column].map(n_flagged).astype(int).to_numpy())
    return summary


@doc_params
def filter_cells(
    adata: AnnData, *, batch_key: str | None = K.SAMPLE, inplace: bool = True
) -> AnnData | None:
    """Remove the cells flagged as low quality or as doublets.

    Parameters
    ----------
    {adata}
        Needs ``.obs["low_quality"]`` or ``.obs["predicted_doublet"]`` (see :func:`qc`).
    batch_key
        Column of ``.obs`` by which the log reports the cells removed (all cells at once
        without it).
    {inplace}

    Returns
    -------
    With ``inplace=False``, a filtered copy of ``adata``; otherwise ``None`` and ``adata`` keeps
    only the cells flagged by neither column.
    """
    present = [c for c in (K.LOW_QUALITY, K.DOUBLET) if c in adata.obs]
    if not present:
        raise InputError(
            f"neither '{K.LOW_QUALITY}' nor '{K.DOUBLET}' is in .obs; run repertoire.pp.qc first."
        )
    flagged = np.zeros(adata.n_obs, dtype=bool)
    for name in present:
        flagged |= adata.obs[name].astype("boolean").fillna(False).to_numpy(dtype=bool)
    labels = batches(adata.obs, batch_key if batch_key in adata.obs else None)
    removed = pd.Series(flagged, index=adata.obs_names).groupby(labels, observed=True).sum()
    logger.info(
        "removing %d of %d flagged cells (%s): %s", flagged.sum(), adata.n_obs,
        " or ".join(present), ", ".join(f"{b}: {n}" for b, n in removed.items()),
    )
    if not inplace:
        return adata[~flagged].copy()
    adata._inplace_subset_obs(~flagged)
    return None
