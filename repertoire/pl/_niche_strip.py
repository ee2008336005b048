"""One patient's niche scores beside the cohort's, one small strip plot per niche."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import require_result
from ._utils import OUTCOME_COLORS, finish, panels

TISSUE_SHORT = {"blood": "PB", "bone_marrow": "BM"}


def sample_groups(table: pd.DataFrame) -> list[str]:
    """Return the ``timepoint tissue`` labels of ``table``: blood first, each by median day."""
    labels = table[K.TIMEPOINT].astype(str) + " " + table[K.TISSUE].astype(str).map(
        lambda t: TISSUE_SHORT.get(t, t))
    rank = table[K.TISSUE].astype(str).map(lambda t: 0 if t == "blood" else 1)
    order = pd.DataFrame({"label": labels, "rank": rank, "day": table[K.DAY]})
    order = order.groupby("label").agg(rank=("rank", "min"), day=("day", "median"))
    return list(order.sort_values(["rank", "day"]).index)


@doc_params
def niche_patient(
    adata: AnnData,
    patient: str,
    *,
    niches: Sequence[str] | None = None,
    key: str = K.NICHE_SCORES,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw one patient's niche scores per sample beside the cohort's, by outcome.

    One panel per niche; on the x axis each timepoint and tissue. Other patients' scores are
    small dots coloured by outcome (remission left, relapse right of each category); this
    patient's are black diamonds.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_scores`.
    patient
        The ``patient_id`` to draw.
    niches
        Niches to draw (default: every niche this patient has a score for).
    key
        Key of the niche record in ``.uns``.
    ax
        One axes per niche to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    table = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.niche_scores")
    table = table[table["score"].notna()]
    mine = table[table[K.PATIENT].astype(str) == str(patient)]
    if mine.empty:
        raise InputError(f"patient '{patient}' has no niche score in .uns['{key}']['samples'].")
    niches = [str(n) for n in (niches if niches is not None
                               else pd.unique(mine["niche"].astype(str)))]
    labels = sample_groups(table)
    table = table.assign(label=table[K.TIMEPOINT].astype(str) + " " + table[K.TISSUE].astype(
        str).map(lambda t: TISSUE_SHORT.get(t, t)))
    ncols = min(4, len(niches))
    width = 9.0
    fig, axes, owned = panels(ax, len(niches),
                              (width, 2.3 * math.ceil(len(niches) / ncols) + 0.4), ncols=ncols)
    rng = np.random.default_rng(0)
    for axis, niche in zip(axes, niches, strict=True):
        rows = table[table["niche"].astype(str) == niche]
        used = [label for label in labels if label in set(rows["label"])]
        local = {label: i for i, label in enumerate(used)}
        others = rows[rows[K.PATIENT].astype(str) != str(patient)]
        for outcome, shift in (("remission", -0.15), ("relapse", 0.15), ("unknown", 0.0)):
            points = others[others[K.OUTCOME].astype(str) == outcome]
            x = points["label"].map(local).to_numpy(dtype=float) + shift
            x = x + rng.uniform(-0.06, 0.06, len(x))
            axis.scatter(x, points["score"], s=12, color=OUTCOME_COLORS[outcome], alpha=0.6,
                         linewidths=0)
        own = rows[rows[K.PATIENT].astype(str) == str(patient)]
        axis.scatter(own["label"].map(local), own["score"], marker="D", s=22,
                     color="black", zorder=3)
        axis.set_title(niche, fontsize="small")
        axis.set_xticks(range(len(used)))
        axis.set_xticklabels(used, fontsize="x-small", rotation=45, ha="right")
        axis.set_xlim(-0.6, max(len(used), 1) - 0.4)
        axis.tick_params(axis="y", labelsize="x-small")
        axis.set_ylim(bottom=0)
    if owned:
        for extra in set(fig.axes) - set(axes):
            extra.remove()
    handles = [Line2D([], [], marker="D", color="black", linestyle="", label=str(patient))]
    handles += [Line2D([], [], marker="o", color=OUTCOME_COLORS[o], linestyle="", alpha=0.6,
                       label=f"other patients, {o}") for o in ("remission", "relapse")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize="small",
               frameon=False)
    finish(fig, show=show, save=save, owned=owned)
    return fig
