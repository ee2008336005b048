"""The cohort's self-contained HTML report: the two findings, outcome statistics, every flag."""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .. import get, pl
from .._logging import logger
from .._utils import require_obs
from ..io import atomic_path, write_table
from . import _methods
from ._flags import Flag, compute_flags, thresholds
from ._html import figure_uri, number, render
from ._names import page_name
from ._patient import STYLE
from ._sections import Section, append_rows, fetch, of_patient, samples_without_cells

#: Reconstitution measures of the first finding, in the order of its table.
RESET_METRICS = ("frac_naive_tx", "frac_memory_tx", "frac_naive_bcr", "frac_memory_bcr",
                 "B_per_1000")
METRIC_NAMES = {"frac_naive_tx": "naive (transcriptome)",
                "frac_memory_tx": "memory (transcriptome)", "frac_naive_bcr": "naive (BCR)",
                "frac_memory_bcr": "memory (BCR)",
                "B_per_1000": "B cells per 1000"}
MAX_ROWS = 25
FLAG_TABLE = "flags.tsv"


def cohort_report(
    adata: AnnData,
    path: str | os.PathLike,
    *,
    patient_pages: Mapping[str, str] | None = None,
    min_cells: int = 10,
    flags: Mapping[str, float] | None = None,
) -> Path:
    """Write the cohort's report: a self-contained HTML page and the table of every flag.

    The page states the study's two findings with their evidence, drawn from the results:
    whether returning B cells were naive-dominant in remission (per patient, and relapse
    against remission per timepoint with the exact p beside the smallest p the design allows)
    and which niches distinguish relapse (the niche outcome tests, ranked). A table lays
    the per-patient flags side by side, each patient linking to their page; the methods give
    every parameter and package version. ``flags.tsv`` beside the page holds one row per flag.

    Parameters
    ----------
    adata
        The analysed cohort (at least annotated, with :func:`repertoire.tl.reconstitution`;
        niche results add the second finding).
    path
        The HTML file to write.
    patient_pages
        Link of each patient's report, relative to ``path``; by default
        ``{patient_id}.html`` beside it (as the workflow writes them). An empty mapping
        links no page.
    min_cells
        Fewest cells behind a fraction for it to count (as in the patient reports).
    flags
        Thresholds overriding :data:`repertoire.report.FLAG_THRESHOLDS`.

    Returns
    -------
    The path of the HTML file. Both files are written atomically.
    """
    require_obs(adata, K.PATIENT, K.SAMPLE, K.TIMEPOINT, K.DAY, K.TISSUE)
    limits = thresholds(flags)
    lost = samples_without_cells(adata)
    patients = _patients(adata, lost)
    links = ({p: page_name(p) for p in patients[K.PATIENT]} if patient_pages is None
             else {str(k): v for k, v in patient_pages.items()})
    path = Path(path)
    with mpl.rc_context(STYLE):
        found = _all_flags(adata, patients[K.PATIENT], min_cells=min_cells, limits=limits)
        sections = [
            _overview(adata, patients, found, links, lost),
            _reset(adata, min_cells=min_cells),
            _niches(adata),
            _flag_table(patients, found, links),
        ]
    timestamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    html = render(
        "cohort.html.j2", sections=sections, n_patients=len(patients),
        n_samples=int(patients["n_samples"].sum()), n_cells=adata.n_obs,
        outcomes=patients[K.OUTCOME].value_counts().sort_index().to_dict(),
        rules=_methods.flag_rules(limits, min_cells), steps=_methods.parameters(adata),
        versions=_methods.versions(), flags_name=FLAG_TABLE, timestamp=timestamp,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    write_table(_flag_rows(found), path.parent / FLAG_TABLE)
    logger.info("wrote %s (%.0f kB) and %s", path, len(html.encode()) / 1024,
                path.parent / FLAG_TABLE)
    return path


def _patients(adata: AnnData, lost: pd.DataFrame) -> pd.DataFrame:
    """One row per patient: outcome, samples (those without cells after QC included), cells."""
    obs = adata.obs
    outcome = (obs[K.OUTCOME].astype(str) if K.OUTCOME in obs
               else pd.Series("not recorded", index=obs.index))
    table = pd.DataFrame({K.PATIENT: obs[K.PATIENT].astype(str), K.OUTCOME: outcome,
                          K.SAMPLE: obs[K.SAMPLE].astype(str), "n_cells": 1})
    table = append_rows(table, lost)
    patients = table.groupby(K.PATIENT, sort=True).agg(
        outcome=(K.OUTCOME, "first"), n_samples=(K.SAMPLE, "nunique"),
        n_cells=("n_cells", "sum")).reset_index()
    return patients.rename(columns={"outcome": K.OUTCOME})


def _all_flags(adata: AnnData, patients: pd.Series, *, min_cells: int,
               limits: Mapping[str, float]) -> dict[str, list[Flag]]:
    recon = fetch(get.reconstitution, adata)
    clones = fetch(get.clone_tracking, adata, "clones")
    scores = fetch(get.niche_scores, adata)
    found = {}
    for patient in patients:
        samples = of_patient(recon, patient) if recon is not None else pd.DataFrame()
        found[patient] = compute_flags(patient, samples=samples,
                                       clones=of_patient(clones, patient), niche_scores=scores,
                                       min_cells=min_cells, flags=limits)
    return found


def _flag_rows(found: Mapping[str, list[Flag]]) -> pd.DataFrame:
    rows = [{K.PATIENT: patient, "flag": flag.name, "where": flag.short, "text": flag.text}
            for patient, flags in found.items() for flag in flags]
    return pd.DataFrame(rows, columns=[K.PATIENT, "flag", "where", "text"])


def _link(patient: str, links: Mapping[str, str]) -> dict:
    return {"text": patient, "href": links.get(patient, "")}


# ---------------------------------------------------------------- overview


def _overview(adata: AnnData, patients: pd.DataFrame, found: Mapping[str, list[Flag]],
              links: Mapping[str, str], lost: pd.DataFrame) -> Section:
    section = Section("patients", "Patients")
    columns = [K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE]
    visits = append_rows(adata.obs[columns], lost).astype(
        {K.PATIENT: str, K.TIMEPOINT: str, K.TISSUE: str}).drop_duplicates()
    rows = []
    for _, patient in patients.iterrows():
        mine = visits[visits[K.PATIENT] == patient[K.PATIENT]].sort_values(K.DAY)
        rows.append([_link(patient[K.PATIENT], links), patient[K.OUTCOME], patient["n_samples"],
                     patient["n_cells"], ", ".join(dict.fromkeys(mine[K.TIMEPOINT])),
                     ", ".join(sorted(set(mine[K.TISSUE]))), len(found[patient[K.PATIENT]])])
    section.tables.append({
        "columns": ["patient", "outcome", "samples", "cells", "timepoints", "tissues", "flags"],
        "rows": rows,
        "caption": "Each patient's name opens their report.",
    })
    if len(lost):
        which = ("One sample had no cell pass quality control and is" if len(lost) == 1 else
                 f"{len(lost)} samples had no cell pass quality control and are")
        section.notes.append(f"{which} left out of every measure: {', '.join(lost[K.SAMPLE])}.")
    return section


# ---------------------------------------------------------------- finding 1: the reset


def _last_return(samples: pd.DataFrame, *, min_cells: int, tissue: str) -> pd.DataFrame:
    """Each patient's last post-infusion sample of ``tissue`` with enough B cells."""
    rows = samples[(samples[K.DAY].astype(float) > 0) & (samples[K.TISSUE].astype(str) == tissue)
                   & (samples["n_B_tx"] >= min_cells)]
    return rows.sort_values(K.DAY).groupby(K.PATIENT, observed=True).tail(1)


def _best(outcomes: pd.DataFrame, metric: str, tissue: str) -> pd.Series | None:
    rows = outcomes[(outcomes["metric"] == metric) & (outcomes[K.TISSUE].astype(str) == tissue)
                    & outcomes["p"].notna() & (outcomes["n_case"] > 0)
                    & (outcomes["n_control"] > 0)]
    if rows.empty:
        return None
    return rows.sort_values(["p", "n_control"], ascending=[True, False]).iloc[0]


def _test_words(row: pd.Series) -> str:
    verdict = ("" if row["p"] <= 0.05 else
               "; not distinguishable at this cohort size" if row["p_min"] > 0.05 else
               "; not significant")
    return (f"exact p = {number(row['p'])}, smallest attainable p = {number(row['p_min'])}, "
            f"{int(row['n_case'])} relapsing against {int(row['n_control'])} remitting "
            f"patients{verdict}")


def _reset(adata: AnnData, *, min_cells: int) -> Section:
    section = Section("reset", "Finding 1: naive-dominant B-cell return in remission")
    samples = fetch(get.reconstitution, adata)
    if samples is None:
        section.notes.append("Reconstitution not computed (run repertoire.tl.reconstitution).")
        return section
    outcomes = get.reconstitution(adata, "outcomes")
    tissue = "blood" if (samples[K.TISSUE].astype(str) == "blood").any() else str(
        samples[K.TISSUE].iloc[0])
    last = _last_return(samples, min_cells=min_cells, tissue=tissue)
    for outcome in ("remission", "relapse"):
        group = last[last[K.OUTCOME].astype(str) == outcome]
        if group.empty:
            continue
        naive = int((group["frac_naive_tx"] > group["frac_memory_tx"]).sum())
        section.statements.append(
            f"{naive} of {len(group)} {outcome} patient(s) returned naive-dominant: at their last "
            f"{tissue} sample with at least {min_cells} B cells, naive B cells outnumbered memory "
            f"B cells (median naive fraction {group['frac_naive_tx'].median():.0%}, memory "
            f"{group['frac_memory_tx'].median():.0%}).")
    if last.empty:
        section.notes.append(f"No patient has a post-infusion {tissue} sample with at least "
                             f"{min_cells} B cells: no B-cell return to describe yet.")
    best = _best(outcomes, "frac_naive_tx", tissue)
    if best is not None:
        section.statements.append(
            f"Relapse against remission, naive fraction of {tissue} B cells: clearest at "
            f"{best[K.TIMEPOINT]}, mean {best['mean_control']:.0%} in remission against "
            f"{best['mean_case']:.0%} in relapse (difference of empirical logits "
            f"{number(best['effect'])}, 95% patient-bootstrap interval "
            f"{number(best['effect_lo'])} to {number(best['effect_hi'])}; "
            f"{_test_words(best)}).")
    for metric in ("frac_naive_tx", "frac_naive_bcr"):
        if metric in samples and samples[metric].notna().any():
            ax = pl.reconstitution_cohort(adata, metric=metric, tissue=tissue,
                                          min_cells=min_cells, show=False)
            section.figures.append({
                "uri": figure_uri(ax.figure), "alt": f"{METRIC_NAMES[metric]} by outcome",
                "caption": f"{METRIC_NAMES[metric][0].upper()}{METRIC_NAMES[metric][1:]} fraction "
                           f"of {tissue} B cells per "
                           "patient over time (thin lines), outcome medians (thick); above each "
                           "timepoint the exact p of relapse against remission and the smallest "
                           f"p the design allows. Hollow: fewer than {min_cells} B cells.",
            })
    section.tables.append(_outcome_table(
        outcomes[outcomes["metric"].isin(RESET_METRICS)], ["metric"],
        lambda row: METRIC_NAMES.get(row["metric"], row["metric"]),
        title="Reconstitution: relapse against remission",
        full="tables/reconstitution_outcomes.tsv"))
    return section


def _outcome_table(outcomes: pd.DataFrame, order: list[str], name, *, title: str,
                   full: str) -> dict:
    """Rows of an outcome table: measure, where, group sizes and means, effect, p, p_min, q."""
    outcomes = outcomes.sort_values(["p", *order, K.TISSUE, K.TIMEPOINT])
    rows = [[name(row), row[K.TISSUE], row[K.TIMEPOINT],
             *[number(row[c], 2) for c in ("p", "p_min", "q")],
             f"{int(row['n_case'])} / {int(row['n_control'])}",
             f"{number(row['mean_case'], 2)} / {number(row['mean_control'], 2)}",
             f"{number(row['effect'], 2)} ({number(row['effect_lo'], 2)} to "
             f"{number(row['effect_hi'], 2)})"]
            for _, row in outcomes.head(MAX_ROWS).iterrows()]
    shown = (f"the {MAX_ROWS} smallest p of {len(outcomes)} tests; every test in {full}"
             if len(outcomes) > MAX_ROWS else f"all {len(outcomes)} tests (also in {full})")
    return {
        "title": title,
        "columns": ["measure", "tissue", "timepoint", "p", "p_min", "q",
                    "patients (relapse / remission)", "mean (relapse / remission)",
                    "effect (95% CI)"],
        "rows": rows,
        "caption": f"One value per patient; exact p over every relabelling of the patients "
                   f"beside the smallest p these group sizes allow (p_min); q: Benjamini-Hochberg; "
                   f"effect: difference relapse minus remission (of empirical logits for "
                   f"fractions) with a patient-bootstrap interval. Sorted by p: {shown}.",
    }


# ---------------------------------------------------------------- finding 2: relapse niches


def _niches(adata: AnnData) -> Section:
    section = Section("niches", "Finding 2: interaction niches of relapse")
    outcomes = fetch(get.niche_outcomes, adata)
    if outcomes is None:
        section.notes.append("Niche outcomes not computed (run repertoire.tl.niche_scores and "
                             "repertoire.tl.niche_outcomes).")
        return section
    tested = outcomes[outcomes["p"].notna() & (outcomes["n_case"] > 0)
                      & (outcomes["n_control"] > 0)]
    higher = tested[tested["effect"] > 0].sort_values(["p", "rank"])
    if tested.empty:
        section.notes.append("No niche measure could be compared: relapsing and remitting "
                             "patients were never sampled at the same timepoint and tissue.")
    elif higher.empty or higher["p"].iloc[0] > 0.05:
        section.statements.append(
            "No niche measure was higher in relapse at p ≤ 0.05 "
            f"(smallest p the design allows: {number(tested['p_min'].min())}).")
    else:
        for _, row in higher[higher["p"] <= 0.05].head(3).iterrows():
            section.statements.append(
                f"{row['feature']} ({row['family']}, {row['measure']}) was higher in relapse at "
                f"{row[K.TIMEPOINT]} ({row[K.TISSUE]}): mean {number(row['mean_case'])} against "
                f"{number(row['mean_control'])} in remission ({_test_words(row)}).")
    niches = tested[tested["family"] == "niche"].sort_values(["p", "rank"])
    if not niches.empty:
        top = str(niches["feature"].iloc[0])
        section.figures.append({
            "uri": figure_uri(pl.niche_outcomes(adata, top, show=False)),
            "alt": f"{top} by outcome",
            "caption": f"The niche with the smallest p, {top}: one point per patient and visit, "
                       "outcome medians as bars; above each timepoint the exact p and, in "
                       "brackets, the smallest p the design allows.",
        })
    scores = fetch(get.niche_scores, adata)
    if scores is not None and scores["score"].notna().any():
        section.figures.append({
            "uri": figure_uri(pl.niche_heatmap(adata, show=False).figure),
            "alt": "niche scores per sample",
            "caption": "Every sample's niche scores (rows scaled to their maximum), samples "
                       "grouped by patient and ordered by day; the strip gives each outcome.",
        })
    main = tested[(tested["family"] != "niche") | (tested["measure"] == "score")]
    section.tables.append(_outcome_table(
        main, ["family", "feature"],
        lambda row: f"{row['feature']} ({row['family']}: {row['measure']})",
        title="Niche scores, programmes and spatial measures: relapse against remission "
              "(the parts of each niche score are in the full table)",
        full="tables/niche_outcomes.tsv"))
    return section


# ---------------------------------------------------------------- flags side by side


def _flag_table(patients: pd.DataFrame, found: Mapping[str, list[Flag]],
                links: Mapping[str, str]) -> Section:
    section = Section("flags", "Flags per patient")
    kinds = list(dict.fromkeys(f.name for flags in found.values() for f in flags))
    if not kinds:
        section.notes.append("No flag raised in any patient (rules in Methods).")
        return section
    order = patients.assign(_relapse=patients[K.OUTCOME] != "relapse").sort_values(
        ["_relapse", K.PATIENT])
    rows = []
    for _, patient in order.iterrows():
        mine = found[patient[K.PATIENT]]
        cells = []
        for kind in kinds:
            flags = [f for f in mine if f.name == kind]
            cells.append({"text": "; ".join(f.short or "yes" for f in flags) or "–",
                          "title": " | ".join(f.text for f in flags)})
        rows.append([_link(patient[K.PATIENT], links), patient[K.OUTCOME], *cells])
    section.tables.append({
        "columns": ["patient", "outcome", *[k.replace("_", " ").replace(":", ": ")
                                            for k in kinds]],
        "rows": rows, "class": "flags-table",
        "caption": f"Relapsing patients first. Hover a cell for the flag's sentence; every flag "
                   f"with its sentence is in {FLAG_TABLE}.",
    })
    return section

