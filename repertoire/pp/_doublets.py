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
from .._utils import batches, require_layer, store
from ..io import chain_table

# 10x Genomics Chromium user guides: about 0.8% multiplets per 1,000 cells recovered
RATE_PER_CELL_10X = 0.008 / 1000
OK, TOO_FEW, FAILED, NO_THRESHOLD = "ok", "too few cells", "failed", "no threshold"
IMPLAUSIBLE = "automatic threshold implausible"


@doc_params
def detect_doublets(
    adata: AnnData,
    *,
    batch_key: str | None = K.SAMPLE,
    layer: str | None = K.COUNTS,
    expected_doublet_rate: float | Literal["10x"] = 0.05,
    threshold: float | None = None,
    min_cells: int = 50,
    max_rate_ratio: float = 3.0,
    receptors: bool = True,
    min_chain_umis: int = 2,
    random_state: int = 0,
    key_added: str = K.DOUBLET,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Call doublets from expression (Scrublet) and from receptor chains, sample by sample.

    Runs :func:`scanpy.pp.scrublet` (Wolock et al., Cell Syst 2019) on the raw counts of each
    sample, since doublets only form between cells loaded together. Samples with fewer than
    ``min_cells`` cells, and samples on which Scrublet fails, get a missing score and no
    Scrublet call; a sample whose automatic threshold calls far more doublets than expected
    keeps its scores but gets no Scrublet call either. One warning names them all. A sample
    without some lineage (for example no B cells during aplasia) is handled like any other.

    Scrublet finds doublets of two different cell types; two T cells or two B cells look like
    one. Their receptors tell them apart: with ``receptors``, a cell is also called a doublet
    when :func:`receptor_doublets` finds chains no single lymphocyte carries.

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
        Samples with fewer cells are not scored by Scrublet.
    max_rate_ratio
        With the automatic threshold, a sample in which Scrublet calls more than this multiple
        of ``expected_doublet_rate`` gets no Scrublet call: on a few hundred cells the
        histogram of simulated doublet scores has empty bins, and its "minimum between the
        modes" can fall inside the singlets (half of a sample called, seen on 233 cells).
    receptors
        Also call doublets from receptor chains (``.obsm["airr"]``), see
        :func:`receptor_doublets`; ignored when there are no receptor data.
    min_chain_umis
        See :func:`receptor_doublets`.
    {random_state}
    {key_added}
        ``.obs[key_added]`` holds the call (``predicted_doublet`` by default).
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table (``doublet_score``, ``receptor_doublet``,
    ``receptor_doublet_reason``, ``key_added``: Scrublet's call or the receptor's) and a
    per-sample table (``n_cells``, ``expected_doublet_rate``, ``threshold``,
    ``n_scrublet_doublets``, ``n_receptor_doublets``, ``n_doublets``, ``status``). Otherwise
    ``None``; the per-cell columns go to ``.obs`` and ``.uns[key_added]`` holds
    ``"samples"`` (the table) and ``"params"``.
    """
    require_layer(adata, layer)
    if expected_doublet_rate != "10x" and not 0 < float(expected_doublet_rate) < 1:
        raise InputError(
            f"expected_doublet_rate {expected_doublet_rate!r} is neither '10x' nor a fraction."
        )
    if not max_rate_ratio > 0:
        raise InputError(f"max_rate_ratio {max_rate_ratio!r} is not a positive number.")
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
               "expected_doublet_rate": rate, "threshold": np.nan, "n_scrublet_doublets": 0}
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
                scores[cells] = score
                if threshold is None and doublet.mean() > max_rate_ratio * rate:
                    row["status"] = f"{IMPLAUSIBLE}, {doublet.mean():.0%} of cells above it"
                else:
                    called[cells] = doublet
                    row["n_scrublet_doublets"] = int(doublet.sum())
                    row["status"] = NO_THRESHOLD if np.isnan(row["threshold"]) else OK
        rows.append(row)
    samples = pd.DataFrame(rows)
    by_receptor = (
        receptor_doublets(adata, min_chain_umis=min_chain_umis, inplace=False)
        if receptors and K.AIRR in adata.obsm
        else pd.DataFrame({K.RECEPTOR_DOUBLET: False, K.RECEPTOR_DOUBLET_REASON: ""},
                          index=adata.obs_names)
    )
    receptor_called = by_receptor[K.RECEPTOR_DOUBLET].to_numpy()
    samples["n_receptor_doublets"] = _per_batch(receptor_called, labels)
    called |= receptor_called
    samples["n_doublets"] = _per_batch(called, labels)
    samples.insert(len(samples.columns) - 1, "status", samples.pop("status"))
    skipped = samples.loc[~samples["status"].isin([OK]), :]
    if len(skipped):
        logger.warning(
            "no doublet calls for %d sample(s): %s", len(skipped),
            "; ".join(f"{b} ({s})" for b, s in zip(skipped.iloc[:, 0], skipped["status"],
                                                     strict=True)),
        )
    logger.info("called %d doublets among %d cells (%d from receptor chains)", called.sum(),
                adata.n_obs, receptor_called.sum())
    cells = pd.DataFrame({K.DOUBLET_SCORE: scores}, index=adata.obs_names)
    cells = cells.join(by_receptor)
    cells[key_added] = called
    return store(
        adata, key_added, inplace=inplace, result=(cells, samples), obs=cells,
        tables={K.TABLE_SAMPLES: samples},
        params={"batch_key": batch_key, "layer": layer,
                "expected_doublet_rate": expected_doublet_rate, "threshold": threshold,
                "min_cells": min_cells, "max_rate_ratio": max_rate_ratio, "receptors": receptors,
                "min_chain_umis": min_chain_umis, "random_state": random_state},
    )


def _per_batch(flags: np.ndarray, labels: pd.Series) -> np.ndarray:
    counts = pd.Series(flags, index=labels.index).groupby(labels, observed=False).sum()
    return counts.to_numpy(dtype=int)


VDJ_LOCI = ("IGH", "TRB", "TRD")
VJ_LOCI = ("IGK", "IGL", "TRA", "TRG")
BCR_AND_TCR = "BCR and TCR chains"
TWO_VDJ = "two heavy or beta chains"
THREE_VJ = "three or more light or alpha chains"


@doc_params
def receptor_doublets(
    adata: AnnData,
    *,
    min_chain_umis: int = 2,
    key_added: str = K.RECEPTOR_DOUBLET,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Call doublets from receptor chains that no single lymphocyte carries.

    Counts each cell's productive chains with at least ``min_chain_umis`` UMIs (all productive
    chains when the records hold no ``umi_count``) and distinct junctions, and calls a doublet
    when it holds

    - both immunoglobulin and T-cell receptor chains (scirpy's receptor type ``ambiguous``);
    - two or more heavy (IGH) or beta/delta (TRB, TRD) chains, which allelic exclusion makes
      rare in single cells;
    - three or more light or alpha/gamma chains (part of scirpy's ``multichain``), since a
      second alpha chain is common but a third is not.

    This finds the doublets of two B or two T cells that expression-based methods miss.

    Parameters
    ----------
    {adata}
        With receptor chains in ``.obsm["airr"]``.
    min_chain_umis
        Chains with fewer UMIs are ignored (ambient or background contigs).
    {key_added}
        ``.obs[key_added]`` holds the call, ``.obs[f"{{key_added}}_reason"]`` the reason.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a per-cell table with the boolean ``receptor_doublet`` and
    ``receptor_doublet_reason`` (empty for cells not called), named after ``key_added``.
    Otherwise ``None``; both columns go to ``.obs`` and ``.uns[key_added]["params"]`` records
    the arguments.
    """
    if K.AIRR not in adata.obsm:
        raise InputError(f"'{K.AIRR}' is not in .obsm; read receptor data with repertoire.io.")
    chains = chain_table(adata.obsm[K.AIRR], ("locus", "productive", "junction", "junction_aa",
                                               "umi_count"))
    umis = pd.to_numeric(chains["umi_count"], errors="coerce")
    chains = chains[(chains["productive"] == True) & ~(umis < min_chain_umis)]  # noqa: E712
    junction = chains["junction"].fillna(chains["junction_aa"]).fillna("")
    chains = chains.assign(junction=junction.to_numpy())
    is_ig = chains["locus"].str.startswith("IG", na=False)
    is_tr = chains["locus"].str.startswith("TR", na=False)
    per_cell = pd.DataFrame({
        "ig": is_ig.groupby(chains["cell"]).any(),
        "tr": is_tr.groupby(chains["cell"]).any(),
        "vdj": _distinct(chains, VDJ_LOCI),
        "vj": _distinct(chains, VJ_LOCI),
    }).reindex(range(adata.n_obs)).fillna(0)
    reasons = np.select(
        [per_cell["ig"].astype(bool) & per_cell["tr"].astype(bool), per_cell["vdj"] >= 2,
         per_cell["vj"] >= 3],
        [BCR_AND_TCR, TWO_VDJ, THREE_VJ], default="",
    )
    cells = pd.DataFrame({key_added: reasons != "", f"{key_added}_reason": reasons},
                         index=adata.obs_names)
    logger.info("receptor chains call %d doublets (%s)", cells[key_added].sum(),
                ", ".join(f"{r}: {n}" for r, n in pd.Series(reasons[reasons != ""])
                          .value_counts().items()) or "none")
    return store(adata, key_added, params={"min_chain_umis": min_chain_umis}, inplace=inplace,
                 result=cells, obs=cells)


def _distinct(chains: pd.DataFrame, loci: tuple[str, ...]) -> pd.Series:
    """Return the number of distinct junctions per cell among chains of ``loci``."""
    chosen = chains[chains["locus"].isin(loci)]
    return chosen.groupby("cell")["junction"].nunique()


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
