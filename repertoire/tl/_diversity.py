"""Clonal diversity per sample as Hill numbers, after rarefying to equal cells."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import one_batch, require_obs, store

ORDERS = (0, 1, 2)


def hill_numbers(
    counts: Sequence[int] | np.ndarray, orders: Sequence[float] = ORDERS
) -> np.ndarray:
    """Hill numbers ``(sum p_i**q) ** (1 / (1 - q))`` of clone counts (``exp`` of Shannon at 1).

    q = 0 is the number of clones, q = 1 the exponential of Shannon entropy, q = 2 the inverse
    Simpson index (Hill, Ecology 1973). NaN without any cell.
    """
    x = np.asarray(counts, dtype=float)
    x = x[x > 0]
    if x.size == 0:
        return np.full(len(orders), np.nan)
    p = x / x.sum()
    values = []
    for q in orders:
        if q == 1:
            values.append(float(np.exp(-np.sum(p * np.log(p)))))
        else:
            values.append(float(np.sum(p**q) ** (1 / (1 - q))))
    return np.array(values)


def rarefied_richness(counts: Sequence[int] | np.ndarray, depth: int) -> float:
    """Return expected number of clones among ``depth`` cells drawn without replacement (Hurlbert).

    ``sum_i 1 - C(N - N_i, depth) / C(N, depth)`` (Hurlbert, Ecology 1971); the exact value
    that averaging rarefaction draws of q = 0 approaches.
    """
    from scipy.special import gammaln

    x = np.asarray(counts, dtype=float)
    x = x[x > 0]
    total = x.sum()
    if depth > total:
        return np.nan

    def log_comb(n: np.ndarray | float, k: float) -> np.ndarray:
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    rest = total - x
    absent = np.where(rest >= depth, np.exp(log_comb(rest, depth) - log_comb(total, depth)), 0.0)
    return float(np.sum(1 - absent))


@doc_params
@one_batch("groupby")
def diversity(
    adata: AnnData,
    *,
    groupby: str = K.SAMPLE,
    clone_key: str = K.CLONE,
    receptor: str = "BCR",
    depth: int | None = None,
    min_cells: int = 20,
    n_draws: int = 20,
    orders: Sequence[float] = ORDERS,
    random_state: int = 0,
    key_added: str = K.DIVERSITY,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Compute Hill numbers of clone sizes per sample after rarefying to equal cells.

    Diversity grows with the number of cells sampled, so every sample is subsampled to the
    same ``depth`` cells without replacement before Hill numbers of orders ``q`` (0: clones,
    1: exponential Shannon, 2: inverse Simpson; Hill, Ecology 1973) are computed. Each value
    is the mean over ``n_draws`` seeded draws (their standard deviation is reported); a sample
    with exactly ``depth`` cells needs no draw. Samples with fewer than ``depth`` cells (among
    them samples without B cells during aplasia) get NaN.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.clonotypes`.
    groupby
        Column of ``.obs`` whose groups (samples) are compared. ``sample_id`` absent from
        ``.obs`` (one sample on its own) makes all cells one group, ``"all"``.
    clone_key
        Column of ``.obs`` holding clones.
    receptor
        Receptor type counted (``.obs["receptor_type"]``): ``BCR`` or ``TCR``.
    depth
        Cells per sample after rarefaction; default the smallest sample with at least
        ``min_cells`` cells.
    min_cells
        Smallest sample the default depth may be set by.
    n_draws
        Rarefaction draws averaged per sample.
    orders
        Orders q of the Hill numbers.
    {random_state}
    {key_added}
    {inplace}

    Returns
    -------
    A tidy table with one row per sample and order: ``groupby``, ``receptor``, ``n_cells``,
    ``n_clones`` (observed, before rarefaction), ``depth``, ``q``, ``hill`` (mean over draws)
    and ``hill_sd``. With ``inplace=True`` it is stored as ``.uns[key_added]["samples"]`` next to
    ``params`` and ``None`` is returned.
    """
    require_obs(adata, groupby, clone_key, K.RECEPTOR_TYPE,
                hint="; run repertoire.tl.clonotypes first")
    if receptor not in ("BCR", "TCR"):
        raise InputError(f"receptor '{receptor}' is not BCR or TCR.")
    if n_draws < 1:
        raise InputError(f"n_draws must be at least 1 (got {n_draws}).")
    obs = adata.obs
    groups = obs[groupby].astype("category")
    chosen = (obs[K.RECEPTOR_TYPE] == receptor) & obs[clone_key].notna()
    counts = {
        group: obs.loc[chosen & (groups == group), clone_key].astype(str).value_counts().to_numpy()
        for group in groups.cat.categories
    }
    sizes = pd.Series({g: int(c.sum()) for g, c in counts.items()}, dtype=int)
    if depth is None:
        eligible = sizes[sizes >= min_cells]
        depth = int(eligible.min()) if len(eligible) else 0
    rng = np.random.default_rng(random_state)
    rows = []
    for group, clone_counts in counts.items():
        hill, spread = _rarefied_hill(clone_counts, depth, orders, n_draws, rng)
        rows.extend(
            {groupby: group, "receptor": receptor, "n_cells": int(sizes[group]),
             "n_clones": len(clone_counts), "depth": depth, "q": q, "hill": h, "hill_sd": s}
            for q, h, s in zip(orders, hill, spread, strict=True)
        )
    table = pd.DataFrame(rows, columns=[groupby, "receptor", "n_cells", "n_clones", "depth",
                                        "q", "hill", "hill_sd"])
    logger.info("diversity of %s clones at %d cells per sample: %d of %d samples deep enough",
                receptor, depth, int((sizes >= depth).sum()) if depth else 0, len(sizes))
    return store(
        adata, key_added, inplace=inplace, result=table, tables={K.TABLE_SAMPLES: table},
        params={"groupby": groupby, "clone_key": clone_key, "receptor": receptor,
                "depth": depth, "min_cells": min_cells, "n_draws": n_draws,
                "orders": list(orders), "random_state": random_state},
    )


def _rarefied_hill(
    counts: np.ndarray, depth: int, orders: Sequence[float], n_draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    total = int(counts.sum())
    if depth < 1 or total < depth:
        return np.full(len(orders), np.nan), np.full(len(orders), np.nan)
    if total == depth:
        return hill_numbers(counts, orders), np.zeros(len(orders))
    cells = np.repeat(np.arange(len(counts)), counts)
    draws = np.array([
        hill_numbers(np.bincount(rng.choice(cells, depth, replace=False)), orders)
        for _ in range(n_draws)
    ])
    return draws.mean(axis=0), draws.std(axis=0)
