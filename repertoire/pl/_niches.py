"""Niches: scores per sample and niche, and the ligand-receptor pairs behind them."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import require_result
from ._utils import NAN_COLOR, OUTCOME_COLORS, finish, panels, timepoint_order

SPECIFIC_P = 0.05
# the heatmap's columns get labels up to this many samples; its width stops growing at this
MAX_LABELLED_SAMPLES, MAX_HEATMAP_WIDTH = 40, 11.0


@doc_params
def niche_heatmap(
    adata: AnnData,
    *,
    value: str = "score",
    key: str = K.NICHE_SCORES,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw every sample's niche scores as a heatmap: niches in rows, samples in columns.

    Samples are grouped by patient (a label and a separator per patient) and ordered by day;
    the strip above the columns gives each patient's outcome. Each niche's row is scaled to
    its largest value, so that rows of different units compare; grey cells are samples that
    cannot hold the niche (another tissue). Column labels give timepoint and tissue; beyond
    40 samples the columns are too narrow to label, only patients are named, and the figure
    stays 11 inches wide.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_scores`.
    value
        Column of the niche table to draw (``score``, ``expression``, ``strength``, ...).
    key
        Key of the niche scores in ``.uns``.
    {plot}

    Returns
    -------
    The axes of the heatmap.
    """
    table = require_result(adata, key, K.TABLE_SAMPLES, "repertoire.tl.niche_scores")
    if value not in table:
        raise InputError(f"column '{value}' is not in .uns['{key}']['{K.TABLE_SAMPLES}'].")
    samples = _sample_order(table)
    niches = list(pd.unique(table["niche"].astype(str)))
    grid = (table.assign(niche=table["niche"].astype(str), sample=table[K.SAMPLE].astype(str))
            .pivot_table(index="niche", columns="sample", values=value, aggfunc="first",
                         dropna=False)
            .reindex(index=niches, columns=samples[K.SAMPLE]))
    top = grid.abs().max(axis=1).replace(0, np.nan)
    scaled = grid.div(top, axis=0).to_numpy(dtype=float)
    labelled = len(samples) <= MAX_LABELLED_SAMPLES
    width = min(max(7.0, 3.0 + 0.16 * len(samples)), MAX_HEATMAP_WIDTH)
    fig, (ax,), owned = panels(ax, 1, (width, 1.6 + 0.42 * len(niches)))
    cmap = ListedColormap(_viridis()).with_extremes(bad=NAN_COLOR)
    image = ax.imshow(np.ma.masked_invalid(scaled), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
    ax.set_yticks(range(len(niches)))
    ax.set_yticklabels(niches)
    if labelled:
        ax.set_xticks(range(len(samples)))
        ax.set_xticklabels(_short_labels(samples), rotation=90,
                           fontsize=max(4.0, min(8.0, 600 / max(len(samples), 1))))
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(samples)} samples: each patient's by day")
    _patient_bands(ax, samples, fontsize="x-small" if labelled else "small")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.01)
    colorbar.set_label(f"{value} / niche maximum")
    ax.set_title(f"niche {value} per sample", fontsize="medium", loc="left", pad=30)
    finish(fig, show=show, save=save, owned=owned)
    return ax


def _viridis() -> np.ndarray:
    import matplotlib.pyplot as plt

    return plt.get_cmap("viridis")(np.linspace(0, 1, 256))


def _sample_order(table: pd.DataFrame) -> pd.DataFrame:
    """One row per sample, ordered by patient, day and tissue."""
    columns = [c for c in (K.PATIENT, K.DAY, K.TISSUE, K.TIMEPOINT, K.OUTCOME) if c in table]
    samples = table[[K.SAMPLE, *columns]].drop_duplicates(K.SAMPLE)
    samples = samples.astype({c: str for c in (K.SAMPLE, K.PATIENT, K.TISSUE, K.TIMEPOINT,
                                               K.OUTCOME) if c in samples})
    order = [c for c in (K.PATIENT, K.DAY, K.TISSUE) if c in samples] + [K.SAMPLE]
    return samples.sort_values(order, kind="stable").reset_index(drop=True)


