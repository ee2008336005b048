"""One patient's reconstitution per timepoint against the cohort's outcome medians (for a page)."""

from __future__ import annotations

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
from ._utils import OUTCOME_COLORS, finish, panels, timepoint_order

TIMELINE_PANELS = (
    ("B_per_1000", "B cells per 1000 cells"),
    ("naive", "naive / transitional"),
    ("memory", "memory (all)"),
    ("switched", "switched memory"),
    ("DN", "double negative"),
    ("plasma", "plasma cells"),
)
SOURCES = {"tx": ("-", "o", "transcriptome"), "bcr": ("--", "s", "BCR")}
PATIENT_COLOR = "black"
BCR_COLOR = "#ff7f0e"


def _patient_and_cohort(
    adata: AnnData, samples: pd.DataFrame, key: str, patient: str, tissue: str
) -> tuple[dict, pd.DataFrame, pd.DataFrame, list[str]]:
    """Split the reconstitution table into the cohort's and the patient's samples of a tissue.

    Returns the recorded interval fractions, both tables (timepoints as strings) and the
    cohort's timepoint order.
    """
    fractions = {m: tuple(v) for m, v in adata.uns[key][K.PARAMS].get("fractions", {}).items()}
    cohort = samples[samples[K.TISSUE].astype(str) == tissue]
    mine = cohort[cohort[K.PATIENT].astype(str) == str(patient)]
    if mine.empty:
        raise InputError(f"patient '{patient}' has no {tissue} sample in .uns['{key}']['samples'].")
    order = [str(t) for t in timepoint_order(cohort)]
    as_text = {K.TIMEPOINT: lambda table: table[K.TIMEPOINT].astype(str)}
    return fractions, cohort.assign(**as_text), mine.assign(**as_text), order


def _enough(table: pd.DataFrame, metric: str, fractions: dict, min_cells: int) -> pd.Series:
    """Whether each value of ``metric`` rests on at least ``min_cells`` cells."""
    denominator = fractions.get(metric, (None, None))[1]
    if metric == "B_per_1000" or denominator not in table:
        return pd.Series(True, index=table.index)
    return table[denominator].fillna(0) >= min_cells


def _cohort_medians(
    cohort: pd.DataFrame, metric: str, enough: pd.Series, position: dict
) -> dict[str, pd.Series]:
    medians = {}
    usable = cohort[enough & cohort[metric].notna()]
    for outcome, rows in usable.groupby(K.OUTCOME, observed=True):
        if str(outcome) not in ("remission", "relapse"):
            continue
        medians[str(outcome)] = rows.groupby(rows[K.TIMEPOINT].map(position))[metric].median()
    return medians


def _draw_medians(ax: Axes, medians: dict[str, pd.Series], *, label: bool = False) -> None:
    """Each outcome's median per timepoint as a wide bar, joined by a faint line."""
    for outcome, median in medians.items():
        color = OUTCOME_COLORS[outcome]
        x = median.index.to_numpy(dtype=float)
        ax.plot(x, median.to_numpy(), color=color, alpha=0.25, linewidth=1, zorder=1)
        ax.hlines(median.to_numpy(), x - 0.32, x + 0.32, color=color, alpha=0.4, linewidth=5,
                  zorder=1, label=f"cohort {outcome} median" if label else None)


def _draw_metric(
    ax: Axes, mine: pd.DataFrame, cohort: pd.DataFrame, metric: str, sources: Sequence[str],
    fractions: dict, min_cells: int, position: dict,
) -> int:
    """Draw one metric; return how many of the patient's values were hidden."""
    hidden = 0
    columns = [metric] if metric in cohort else [f"frac_{metric}_{s}" for s in sources]
    columns = [c for c in columns if c in cohort]
    for column in columns[:1]:
        enough = _enough(cohort, column, fractions, min_cells)
        _draw_medians(ax, _cohort_medians(cohort, column, enough, position))
    for column in columns:
        source = column.rsplit("_", 1)[-1]
        style, marker, _ = SOURCES.get(source, ("-", "o", ""))
        color = BCR_COLOR if source == "bcr" else PATIENT_COLOR
        enough = _enough(mine, column, fractions, min_cells) & mine[column].notna()
        hidden += int((~enough & mine[column].notna()).sum())
        if not enough.any():
            continue
        shown = mine[enough].sort_values(K.DAY)
        x = shown[K.TIMEPOINT].map(position).to_numpy(dtype=float)
        x = x + (0.08 if source == "bcr" else 0.0)
        value = shown[column].to_numpy(dtype=float)
        err = np.clip(np.vstack([value - shown[f"{column}_lo"].to_numpy(dtype=float),
                                 shown[f"{column}_hi"].to_numpy(dtype=float) - value]), 0, None)
        ax.errorbar(x, value, yerr=err, linestyle=style, marker=marker, color=color,
                    markersize=4, capsize=2, linewidth=1.2, zorder=3)
    return hidden


