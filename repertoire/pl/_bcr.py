"""Isotype and somatic hypermutation distributions of B cells per timepoint."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import one_batch, require_result
from ._utils import finish, palette, panels, timepoint_order


def _b_cells(adata: AnnData, column: str, groupby: str) -> tuple[pd.DataFrame, list]:
    """B-lineage cells with a value in ``column``, and the groups in order (all of them)."""
    for name in (column, groupby):
        if name not in adata.obs:
            raise InputError(f"column '{name}' is not in .obs; run repertoire.tl.bcr_state first.")
    obs = adata.obs
    keep = obs[column].notna()
    if K.LINEAGE in obs:
        keep &= obs[K.LINEAGE].isin(K.B_LINEAGES)
    groups = obs[groupby].astype("category")
    if groupby == K.TIMEPOINT and K.DAY in obs:
        order = timepoint_order(obs)
    else:
        order = list(groups.cat.categories)
    return obs.loc[keep, [column, groupby]], order


@doc_params
@one_batch("groupby")
def isotypes(
    adata: AnnData,
    *,
    groupby: str = K.TIMEPOINT,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw the isotype composition of B-lineage cells per group as stacked bars.

    Each bar is one group (timepoint by default, in order of day) with the number of cells
    with an isotype above it; a group without any (aplasia) keeps its place with ``n=0``.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.bcr_state`.
    groupby
        Column of ``.obs`` with one bar per value; ``timepoint`` absent from ``.obs`` (one
        sample on its own) draws one, ``"all"``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    cells, order = _b_cells(adata, K.ISOTYPE, groupby)
    counts = pd.crosstab(cells[groupby].astype(object), cells[K.ISOTYPE].astype(str))
    counts = counts.reindex(index=order, fill_value=0)
    present = [i for i in K.ISOTYPES if i in counts.columns]
    counts = counts[present + sorted(set(counts.columns) - set(present))]
    totals = counts.sum(axis=1)
    shares = counts.div(totals.replace(0, np.nan), axis=0).fillna(0.0)
    fig, (ax,), owned = panels(ax, 1, (max(5.0, 1.2 + 0.7 * len(order)), 4.5))
    bottom = np.zeros(len(order))
    for isotype, color in zip(shares.columns, palette(len(shares.columns)), strict=True):
        ax.bar(range(len(order)), shares[isotype], bottom=bottom, color=color, label=isotype)
        bottom += shares[isotype].to_numpy()
    for i, total in enumerate(totals):
        ax.text(i, 1.01, f"n={total}", ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([str(o) for o in order], rotation=45, ha="right")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("fraction of B-lineage cells")
    if len(shares.columns):
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    finish(fig, show=show, save=save, owned=owned)
    return ax


@doc_params
@one_batch("groupby")
def shm(
    adata: AnnData,
    *,
    groupby: str = K.TIMEPOINT,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw the V-region mutation rate of B-lineage cells per group.

    A violin and the cells (jittered) per group, the mean as a black bar and the naive
    threshold of :func:`repertoire.tl.bcr_state` as a dashed line; a group without cells
    keeps its place with ``n=0``.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.bcr_state`.
    groupby
        Column of ``.obs`` with one violin per value; ``timepoint`` absent from ``.obs`` (one
        sample on its own) draws one, ``"all"``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    cells, order = _b_cells(adata, K.SHM_RATE, groupby)
    naive_max_shm = require_result(adata, K.BCR_STATE, K.PARAMS,
                                   "repertoire.tl.bcr_state")["naive_max_shm"]
    fig, (ax,), owned = panels(ax, 1, (max(5.0, 1.2 + 0.7 * len(order)), 4.5))
    rng = np.random.default_rng(0)
    values = [cells.loc[cells[groupby] == g, K.SHM_RATE].to_numpy(dtype=float) for g in order]
    spread = [i for i, v in enumerate(values) if len(v) > 1 and np.ptp(v) > 0]
    if spread:
        bodies = ax.violinplot([values[i] for i in spread], positions=spread, widths=0.8,
                               showextrema=False)["bodies"]
        for body in bodies:
            body.set(facecolor="#c6dbef", edgecolor="none", alpha=0.8)
    for i, v in enumerate(values):
        ax.scatter(i + rng.uniform(-0.25, 0.25, len(v)), v, s=3, color="#4a4a4a",
                   linewidths=0, rasterized=True)
        if len(v):
            ax.hlines(v.mean(), i - 0.3, i + 0.3, color="black", linewidth=2)
        ax.text(i, 1.01, f"n={len(v)}", transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize="x-small")
    ax.axhline(naive_max_shm, color="grey", linestyle="--", linewidth=1,
               label="naive threshold")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([str(o) for o in order], rotation=45, ha="right")
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylabel("V-region mutation rate")
    ax.legend(fontsize="small", loc="upper left")
    finish(fig, show=show, save=save, owned=owned)
    return ax