def _short_labels(samples: pd.DataFrame) -> list[str]:
    if K.TIMEPOINT not in samples:
        return samples[K.SAMPLE].tolist()
    tissue = samples.get(K.TISSUE, pd.Series("", index=samples.index))
    short = tissue.map({"blood": "PB", "bone_marrow": "BM"}).fillna(tissue)
    return [f"{t} {s}".strip() for t, s in zip(samples[K.TIMEPOINT], short, strict=True)]


def _patient_bands(ax: Axes, samples: pd.DataFrame, *, fontsize: str = "x-small") -> None:
    """Patient names and outcome colours above the columns, separators between patients."""
    if K.PATIENT not in samples:
        return
    patients = samples[K.PATIENT].to_numpy()
    starts = np.flatnonzero(np.r_[True, patients[1:] != patients[:-1]])
    ends = np.r_[starts[1:], len(patients)]
    transform = ax.get_xaxis_transform()
    for start, end in zip(starts, ends, strict=True):
        if start:
            ax.axvline(start - 0.5, color="white", linewidth=2)
        outcome = samples[K.OUTCOME].iloc[start] if K.OUTCOME in samples else "unknown"
        color = OUTCOME_COLORS.get(outcome, OUTCOME_COLORS["unknown"])
        ax.plot([start - 0.4, end - 0.6], [1.02, 1.02], color=color, linewidth=5,
                transform=transform, clip_on=False, solid_capstyle="butt")
        ax.text((start + end - 1) / 2, 1.05, str(patients[start]), transform=transform,
                ha="center", va="bottom", fontsize=fontsize)
    present = [o for o in OUTCOME_COLORS if K.OUTCOME in samples
               and o in set(samples[K.OUTCOME])]
    handles = [Line2D([], [], color=OUTCOME_COLORS[o], linewidth=5, label=o) for o in present]
    handles.append(Patch(color=NAN_COLOR, label="tissue cannot hold the niche"))
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.09),
              ncol=len(handles), frameon=False, fontsize="x-small")