@doc_params
def reconstitution_timeline(
    adata: AnnData,
    patient: str,
    *,
    tissue: str = "blood",
    min_cells: int = 10,
    sources: Sequence[str] = ("tx", "bcr"),
    key: str = K.RECONSTITUTION,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw one patient's B-cell reconstitution per timepoint, for a printed page.

    Six small panels share ordered timepoint categories (not a day axis, which crowds the
    early visits): B cells per 1000 cells, then the naive, memory, switched, double-negative
    and plasma fractions, from the transcriptome (black, solid) and the BCR (orange, dashed),
    with Wilson 95% intervals. A value resting on fewer than ``min_cells`` cells (its
    denominator) is not drawn. Behind the patient run the cohort's remission (blue) and relapse
    (red) medians per timepoint, of values with enough cells. One legend sits below.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.reconstitution`.
    patient
        The ``patient_id`` to draw.
    tissue
        Samples of this tissue are drawn.
    min_cells
        Fewest cells behind a fraction for it to be drawn or enter a median.
    sources
        Which fractions to draw: ``tx`` (transcriptome) and/or ``bcr``.
    key
        Key of the reconstitution results in ``.uns``.
    ax
        Six axes to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    samples = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.reconstitution")
    fractions, cohort, mine, order = _patient_and_cohort(adata, samples, key, patient, tissue)
    position = {t: i for i, t in enumerate(order)}
    sources = [s for s in sources if any(
        mine.get(f"frac_{m}_{s}", pd.Series(dtype=float)).notna().any()
        for m, _ in TIMELINE_PANELS)]
    fig, axes, owned = panels(ax, len(TIMELINE_PANELS), (9.0, 5.4), ncols=3)
    hidden = 0
    for axis, (metric, title) in zip(axes, TIMELINE_PANELS, strict=True):
        hidden += _draw_metric(axis, mine, cohort, metric, sources, fractions, min_cells,
                               position)
        axis.set_title(title, fontsize="medium")
        axis.set_xticks(range(len(order)))
        axis.set_xticklabels(order, fontsize="small", rotation=30 if len(order) > 6 else 0)
        axis.set_xlim(-0.5, len(order) - 0.5)
        axis.tick_params(axis="y", labelsize="small")
        axis.grid(axis="y", color="#eeeeee", linewidth=0.6)
        if metric == "B_per_1000":
            axis.set_ylim(bottom=0)
            for _, row in mine[mine["aplasia"].astype(bool)].iterrows():
                x = position[row[K.TIMEPOINT]]
                axis.axvspan(x - 0.4, x + 0.4, color="#eeeeee", zorder=0)
        else:
            axis.set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("fraction of B cells", fontsize="small")
    axes[4].set_ylabel("fraction of B cells", fontsize="small")
    handles = [Line2D([], [], color=PATIENT_COLOR, marker="o", markersize=4,
                      label=f"{patient} transcriptome")] if "tx" in sources else []
    if "bcr" in sources:
        handles.append(Line2D([], [], color=BCR_COLOR, marker="s", markersize=4, linestyle="--",
                              label=f"{patient} BCR"))
    handles += [Line2D([], [], color=OUTCOME_COLORS[o], alpha=0.35, linewidth=5,
                       label=f"cohort {o} median") for o in ("remission", "relapse")]
    handles.append(Line2D([], [], color="#eeeeee", linewidth=8, label="aplasia"))
    note = f"values on fewer than {min_cells} cells hidden" + (f" ({hidden})" if hidden else "")
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize="small",
               frameon=False, title=note, title_fontsize="x-small")
    finish(fig, show=show, save=save, owned=owned)
    return fig


@doc_params
def car_kinetics(
    adata: AnnData,
    patient: str,
    *,
    tissue: str = "blood",
    min_cells: int = 10,
    key: str = K.RECONSTITUTION,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw one patient's CAR-detected share of T cells per timepoint beside the cohort's.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.reconstitution` (with CAR detection).
    patient
        The ``patient_id`` to draw.
    tissue
        Samples of this tissue are drawn.
    min_cells
        Fewest T cells behind a value for it to be drawn or enter a median.
    key
        Key of the reconstitution results in ``.uns``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    samples = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.reconstitution")
    if "frac_car" not in samples:
        raise InputError(f".uns['{key}']['samples'] has no CAR fraction; run detect_car first.")
    fractions, cohort, mine, order = _patient_and_cohort(adata, samples, key, patient, tissue)
    position = {t: i for i, t in enumerate(order)}
    fig, (ax,), owned = panels(ax, 1, (9.0, 2.6))
    enough = _enough(cohort, "frac_car", fractions, min_cells)
    _draw_medians(ax, _cohort_medians(cohort, "frac_car", enough, position), label=True)
    shown = mine[_enough(mine, "frac_car", fractions, min_cells) & mine["frac_car"].notna()]
    if not shown.empty:
        shown = shown.sort_values(K.DAY)
        value = shown["frac_car"].to_numpy(dtype=float)
        err = np.clip(np.vstack([value - shown["frac_car_lo"].to_numpy(dtype=float),
                                 shown["frac_car_hi"].to_numpy(dtype=float) - value]), 0, None)
        ax.errorbar(shown[K.TIMEPOINT].map(position), value, yerr=err, marker="o",
                    color=PATIENT_COLOR, markersize=4, capsize=2, label=str(patient))
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, fontsize="small")
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("CAR+ fraction\nof T cells", fontsize="small")
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    finish(fig, show=show, save=save, owned=owned)
    return ax
