"""A bone-marrow section coloured by cellular neighbourhood, plasma cells and senders marked."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .. import _keys as K
from .. import get
from .._docs import doc_params
from .._errors import InputError
from .._utils import require_result
from ._utils import NAN_COLOR, finish, palette, panels

PRODUCER = "repertoire.tl.spatial_niches"


@doc_params
def spatial_niches(
    adata: AnnData,
    sample: str,
    *,
    key: str = K.SPATIAL_NICHES,
    scale_bar: float = 100.0,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw one sample's cells where they lie, coloured by cellular neighbourhood.

    Every cell of the section is a dot in the colour of its cellular neighbourhood (the legend
    names each after its most enriched cell types and gives its share of this sample's cells;
    grey: no neighbourhood); plasma cells are stars with a black edge, niche senders dots with
    a dark ring, other cells plain dots; a scale bar gives the length in coordinate units.
    The title gives the sample, its outcome and timepoint, and the distance of its plasma
    cells to their nearest sender against the permutation reference.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.spatial_niches` on spatial coordinates.
    sample
        The ``sample_key`` value of the section to draw.
    key
        Key of the spatial-niche results in ``.uns`` (the ``key_added`` of the tool).
    scale_bar
        Length of the scale bar, in the units of the coordinates (um).
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    params = require_result(adata, key, K.PARAMS, PRODUCER)
    neighbourhoods = get.spatial_niches(adata, K.TABLE_NEIGHBOURHOODS, key=key)
    samples = get.spatial_niches(adata, K.TABLE_SAMPLES, key=key)
    if params["graph"] != "spatial":
        raise InputError(f".uns['{key}'] comes from the expression graph: no section to draw.")
    sample_key, groupby = params["sample_key"], params["groupby"]
    spatial_key = params["spatial_key"]
    column = f"{key}_neighbourhood"
    if column not in adata.obs:
        raise InputError(f"column '{column}' is not in .obs; run {PRODUCER} first.")
    in_sample = (adata.obs[sample_key].astype(str) == str(sample)).to_numpy()
    if not in_sample.any():
        raise InputError(f"sample '{sample}' is not in .obs['{sample_key}'].")
    xy = np.asarray(adata.obsm[spatial_key], dtype=float)[:, :2]
    cells = in_sample & np.isfinite(xy).all(axis=1)
    if not cells.any():
        raise InputError(f"sample '{sample}' has no coordinates in .obsm['{spatial_key}'].")
    obs = adata.obs.loc[cells]
    xy = xy[cells]
    labels = obs[column].astype(object)
    types = obs[groupby].astype(object)
    plasma = types.isin(params["plasma_types"]).to_numpy()
    sender = types.isin(params["sender_types"]).to_numpy()

    levels = [str(n) for n in neighbourhoods["neighbourhood"]]
    colours = dict(zip(levels, _colours(len(levels)), strict=True))
    colour = labels.map(colours).fillna(NAN_COLOR).to_numpy()
    fig, (axis,), owned = panels(ax, 1, (9.0, 6.5))
    other = ~plasma & ~sender
    axis.scatter(*xy[other].T, s=14, c=colour[other], linewidths=0, alpha=0.85, zorder=1)
    axis.scatter(*xy[sender].T, s=20, c=colour[sender], edgecolors="#333333", linewidths=0.7,
                 zorder=2)
    axis.scatter(*xy[plasma].T, s=130, c=colour[plasma], marker="*", edgecolors="black",
                 linewidths=0.8, zorder=3)

    share = labels.value_counts(normalize=True)
    named = neighbourhoods.set_index(neighbourhoods["neighbourhood"].astype(str))["name"]
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=colours[level],
               markeredgewidth=0, label=f"{level} {share.get(level, 0.0):.0%}: {named[level]}")
        for level in levels
    ]
    blank = Line2D([], [], linestyle="", label=" ")
    handles += [
        blank,
        Line2D([], [], marker="*", linestyle="", markersize=12, markerfacecolor="white",
               markeredgecolor="black", label=f"plasma cell: star ({int(plasma.sum())})"),
        Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor="white",
               markeredgecolor="#333333", label=f"niche sender: ringed ({int(sender.sum())})"),
        Line2D([], [], marker="o", linestyle="", markersize=5, markerfacecolor="#bbbbbb",
               markeredgewidth=0, label=f"other cell: plain dot ({int(other.sum())})"),
    ]
    # one legend, so that a tight bounding box keeps all of it
    axis.legend(handles=handles, fontsize="x-small", title_fontsize="small", loc="upper left",
                bbox_to_anchor=(1.01, 1.0), frameon=False,
                title="cellular neighbourhood: share of this\nsection, most enriched cell types")
    _scale_bar(axis, xy, scale_bar)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    # left-aligned: the long second and third lines run over the legend, not off the figure
    axis.set_title(_title(str(sample), obs, samples, sample_key, float(params["radius"])),
                   fontsize="medium", loc="left")
    finish(fig, show=show, save=save, owned=owned)
    return axis


def _colours(n: int) -> list[str]:
    """``n`` colours without the palette's greys (grey marks cells without a neighbourhood)."""
    greys = {"#7f7f7f", "#c7c7c7"}
    return [c for c in palette(n + 2) if c not in greys][:n]


def _scale_bar(axis: Axes, xy: np.ndarray, length: float) -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    span = float(np.ptp(xy[:, 0])) if len(xy) > 1 else 0.0
    while span and length > span / 2:
        length /= 2
    label = f"{length:g} \u00b5m"
    axis.add_artist(AnchoredSizeBar(axis.transData, length, label, "lower right", pad=0.4,
                                    size_vertical=max(length / 40, 1e-9), frameon=True,
                                    fontproperties={"size": "small"}))


def _title(sample: str, obs: pd.DataFrame, samples: pd.DataFrame, sample_key: str,
           radius: float) -> str:
    head = [sample]
    context = [str(obs[c].iloc[0]) for c in (K.OUTCOME, K.TIMEPOINT) if c in obs]
    if K.DAY in obs:
        context.append(f"day {obs[K.DAY].iloc[0]}")
    if context:
        head.append(f"({', '.join(context)})")
    row = samples[samples[sample_key].astype(str) == sample]
    if row.empty or pd.isna(row["distance_ratio"].iloc[0]):
        reason = "" if row.empty else str(row["reason"].iloc[0])
        return f"{' '.join(head)}\nplasma cell to sender distance: {reason or 'not measured'}"
    r = row.iloc[0]
    return (
        f"{' '.join(head)}\nplasma cell to nearest sender: median {r['median_distance']:.0f} "
        f"\u00b5m ({r['expected_median_distance']:.0f} \u00b5m if placed at random, ratio "
        f"{r['distance_ratio']:.2f})\nwithin {radius:g} \u00b5m of a sender: "
        f"{r['fraction_within']:.0%} of plasma cells ({r['expected_fraction_within']:.0%} at "
        "random)"
    )