@doc_params
def interactions(
    adata: AnnData,
    *,
    sample: str | None = None,
    niche: str | None = None,
    n_top: int = 25,
    communication_key: str = K.COMMUNICATION,
    niche_key: str = K.NICHE_SCORES,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw a ligand-receptor dot plot: sender-receiver pairs by interactions.

    Each dot is one interaction (row) between a sender and a receiver cell type (column): its
    size the smaller of the ligand's and the receptor's expressing fractions, its colour the
    CellPhoneDB statistic (``mean``); a black ring marks a pair specific to its groups within
    its sample (within-sample p at most 0.05). Only tested pairs are drawn. Over several
    samples, each dot averages the samples in which the pair was tested. The ``n_top`` rows
    and columns with the largest statistics are kept.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.communication`.
    sample
        Draw this ``sample_id`` only; all samples when ``None``.
    niche
        Keep the senders, receivers and interactions of this niche (as recorded by
        :func:`repertoire.tl.niche_scores`).
    n_top
        Most interactions and most sender-receiver pairs shown.
    communication_key
        Key of the communication results in ``.uns``.
    niche_key
        Key of the niche scores in ``.uns`` (read when ``niche`` is given).
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    pairs = require_result(adata, communication_key, K.TABLE_INTERACTIONS,
                           "repertoire.tl.communication")
    pairs = pairs[pairs["tested"].astype(bool)]
    title = "all samples" if sample is None else str(sample)
    if sample is not None:
        if K.SAMPLE not in pairs or str(sample) not in set(pairs[K.SAMPLE].astype(str)):
            raise InputError(f"sample '{sample}' has no tested interaction in "
                             f".uns['{communication_key}'].")
        pairs = pairs[pairs[K.SAMPLE].astype(str) == str(sample)]
    if niche is not None:
        definitions = require_result(adata, niche_key, K.PARAMS,
                                     "repertoire.tl.niche_scores")["niches"]
        if niche not in definitions:
            raise InputError(f"niche '{niche}' is not one of {', '.join(definitions)}.")
        definition = definitions[niche]
        wanted = {tuple(p) for p in definition["interactions"]}
        named = np.array([(str(lig).upper(), str(rec).upper()) in wanted
                          for lig, rec in zip(pairs["ligand"], pairs["receptor"], strict=True)],
                         dtype=bool)
        keep = (pairs["source"].astype(str).isin(definition["senders"]).to_numpy()
                & pairs["target"].astype(str).isin(definition["receivers"]).to_numpy() & named)
        pairs = pairs[keep]
        title += f", niche {niche.replace('_', ' ')}"
    if pairs.empty:
        params = adata.uns[communication_key].get(K.PARAMS, {})
        fig, (ax,), owned = panels(ax, 1, (7.0, 1.6))
        ax.text(0.5, 0.5, "no ligand-receptor pair was tested: a test needs a sender and a "
                f"receiver cell type\nof at least {params.get('min_cells')} cells each, with each "
                f"side expressed in at least {params.get('min_fraction', 0):.0%} of them",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, fontsize="medium")
        finish(fig, show=show, save=save, owned=owned)
        return ax
    fig, (ax,), owned = panels(ax, 1, (7.0, 5.0))
    pairs = pairs.assign(
        pair=pairs["source"].astype(str) + " \u2192 " + pairs["target"].astype(str),
        label=pairs["ligand"].astype(str) + " \u2013 " + pairs["receptor"].astype(str),
        size=np.minimum(pairs["ligand_fraction"], pairs["receptor_fraction"]),
        specific=pairs["pvalue"] <= SPECIFIC_P,
    )
    dots = pairs.groupby(["label", "pair"], observed=True).agg(
        mean=("mean", "mean"), size=("size", "mean"), specific=("specific", "mean"),
    ).reset_index()
    columns = dots.groupby("pair")["mean"].max().sort_values(ascending=False).index[:n_top]
    dots = dots[dots["pair"].isin(columns)]
    rows = dots.groupby("label")["mean"].max().sort_values(ascending=False).index[:n_top]
    dots = dots[dots["label"].isin(rows)]
    rows, columns = sorted(rows), sorted(set(dots["pair"]))
    x = dots["pair"].map({c: i for i, c in enumerate(columns)})
    y = dots["label"].map({r: i for i, r in enumerate(rows)})
    fig.set_size_inches(max(5.0, 2.8 + 0.32 * len(columns)), max(3.5, 1.8 + 0.28 * len(rows)))
    points = ax.scatter(x, y, s=20 + 180 * dots["size"], c=dots["mean"], cmap="viridis",
                        edgecolors=np.where(dots["specific"] >= 0.5, "black", "none"),
                        linewidths=1.0)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=90, fontsize="small")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize="small")
    ax.set_xlim(-0.7, len(columns) - 0.3)
    ax.set_ylim(len(rows) - 0.3, -0.7)
    ax.grid(color="#eeeeee", linewidth=0.5)
    ax.set_axisbelow(True)
    fig.colorbar(points, ax=ax, location="top", shrink=0.6, aspect=18, pad=0.02,
                 label="mean (ligand, receptor)")
    handles = [Line2D([], [], marker="o", linestyle="", color="grey",
                      markersize=np.sqrt(20 + 180 * f), label=f"{f:.0%} expressing")
               for f in (0.1, 0.5, 1.0)]
    handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                          markeredgecolor="black", markersize=8,
                          label=f"specific (p \u2264 {SPECIFIC_P:g} in its sample)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
              fontsize="x-small", labelspacing=1.2, borderpad=0.8)
    fig.suptitle(f"ligand-receptor pairs ({title})", fontsize="medium")
    finish(fig, show=show, save=save, owned=owned)
    return ax


@doc_params
def niche_outcomes(
    adata: AnnData,
    feature: str = "T_B_help",
    *,
    family: str = "niche",
    measure: str = "score",
    key: str = K.NICHE_OUTCOMES,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw one niche measure patient by patient, relapse against remission, at every visit.

    One panel per tissue; in each, one point per patient and timepoint (the patient's value
    there, as the test used it), coloured by outcome, with each outcome's median as a bar.
    Above each timepoint stands the exact p of relapse against remission and, in brackets, the
    smallest p these patients allow: with 2 relapses among 11 patients nothing is below 1/55.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_outcomes`.
    feature
        The niche (or programme, or neighbourhood) to draw.
    family
        Its family: ``niche``, ``programme``, ``plasma_cells_near_senders`` or
        ``neighbourhood``.
    measure
        The measure (``score``, ``expression``, ``strength``, ...).
    key
        Key of the niche outcomes in ``.uns``.
    ax
        One axes per tissue to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    patients = require_result(adata, key, K.TABLE_PATIENTS, "repertoire.tl.niche_outcomes")
    tests = require_result(adata, key, K.TABLE_OUTCOMES, "repertoire.tl.niche_outcomes")
    mine = patients[(patients["family"] == family) & (patients["feature"] == feature)
                    & (patients["measure"] == measure)]
    if mine.empty:
        raise InputError(f"no {family} '{feature}' with measure '{measure}' in "
                         f".uns['{key}']['{K.TABLE_PATIENTS}'].")
    tests = tests[(tests["family"] == family) & (tests["feature"] == feature)
                  & (tests["measure"] == measure)]
    tissues = sorted(mine[K.TISSUE].astype(str).unique()) if K.TISSUE in mine else [""]
    order = ([str(t) for t in timepoint_order(adata.obs)]
             if {K.TIMEPOINT, K.DAY} <= set(adata.obs) else [])
    # timepoints of the results whose cells are no longer in .obs (a subset) come last
    order += [t for t in dict.fromkeys(mine[K.TIMEPOINT].astype(str)) if t not in order]
    fig, axes, owned = panels(
        ax, len(tissues), (max(5.5, 2.0 + 0.75 * len(order) * len(tissues)), 4.4),
        ncols=len(tissues),
    )
    rng = np.random.default_rng(0)
    for tissue, axis in zip(tissues, axes, strict=True):
        rows = mine[mine[K.TISSUE].astype(str) == tissue] if tissue else mine
        present = [t for t in order if t in set(rows[K.TIMEPOINT].astype(str))]
        position = {t: i for i, t in enumerate(present)}
        x = rows[K.TIMEPOINT].astype(str).map(position).to_numpy(dtype=float)
        for outcome, color in OUTCOME_COLORS.items():
            chosen = (rows[K.OUTCOME].astype(str) == outcome).to_numpy()
            if not chosen.any():
                continue
            axis.scatter(x[chosen] + rng.uniform(-0.15, 0.15, chosen.sum()),
                         rows.loc[chosen, "value"], s=22, color=color, alpha=0.8,
                         edgecolors="white", linewidths=0.5, label=outcome, zorder=3)
            medians = rows[chosen].groupby(rows.loc[chosen, K.TIMEPOINT].astype(str))[
                "value"].median()
            for timepoint, median in medians.items():
                axis.hlines(median, position[timepoint] - 0.3, position[timepoint] + 0.3,
                            color=color, linewidth=2, zorder=2)
        here = tests[tests[K.TISSUE].astype(str) == tissue] if tissue else tests
        for _, test in here.iterrows():
            if str(test[K.TIMEPOINT]) in position:
                axis.text(position[str(test[K.TIMEPOINT])], 1.01,
                          f"p={test['p']:.2g}\n({test['p_min']:.2g})",
                          transform=axis.get_xaxis_transform(), ha="center", va="bottom",
                          fontsize="x-small")
        axis.set_xticks(range(len(present)))
        axis.set_xticklabels(present, rotation=45, ha="right")
        axis.set_xlim(-0.6, len(present) - 0.4)
        axis.set_title(tissue.replace("_", " "), fontsize="medium", pad=24)
        axis.set_ylabel(f"{feature} {measure}")
    axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                    frameon=False, title="outcome", title_fontsize="small")
    fig.suptitle(f"{family} {feature}: one point per patient\n"
                 "above each visit: exact p (in brackets the smallest p these patients allow)",
                 fontsize="medium")
    finish(fig, show=show, save=save, owned=owned)
    return fig
