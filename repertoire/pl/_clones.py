"""Clones over time: pre-existing clones after infusion, and clonal diversity."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys as K
from .._docs import doc_params
from .._utils import require_result
from ._utils import OUTCOME_COLORS, finish, interval, palette, panels


@doc_params
def clone_tracking(
    adata: AnnData,
    patient: str | None = None,
    *,
    n_clones: int = 8,
    key: str = K.CLONE_TRACKING,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw how baseline clones come back after infusion.

    Top: cells per sample of the ``n_clones`` largest returning baseline clones against days
    since infusion (baseline samples before day 0), one colour per clone, solid for relapsing
    and dashed for remitting patients; the legend names each clone with its patient's outcome
    and the cell types it returns as. Bottom: the share of B-lineage cells from pre-existing
    clones in each sample after infusion, with Wilson 95% intervals, one line per patient
    coloured by outcome. Without returning clones (or without any B cell after infusion) the
    panels say so.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.track_clones`.
    patient
        Draw this ``patient_id`` only; all patients when ``None``.
    n_clones
        Largest returning clones drawn at the top.
    key
        Key of the tracking results in ``.uns``.
    ax
        Two axes to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    clones, occurrences, samples = (
        require_result(adata, key, table, "repertoire.tl.track_clones")
        for table in (K.TABLE_CLONES, K.TABLE_OCCURRENCES, K.TABLE_SAMPLES)
    )
    if patient is not None:
        clones = clones[clones[K.PATIENT].astype(str) == str(patient)]
        occurrences = occurrences[occurrences[K.PATIENT].astype(str) == str(patient)]
        samples = samples[samples[K.PATIENT].astype(str) == str(patient)]
    fig, (left, right), owned = panels(ax, 2, (11.0, 5.5), sharex=True)
    outcome_of = (samples.drop_duplicates(K.PATIENT).set_index(K.PATIENT)[K.OUTCOME]
                  .astype(str) if K.OUTCOME in samples else pd.Series(dtype=str))
    returning = clones[clones["returned"].astype(bool)].sort_values(
        ["n_cells_after", K.CLONE], ascending=[False, True]).head(n_clones)
    for color, (_, clone) in zip(palette(len(returning)), returning.iterrows(), strict=True):
        rows = occurrences[occurrences[K.CLONE] == clone[K.CLONE]]
        per_day = rows.groupby("day")["n_cells"].sum().sort_index()
        outcome = outcome_of.get(clone[K.PATIENT], "unknown")
        left.plot(per_day.index, per_day.to_numpy(), marker="o", color=color, alpha=0.8,
                  linestyle="-" if outcome == "relapse" else "--",
                  label=f"{clone[K.CLONE]} ({outcome}): {_returning_types(rows)}")
    if returning.empty:
        left.text(0.5, 0.5, "no baseline clone seen after infusion", ha="center",
                  transform=left.transAxes)
    left.axvline(0, color="grey", linestyle=":", linewidth=0.8)
    left.set_xlabel("days since infusion")
    left.set_ylabel("cells of the clone per sample")
    left.set_title(f"largest returning baseline clones ({patient or 'all patients'})",
                   fontsize="medium")
    if not returning.empty:
        left.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    after = samples[samples["frac_preexisting"].notna()].sort_values(K.DAY)
    for name, rows in after.groupby(K.PATIENT, observed=True):
        color = OUTCOME_COLORS.get(outcome_of.get(name, "unknown"), "grey")
        right.errorbar(rows[K.DAY], rows["frac_preexisting"],
                       yerr=interval(rows, "frac_preexisting"), marker="o", color=color,
                       capsize=2, alpha=0.7, linewidth=0.8, markersize=3)
    if after.empty:
        right.text(0.5, 0.5, "no B cell tracked after infusion", ha="center",
                   transform=right.transAxes)
    for outcome, color in OUTCOME_COLORS.items():
        if outcome in set(outcome_of):
            right.plot([], [], color=color, label=outcome)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize="small")
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("days since infusion")
    right.set_ylabel("fraction of B-lineage cells\nfrom baseline clones")
    finish(fig, show=show, save=save, owned=owned)
    return fig


def _returning_types(occurrences: pd.DataFrame) -> str:
    """Return the cell types a clone's cells take after infusion, most cells first."""
    after = occurrences[occurrences["phase"] == "after"]
    counts = after.groupby("cell_type", observed=True)["n_cells"].sum()
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    return ", ".join(f"{name} {n}" for name, n in counts.items())


@doc_params
def diversity(
    adata: AnnData,
    *,
    q: float = 1,
    key: str = K.DIVERSITY,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw rarefied Hill numbers of order ``q`` per sample against days since infusion.

    One line per patient, coloured by outcome; samples too small for the rarefaction depth
    (including samples without B cells) are left out.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.diversity`.
    q
        Order of the Hill number drawn.
    key
        Key of the diversity results in ``.uns``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    table = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.diversity")
    sample_key = table.columns[0]
    meta = adata.obs[[sample_key, K.PATIENT, K.DAY, K.OUTCOME]].drop_duplicates(sample_key)
    meta = meta.astype({sample_key: str})
    table = table[np.isclose(table["q"].astype(float), q)].astype({sample_key: str})
    table = table.merge(meta, on=sample_key, how="left").dropna(subset=["hill"])
    fig, (ax,), owned = panels(ax)
    for _, rows in table.sort_values(K.DAY).groupby(K.PATIENT, observed=True):
        color = OUTCOME_COLORS.get(str(rows[K.OUTCOME].iloc[0]), "grey")
        ax.errorbar(rows[K.DAY], rows["hill"], yerr=rows["hill_sd"], marker="o", color=color,
                    alpha=0.7, capsize=2, linewidth=0.8, markersize=3)
    depth = int(table["depth"].iloc[0]) if len(table) else 0
    ax.set_title(f"Hill number q={q:g} at {depth} cells per sample", fontsize="medium")
    ax.set_xlabel("days since infusion")
    ax.set_ylabel(f"clonal diversity (q={q:g})")
    finish(fig, show=show, save=save, owned=owned)
    return ax
