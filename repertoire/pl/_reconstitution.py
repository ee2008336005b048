"""B-cell reconstitution and CAR-T kinetics: one patient's time course, and the cohort's."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import require_result
from ._utils import OUTCOME_COLORS, finish, interval, palette, panels, timepoint_order

SUBSETS = ("naive", "memory", "switched", "DN", "plasma")
SOURCE_STYLE = {"tx": ("-", "o", "transcriptome"), "bcr": ("--", "s", "BCR")}


def metric_label(metric: str) -> str:
    """Words for a column of the reconstitution sample table, for an axis."""
    if metric == "B_per_1000":
        return "B cells per 1000 cells"
    if metric == "frac_car":
        return "CAR+ share of T cells"
    parts = metric.split("_")
    if len(parts) == 3 and parts[0] == "frac" and parts[2] in SOURCE_STYLE:
        of = "B lineage" if parts[1] == "plasma" else "B cells"
        return f"{parts[1]} share of {of} ({SOURCE_STYLE[parts[2]][2]})"
    return metric


@doc_params
def reconstitution(
    adata: AnnData,
    patient: str,
    *,
    tissue: str = "blood",
    key: str = K.RECONSTITUTION,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw one patient's B-cell reconstitution and CAR-T kinetics over time.

    Three panels against days since infusion: B cells per 1000 cells (aplastic samples
    shaded); the B-cell subset fractions from the transcriptome (solid) and the BCR (dashed);
    and the CAR-detected share of T cells. Bars are Wilson 95% intervals. Samples without B
    cells have no subset fractions to draw and show as aplasia.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.reconstitution`.
    patient
        The ``patient_id`` to draw.
    tissue
        Samples of this tissue are drawn.
    key
        Key of the reconstitution results in ``.uns``.
    ax
        Three axes to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    samples = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.reconstitution")
    mine = samples[(samples[K.PATIENT].astype(str) == str(patient))]
    if mine.empty:
        raise InputError(f"patient '{patient}' has no sample in .uns['{key}']['samples'].")
    mine = mine[mine[K.TISSUE].astype(str) == tissue].sort_values(K.DAY)
    fig, (top, middle, bottom), owned = panels(ax, 3, (6.5, 8.0), sharex=True)
    day = mine[K.DAY].to_numpy(dtype=float)
    for aplastic in day[mine["aplasia"].to_numpy(dtype=bool)]:
        top.axvspan(aplastic - 4, aplastic + 4, color="#eeeeee", zorder=0)
    top.errorbar(day, mine["B_per_1000"], yerr=interval(mine, "B_per_1000"), marker="o",
                 color="black", capsize=3)
    top.set_ylabel("B cells per 1000")
    top.set_title(f"{patient} ({tissue}; shaded: aplasia)", fontsize="medium")
    colors = dict(zip(SUBSETS, palette(len(SUBSETS)), strict=True))
    for subset in SUBSETS:
        for source, (style, marker, _) in SOURCE_STYLE.items():
            column = f"frac_{subset}_{source}"
            shown = mine[column].notna().to_numpy()
            if shown.any():
                middle.errorbar(day[shown], mine.loc[shown, column],
                                yerr=interval(mine[shown], column), linestyle=style,
                                marker=marker, color=colors[subset], capsize=2, markersize=4,
                                label=f"{subset} ({SOURCE_STYLE[source][2]})")
    middle.set_ylim(-0.02, 1.02)
    middle.set_ylabel("fraction of B cells")
    if middle.get_legend_handles_labels()[0]:
        middle.legend(fontsize="x-small", ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1))
    shown = mine["frac_car"].notna().to_numpy()
    bottom.errorbar(day[shown], mine.loc[shown, "frac_car"],
                    yerr=interval(mine[shown], "frac_car"), marker="o", color="#9467bd",
                    capsize=3)
    bottom.set_ylabel("CAR-detected\nfraction of T cells")
    bottom.set_xlabel("days since infusion")
    for axis in (top, middle, bottom):
        axis.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    finish(fig, show=show, save=save, owned=owned)
    return fig


@doc_params
def reconstitution_cohort(
    adata: AnnData,
    *,
    metric: str = "frac_naive_tx",
    tissue: str = "blood",
    min_cells: int = 10,
    key: str = K.RECONSTITUTION,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw one reconstitution measure for every patient, coloured by outcome, over timepoints.

    Thin lines join each patient's samples; thick lines join each outcome's median. A value
    resting on fewer than ``min_cells`` cells (a fraction of two B cells while B cells return)
    is drawn hollow and left out of the median. Above each timepoint stands the patient-level
    p-value of relapse against remission with the minimum attainable p (``p`` and ``p_min`` of
    ``.uns[key]["outcomes"]``, from :func:`repertoire.tl.compare_outcomes`), which weighs every
    patient's counts as they are.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.reconstitution`.
    metric
        A column of the sample table, for example ``frac_naive_bcr`` or ``B_per_1000``.
    tissue
        Samples of this tissue are drawn.
    min_cells
        Fewest cells behind a value (its denominator: B cells for a subset fraction, T cells
        for the CAR fraction) for it to count towards the median.
    key
        Key of the reconstitution results in ``.uns``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    samples = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.reconstitution")
    if metric not in samples:
        raise InputError(f"metric '{metric}' is not a column of .uns['{key}']['samples'].")
    table = samples[samples[K.TISSUE].astype(str) == tissue]
    order = timepoint_order(table)
    position = {t: i for i, t in enumerate(order)}
    fig, (ax,), owned = panels(ax, 1, (max(5.0, 1.0 + 0.9 * len(order)), 4.5))
    fractions = adata.uns[key][K.PARAMS]["fractions"]
    denominator = fractions[metric][1] if metric in fractions else None
    enough = (table[denominator] >= min_cells if denominator in table
              else pd.Series(True, index=table.index))
    table = table.assign(x=table[K.TIMEPOINT].map(position), enough=enough).sort_values("x")
    for _, rows in table.groupby(K.PATIENT, observed=True):
        color = OUTCOME_COLORS.get(str(rows[K.OUTCOME].iloc[0]), "grey")
        ax.plot(rows["x"], rows[metric], color=color, alpha=0.35, linewidth=0.8)
        for filled, points in rows.groupby("enough"):
            ax.scatter(points["x"], points[metric], s=14, alpha=0.6, edgecolors=color,
                       facecolors=color if filled else "none")
    for outcome, rows in table.groupby(K.OUTCOME, observed=True):
        # a visit of this outcome without enough cells breaks the line, rather than bridging it
        median = rows[rows["enough"]].groupby("x")[metric].median().reindex(
            sorted(rows["x"].unique()))
        ax.plot(median.index, median.to_numpy(), color=OUTCOME_COLORS.get(str(outcome), "grey"),
                linewidth=2.5, marker="o", markersize=6, label=f"{outcome} (median)")
    if denominator in table and not table["enough"].all():
        ax.scatter([], [], s=14, edgecolors="grey", facecolors="none",
                   label=f"fewer than {min_cells} cells behind the value")
    tests = adata.uns[key].get(K.TABLE_OUTCOMES)
    if isinstance(tests, pd.DataFrame) and not tests.empty:
        mine = tests[(tests["metric"] == metric) & (tests[K.TISSUE].astype(str) == tissue)]
        for _, row in mine.iterrows():
            if row[K.TIMEPOINT] in position:
                ax.annotate(f"p={row['p']:.2g}\n(min {row['p_min']:.2g})",
                            (position[row[K.TIMEPOINT]], 1.0), xycoords=("data", "axes fraction"),
                            ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order)
    ax.set_ylabel(metric_label(metric))
    ax.set_xlabel("timepoint")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")
    finish(fig, show=show, save=save, owned=owned)
    return ax
