"""Doublet detection with Scrublet, one sample at a time."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger, progress
from ._utils import batches, record, require_layer

SAMPLES = "samples"
PARAMS = "params"
# 10x Genomics Chromium user guides: about 0.8% multiplets per 1,000 cells recovered
RATE_PER_CELL_10X = 0.008 / 1000
OK, TOO_FEW, FAILED, NO_THRESHOLD = "ok", "too few cells", "failed", "no threshold"


@doc_params
def detect_doublets(
    adata: AnnData,
    *,
    batch_key: str | None = K.SAMPLE,
    layer: str | None = K.COUNTS,
    expected_doublet_rate: float | Literal["10x"] = 0.05,
    threshold: float | None = None,
    min_cells: int = 50,
    random_state: int = 0,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Score and call doublets with Scrublet in each sample separately.

    Runs :func:`scanpy.pp.scrublet` (Wolock et al., Cell Syst 2019) on the raw counts of each
    sample, since doublets only form between cells loaded together. Samples with fewer than
    ``min_cells`` cells, and samples on which Scrublet fails, get a missing score and no
    doublet call; one warning names them. A sample without some lineage (for example no B
    cells during aplasia) is handled like any other.

    Parameters
    ----------
    {adata}
    {batch_key}
    {counts_layer}
    expected_doublet_rate
        Expected fraction of doublets; ``"10x"`` sets it per sample from the number of cells
        (0.8% per 1,000 cells recovered, as in the 10x Genomics user guides).
    threshold
        Doublet score above which a cell is called a doublet; ``None`` lets Scrublet place it
        at the minimum between the two modes of the simulated doublets' scores, per sample.
    min_cells
        Samples with fewer cells are not scored.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table (``doublet_score``, ``predicted_doublet``) and a
    per-sample table (``n_cells``, ``expected_doublet_rate``, ``threshold``, ``n_doublets``,
    ``status``). Otherwise ``None``; the per-cell columns go to ``.obs`` and
    ``.uns["predicted_doublet"]`` holds ``"samples"`` (the table) and ``"params"``.
    """
    require_layer(adata, layer)
    if expected_doublet_rate != "10x" and not 0 < float(expected_doublet_rate) < 1:
        raise InputError(
            f"expected_doublet_rate {expected_doublet_rate!r} is neither '10x' nor a fraction."
        )
    labels = batches(adata.obs, batch_key)
    counts = adata.X if layer is None else adata.layers[layer]
    scores = np.full(adata.n_obs, np.nan)
    called = np.zeros(adata.n_obs, dtype=bool)
    rows = []
    for batch in progress(labels.cat.categories, desc="scrublet"):
        cells = np.flatnonzero((labels == batch).to_numpy())
        rate = (
            len(cells) * RATE_PER_CELL_10X if expected_doublet_rate == "10x"
            else float(expected_doublet_rate)
        )
        row = {batch_key or "batch": batch, "n_cells": len(cells),
               "expected_doublet_rate": rate, "threshold": np.nan, "n_doublets": 0}
        if len(cells) < min_cells:
            row["status"] = TOO_FEW
        else:
            sample = AnnData(X=counts[cells], obs=pd.DataFrame(index=adata.obs_names[cells]),
                             var=pd.DataFrame(index=adata.var_names))
            result = _scrublet(sample, rate, threshold, random_state)
            if isinstance(result, str):
                row["status"] = f"{FAILED}: {result}"
            else:
                score, doublet, row["threshold"] = result
                scores[cells], called[cells] = score, doublet
                row["n_doublets"] = int(doublet.sum())
                row["status"] = NO_THRESHOLD if np.isnan(row["threshold"]) else OK
        rows.append(row)
    samples = pd.DataFrame(rows)
    skipped = samples.loc[~samples["status"].isin([OK]), :]
    if len(skipped):
        logger.warning(
            "no doublet calls for %d sample(s): %s", len(skipped),
            "; ".join(f"{b} ({s})" for b, s in zip(skipped.iloc[:, 0], skipped["status"],
                                                     strict=True)),
        )
    logger.info("called %d doublets among %d cells", called.sum(), adata.n_obs)
    cells = pd.DataFrame({K.DOUBLET_SCORE: scores, K.DOUBLET: called}, index=adata.obs_names)
    if not inplace:
        return cells, samples
    adata.obs[K.DOUBLET_SCORE] = scores
    adata.obs[K.DOUBLET] = called
    adata.uns[K.DOUBLET] = {
        SAMPLES: samples,
        PARAMS: record(batch_key=batch_key, layer=layer,
                       expected_doublet_rate=expected_doublet_rate, threshold=threshold,
                       min_cells=min_cells, random_state=random_state),
    }
    return None


def _scrublet(
    sample: AnnData, rate: float, threshold: float | None, random_state: int
) -> tuple[np.ndarray, np.ndarray, float] | str:
    """Scores, calls and threshold of one sample, or the reason Scrublet failed on it."""
    n_comps = min(30, sample.n_obs - 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.pp.scrublet(
                sample, expected_doublet_rate=rate, threshold=threshold,
                n_prin_comps=n_comps, random_state=random_state, verbose=False,
            )
    except (ValueError, IndexError, ZeroDivisionError, np.linalg.LinAlgError) as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    # scrublet drops cells with fewer than 3 genes; they keep no score
    score = sample.obs[K.DOUBLET_SCORE].to_numpy(dtype=float)
    doublet = sample.obs[K.DOUBLET].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return score, doublet, float(sample.uns["scrublet"].get("threshold", np.nan))
