"""The sections of a patient report.

Each reads tables through :mod:`repertoire.get` and returns what its template part shows, its
sentences for absent data, and its tidy summary rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .. import get, pl
from .._errors import InputError
from .._logging import logger
from ..pp._qc import failed_qc
from ._html import figure_uri, percent

APLASIA_TEXT = "no B cells found (aplasia)"
ISOTYPE_GROUPS = {"IGHM": ("IGHM",), "IGHD": ("IGHD",), "IGHG": K.ISOTYPES[2:6],
                  "IGHA": ("IGHA1", "IGHA2"), "IGHE": ("IGHE",)}
MAX_CLONES_SHOWN = 10
TISSUE_ORDER = {"blood": 0, "bone_marrow": 1}


@dataclass
class Section:
    """What one section shows: findings, notes, tables (``columns`` + ``rows``), figures."""

    anchor: str
    title: str
    statements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)


def fetch(
    reader: Callable[..., pd.DataFrame], adata: AnnData, *args: object
) -> pd.DataFrame | None:
    """Return a :mod:`repertoire.get` table, or ``None`` when its tool has not run."""
    try:
        return reader(adata, *args)
    except InputError as error:
        logger.debug("report: %s", error)
        return None


def of_patient(table: pd.DataFrame | None, patient: str) -> pd.DataFrame | None:
    """Return the rows of ``table`` belonging to ``patient`` (``None`` stays ``None``)."""
    if table is None or K.PATIENT not in table:
        return table
    return table[table[K.PATIENT].astype(str) == str(patient)]


def patient_samples(adata: AnnData, patient: str) -> pd.DataFrame:
    """One row per sample of ``patient`` from ``.obs``: id, timepoint, day, tissue, cells."""
    obs = adata.obs[adata.obs[K.PATIENT].astype(str) == str(patient)]
    columns = [c for c in (K.SAMPLE, K.TIMEPOINT, K.DAY, K.TISSUE) if c in obs]
    samples = obs[columns].astype({c: str for c in columns if c != K.DAY}).copy()
    samples["n_cells"] = 1
    return _in_study_order(samples.groupby(columns, observed=True, as_index=False)["n_cells"].sum())


def _in_study_order(samples: pd.DataFrame) -> pd.DataFrame:
    """Sort ``samples`` by day, blood before marrow on a day, then by id."""
    order = samples[K.TISSUE].map(lambda t: TISSUE_ORDER.get(t, 2)) if K.TISSUE in samples else 0
    return (samples.assign(_order=order).sort_values([K.DAY, "_order", K.SAMPLE])
            .drop(columns="_order").reset_index(drop=True))


def append_rows(table: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with the rows of ``more`` under it (its columns), or as it is."""
    return pd.concat([table, more[table.columns]], ignore_index=True) if len(more) else table


def samples_without_cells(adata: AnnData, patient: str | None = None) -> pd.DataFrame:
    """Return the samples none of whose cells passed QC (of ``patient`` if given).

    One row per sample as :func:`patient_samples` gives (``n_cells`` 0) with its
    ``patient_id`` and ``outcome``, the cells QC found (``n_qc``), ``n_low_quality`` and
    ``n_doublets``; empty without a QC summary.
    """
    columns = [K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE]
    qc = fetch(get.qc, adata)
    if qc is None or not {*columns, "n_flagged"} <= set(qc.columns):
        return pd.DataFrame(columns=[*columns, K.OUTCOME, "n_cells", "n_qc", "n_low_quality",
                                     "n_doublets"])
    if K.OUTCOME not in qc:
        qc = qc.assign(**{K.OUTCOME: "not recorded"})
    # every cell flagged and none in .obs; a sample the user subset away is not one of them
    lost = qc[failed_qc(qc)
              & ~qc[K.SAMPLE].astype(str).isin(set(adata.obs[K.SAMPLE].astype(str)))]
    if patient is not None:
        lost = lost[lost[K.PATIENT].astype(str) == str(patient)]
    columns.append(K.OUTCOME)
    return (lost[columns].astype({c: str for c in columns if c != K.DAY})
            .assign(n_cells=0, n_qc=lost["n_cells"].to_numpy(),
                    n_low_quality=lost["n_low_quality"].to_numpy(),
                    n_doublets=lost["n_doublets"].to_numpy())
            .reset_index(drop=True))


def _row(patient: str, section: str, metric: str, value: object, sample: pd.Series | None = None,
         n: object = np.nan) -> dict:
    where = {} if sample is None else {K.SAMPLE: sample[K.SAMPLE], K.TIMEPOINT: sample[K.TIMEPOINT],
                                       K.TISSUE: sample[K.TISSUE]}
    return {K.PATIENT: patient, "section": section, "metric": metric,
            K.SAMPLE: where.get(K.SAMPLE, ""), K.TIMEPOINT: where.get(K.TIMEPOINT, ""),
            K.TISSUE: where.get(K.TISSUE, ""), "value": value, "n": n}


# ---------------------------------------------------------------- 1. header


def header(adata: AnnData, patient: str, samples: pd.DataFrame,
           lost: pd.DataFrame) -> Section:
    """Patient, outcome and the samples with their data quality.

    ``lost`` holds the patient's samples none of whose cells passed QC
    (:func:`samples_without_cells`), listed with the others.
    """
    section = Section("samples", "Samples and data quality")
    obs = adata.obs[adata.obs[K.PATIENT].astype(str) == str(patient)]
    qc = fetch(get.qc, adata)
    qc = None if qc is None else qc.assign(**{K.SAMPLE: qc[K.SAMPLE].astype(str)}).set_index(
        K.SAMPLE)
    receptor = obs[K.RECEPTOR_TYPE].astype(str) if K.RECEPTOR_TYPE in obs else None
    lineage = obs[K.LINEAGE].astype(str) if K.LINEAGE in obs else None
    listed = _in_study_order(append_rows(samples, lost))
    rows = []
    for _, sample in listed.iterrows():
        mine = (obs[K.SAMPLE].astype(str) == sample[K.SAMPLE]).to_numpy()
        # a sample without cells has no B-cell count: it is not an aplastic one
        n_b = int((lineage[mine] == "B").sum()) if lineage is not None and mine.any() \
            else np.nan
        values = {
            "cells kept": sample["n_cells"],
            "low quality removed": (qc.loc[sample[K.SAMPLE], "n_low_quality"]
                                    if qc is not None and sample[K.SAMPLE] in qc.index else np.nan),
            "doublets removed": (qc.loc[sample[K.SAMPLE], "n_doublets"]
                                 if qc is not None and sample[K.SAMPLE] in qc.index else np.nan),
            "B cells": n_b,
            "with BCR": (receptor[mine] == "BCR").mean() if receptor is not None else np.nan,
            "with TCR": (receptor[mine] == "TCR").mean() if receptor is not None else np.nan,
        }
        rows.append([sample[K.SAMPLE], sample[K.TIMEPOINT], sample[K.DAY], sample[K.TISSUE],
                     *list(values.values())[:4], percent(values["with BCR"]),
                     percent(values["with TCR"])])
        for metric, value in values.items():
            section.summary.append(_row(patient, "samples", metric.replace(" ", "_"), value,
                                        sample, sample["n_cells"]))
    section.tables.append({"columns": ["sample", "timepoint", "day", "tissue", "cells kept",
                                       "low quality", "doublets", "B cells", "BCR", "TCR"],
                           "rows": rows,
                           "caption": "Cells kept after quality control; low quality and "
                                      "doublets: cells removed; BCR, TCR: share of the cells "
                                      "kept with a B- or T-cell receptor chain."})
    for _, sample in lost.iterrows():
        section.notes.append(
            f"{sample[K.SAMPLE]} ({sample[K.TIMEPOINT]}, {sample[K.TISSUE].replace('_', ' ')}): "
            f"none of its {sample['n_qc']} cells passed quality control "
            f"({sample['n_low_quality']} low quality, {sample['n_doublets']} doublets); it is "
            "left out of every measure on this page.")
    if qc is None:
        section.notes.append("QC results not recorded (repertoire.pp.qc was not run): cells "
                             "removed are unknown.")
    if receptor is None:
        section.notes.append("receptor types not recorded (repertoire.tl.clonotypes was not "
                             "run): receptor recovery is unknown.")
    if len(samples) == 1:
        section.notes.append("This patient has one sample: there is no time course.")
    if "bone_marrow" not in set(samples[K.TISSUE]):
        lacking = ("No bone-marrow sample with cells" if "bone_marrow" in set(lost[K.TISSUE])
                   else "No bone-marrow sample")
        section.notes.append(f"{lacking}: marrow measures (plasma-cell niches) are "
                             "not available for this patient.")
    return section


# ---------------------------------------------------------------- 2. reconstitution


def _main_tissue(samples: pd.DataFrame) -> str:
    counts = samples[K.TISSUE].value_counts()
    return "blood" if "blood" in counts else str(counts.index[0])


def _has_bcr(table: pd.DataFrame) -> bool:
    columns = [c for c in table.columns if c.startswith("frac_") and c.endswith("_bcr")]
    return bool(columns) and bool(table[columns].notna().any().any())


def _shown(row: pd.Series, column: str, denominator: str | None, min_cells: int) -> object:
    value = row.get(column, np.nan)
    if denominator is not None and denominator in row and row[denominator] < min_cells:
        return f"n<{min_cells}" if row[denominator] > 0 else "–"
    return value


def reconstitution(adata: AnnData, patient: str, samples: pd.DataFrame, *,
                   min_cells: int) -> tuple[Section, pd.DataFrame]:
    """B cells per 1000 and subset fractions per timepoint, CAR-T kinetics, aplasia."""
    section = Section("reconstitution", "B-cell reconstitution and CAR-T kinetics")
    table = fetch(get.reconstitution, adata)
    if table is None:
        section.notes.append("Reconstitution not computed (run repertoire.tl.reconstitution).")
        return section, pd.DataFrame()
    table = of_patient(table, patient).copy()
    table = table.assign(**{c: table[c].astype(str) for c in (K.SAMPLE, K.TIMEPOINT, K.TISSUE)})
    table = table[table[K.SAMPLE].isin(set(samples[K.SAMPLE]))]  # the samples still in .obs
    table = table.sort_values([K.DAY, K.TISSUE])
    params = adata.uns[K.RECONSTITUTION][K.PARAMS]
    fractions = {m: list(v) for m, v in params.get("fractions", {}).items()}
    tissue = _main_tissue(samples)
    n_tissue = int((table[K.TISSUE] == tissue).sum())
    # the main tissue first, then any other with a time course of its own (marrow)
    for drawn in [tissue, *sorted(set(table[K.TISSUE]) - {tissue})]:
        n_drawn = int((table[K.TISSUE] == drawn).sum())
        if n_drawn < 2:
            if drawn == tissue:
                section.notes.append(f"Only {n_drawn} {drawn} sample: no time course to draw.")
            continue
        section.figures.append({
            "uri": figure_uri(pl.reconstitution_timeline(adata, patient, tissue=drawn,
                                                         min_cells=min_cells, show=False)),
            "alt": f"reconstitution of {patient} ({drawn})",
            "caption": f"{drawn}: this patient (black: transcriptome"
                       + (", orange dashed: BCR" if _has_bcr(table) else "; no BCR fractions")
                       + f"; bars: Wilson 95% intervals) against the cohort's remission (blue) and "
                       f"relapse (red) medians per timepoint (all patients, this one included). "
                       f"Fractions on fewer than {min_cells} cells are not drawn; grey: aplasia "
                       f"(fewer than {params.get('aplasia_below', 5)} B cells per 1000).",
        })
    car_known = "frac_car" in table and table["frac_car"].notna().any()
    if car_known and n_tissue >= 2:
        ax = pl.car_kinetics(adata, patient, tissue=tissue, min_cells=min_cells, show=False)
        section.figures.append({"uri": figure_uri(ax.figure),
                                "alt": f"CAR-T kinetics of {patient}",
                                "caption": f"CAR-detected fraction of T cells ({tissue})."})
    elif not car_known:
        section.notes.append("No CAR detection results (repertoire.tl.detect_car found no CAR "
                             "feature or was not run).")
    shown = ["frac_naive_tx", "frac_memory_tx", "frac_switched_tx", "frac_DN_tx",
             "frac_plasma_tx", "frac_naive_bcr", "frac_memory_bcr", "frac_car"]
    rows = []
    for _, row in table.iterrows():
        cells = [row[K.SAMPLE], row[K.TIMEPOINT], row[K.TISSUE],
                 f"{row['B_per_1000']:.3g} ({row['B_per_1000_lo']:.3g}–"
                 f"{row['B_per_1000_hi']:.3g})", int(row["n_B"])]
        cells += [percent(_shown(row, c, fractions.get(c, [None, None])[1], min_cells))
                  for c in shown]
        rows.append(cells)
        if int(row["n_B"]) == 0:
            section.notes.append(f"{row[K.SAMPLE]} ({row[K.TIMEPOINT]}): {APLASIA_TEXT}.")
        for metric in ["B_per_1000", *[m for m in shown if m in row]]:
            denominator = fractions.get(metric, [None, "n_cells"])[1]
            section.summary.append(_row(patient, "reconstitution", metric, row[metric], row,
                                        row.get(denominator, np.nan)))
        section.summary.append(_row(patient, "reconstitution", "aplasia",
                                    int(bool(row["aplasia"])), row, row["n_cells"]))
    section.tables.append({
        "columns": ["sample", "timepoint", "tissue", "B per 1000 (95% CI)", "B cells",
                    "naive", "memory", "switched", "DN", "plasma", "naive (BCR)",
                    "memory (BCR)", "CAR+ of T"],
        "rows": rows,
        "caption": f"Shares of B cells (transcriptome unless marked BCR; plasma: of the B "
                   f"lineage); n<{min_cells}: too few cells to show.",
    })
    return section, table


# ---------------------------------------------------------------- 3. BCR


def _isotypes(adata: AnnData, patient: str, samples: pd.DataFrame) -> pd.DataFrame | None:
    if K.ISOTYPE not in adata.obs:
        return None
    obs = adata.obs[adata.obs[K.PATIENT].astype(str) == str(patient)]
    obs = obs[obs[K.ISOTYPE].notna()]
    groups = {iso: name for name, isos in ISOTYPE_GROUPS.items() for iso in isos}
    counts = pd.crosstab(obs[K.SAMPLE].astype(str), obs[K.ISOTYPE].astype(str).map(groups))
    return counts.reindex(index=samples[K.SAMPLE], columns=list(ISOTYPE_GROUPS), fill_value=0)


def bcr(adata: AnnData, patient: str, samples: pd.DataFrame,
        recon: pd.DataFrame) -> tuple[Section, pd.DataFrame | None]:
    """Isotypes and SHM per sample, diversity, and the baseline clones that came back."""
    section = Section("bcr", "B-cell receptors")
    isotypes = _isotypes(adata, patient, samples)
    diversity = of_patient_samples(fetch(get.diversity, adata), samples)
    clones = of_patient(fetch(get.clone_tracking, adata, "clones"), patient)
    occurrences = of_patient(fetch(get.clone_tracking, adata, "occurrences"), patient)
    if isotypes is None and diversity is None and clones is None:
        section.notes.append("No BCR data in this cohort (no isotype, diversity or clone "
                             "tracking results).")
        return section, None
    shm = recon.set_index(K.SAMPLE) if not recon.empty else None
    if isotypes is not None:
        rows = []
        for _, sample in samples.iterrows():
            counts = isotypes.loc[sample[K.SAMPLE]]
            total = int(counts.sum())
            fractions = counts / total if total else counts * np.nan
            mean_shm = (shm.loc[sample[K.SAMPLE], "mean_shm"]
                        if shm is not None and sample[K.SAMPLE] in shm.index else np.nan)
            rows.append([sample[K.SAMPLE], sample[K.TIMEPOINT], total,
                         *[percent(f) for f in fractions.to_numpy()], percent(mean_shm)])
            for name, value in fractions.items():
                section.summary.append(_row(patient, "bcr", f"isotype_{name}", value, sample,
                                            total))
            section.summary.append(_row(patient, "bcr", "mean_shm", mean_shm, sample, total))
        section.tables.append({
            "title": "Isotype and somatic hypermutation",
            "columns": ["sample", "timepoint", "B-lineage cells with isotype",
                        *list(ISOTYPE_GROUPS), "mean SHM"],
            "rows": rows,
            "caption": "Isotypes of the B-lineage cells with a heavy chain; mean SHM: mutated "
                       "share of the aligned V-region nucleotides.",
        })
        if all(r[2] == 0 for r in rows):
            section.notes.append("No B-lineage cell of this patient has a heavy-chain isotype.")
    if diversity is not None and not diversity.empty:
        wide = diversity.pivot_table(index=K.SAMPLE, columns="q", values="hill", dropna=False)
        cells = diversity.groupby(K.SAMPLE)["n_cells"].first()
        depth = int(diversity["depth"].iloc[0])
        rows = []
        for _, sample in samples.iterrows():
            if sample[K.SAMPLE] not in wide.index:
                continue
            hill = wide.loc[sample[K.SAMPLE]]
            rows.append([sample[K.SAMPLE], sample[K.TIMEPOINT], cells[sample[K.SAMPLE]],
                         *[hill.get(q, np.nan) for q in (0, 1, 2)]])
            for q in (0, 1, 2):
                section.summary.append(_row(patient, "bcr", f"hill_q{q}", hill.get(q, np.nan),
                                            sample, cells[sample[K.SAMPLE]]))
        if depth < 1:
            section.notes.append("Too few cells with a BCR in the cohort's samples to set a "
                                 "rarefaction depth: diversity is not estimated.")
        elif all(np.isnan(r[3]) for r in rows):
            section.notes.append(f"No sample of this patient reached the rarefaction depth of "
                                 f"{depth} cells with a BCR: diversity is not estimated.")
        section.tables.append({
            "title": "Diversity",
            "columns": ["sample", "timepoint", "cells with BCR", "Hill q=0", "Hill q=1",
                        "Hill q=2"],
            "rows": rows,
            "caption": f"Hill numbers rarefied to {depth} cells; – where a sample has fewer.",
        })
    section.tables.extend(_returned(clones, occurrences, section, patient))
    return section, clones


def of_patient_samples(table: pd.DataFrame | None, samples: pd.DataFrame) -> pd.DataFrame | None:
    """Return the rows of a per-sample ``table`` whose sample is one of ``samples``."""
    if table is None:
        return None
    table = table.assign(**{K.SAMPLE: table[K.SAMPLE].astype(str)})
    return table[table[K.SAMPLE].isin(set(samples[K.SAMPLE]))]


def _returned(clones: pd.DataFrame | None, occurrences: pd.DataFrame | None, section: Section,
              patient: str) -> list[dict]:
    if clones is None:
        section.notes.append("Clone tracking not computed (run repertoire.tl.track_clones).")
        return []
    back = clones[clones["returned"].astype(bool)].sort_values(
        ["n_cells_after", "clone_id"], ascending=[False, True])
    section.summary.append(_row(patient, "bcr", "n_baseline_clones", len(clones)))
    section.summary.append(_row(patient, "bcr", "n_returned_clones", len(back)))
    if back.empty:
        section.notes.append(f"None of the {len(clones)} baseline clones was found after "
                             "infusion.")
        return []
    after = (occurrences[occurrences["phase"].astype(str) != "baseline"]
             if occurrences is not None else pd.DataFrame(columns=["clone_id"]))
    rows = []
    for _, clone in back.head(MAX_CLONES_SHOWN).iterrows():
        mine = after[after["clone_id"].astype(str) == str(clone["clone_id"])]
        types = mine.groupby(mine[K.CELL_TYPE].astype(str))["n_cells"].sum().sort_values(
            ascending=False) if not mine.empty else pd.Series(dtype=int)
        rows.append([clone["clone_id"], int(clone["n_cells_baseline"]),
                     ", ".join(str(clone["timepoints_after"]).split(",")),
                     int(clone["n_cells_after"]),
                     ", ".join(f"{t} ({n})" for t, n in types.items())])
    more = len(back) - len(rows)
    return [{
        "title": "Baseline clones found after infusion",
        "columns": ["clone", "cells at baseline", "seen again at", "cells after",
                    "as cell types (cells)"],
        "rows": rows,
        "caption": f"{len(back)} of {len(clones)} baseline clones came back"
                   + (f"; the {len(rows)} largest shown." if more else "."),
    }]


# ---------------------------------------------------------------- 4. niches


def niches(adata: AnnData, patient: str,
           samples: pd.DataFrame) -> tuple[Section, pd.DataFrame | None]:
    """Show the patient's niche scores beside the cohort's by outcome."""
    section = Section("niches", "Interaction niches")
    scores = fetch(get.niche_scores, adata)
    if scores is not None:  # this patient's samples still in .obs, and every other patient's
        scores = scores[(scores[K.PATIENT].astype(str) != str(patient))
                        | scores[K.SAMPLE].astype(str).isin(set(samples[K.SAMPLE]))]
    if scores is None:
        section.notes.append("No niche scores in this cohort (run repertoire.tl.communication "
                             "and repertoire.tl.niche_scores).")
        return section, None
    mine = of_patient(scores, patient)
    mine = mine[mine["score"].notna()]
    if mine.empty:
        section.notes.append("No niche could be scored in this patient's samples.")
        return section, scores
    section.figures.append({
        "uri": figure_uri(pl.niche_patient(adata, patient, show=False)),
        "alt": f"niche scores of {patient}",
        "caption": "Niche scores per sample (black diamonds) beside the other patients' "
                   "(dots: remission blue, relapse red), per timepoint and tissue.",
    })
    mine = mine.sort_values([K.DAY, K.TISSUE])
    labels = mine[K.TIMEPOINT].astype(str) + " " + mine[K.TISSUE].astype(str)
    wide = mine.assign(label=labels).pivot_table(index="niche", columns="label", values="score",
                                                 observed=True, sort=False)
    section.tables.append({
        "title": "Niche scores",
        "columns": ["niche", *wide.columns],
        "rows": [[niche, *row.to_numpy()] for niche, row in wide.iterrows()],
    })
    for _, row in mine.iterrows():
        section.summary.append(_row(patient, "niches", f"niche_{row['niche']}", row["score"],
                                    row.astype(object)))
    strongest = strongest_niche(scores, patient)
    if strongest is not None:
        niche, sample, timepoint, tissue, rank = strongest
        section.figures.append({
            "uri": figure_uri(pl.interactions(adata, sample=sample, niche=niche, n_top=15,
                                              show=False).figure),
            "alt": f"interactions of the {niche} niche in {sample}",
            "caption": f"The interactions behind this patient's strongest niche: {niche} at "
                       f"{timepoint} ({tissue}), above {rank:.0%} of the cohort's samples there. "
                       "Dot size: smaller expressing fraction of ligand and receptor; colour: "
                       "CellPhoneDB statistic; ring: specific within the sample (p ≤ 0.05).",
        })
    section.figures.extend(_spatial_map(adata, patient, samples, section))
    return section, scores


def strongest_niche(
    scores: pd.DataFrame, patient: str
) -> tuple[str, str, str, str, float] | None:
    """Find the patient's post-infusion niche score ranking highest within the cohort.

    Each score is ranked among every sample's score of the same niche, timepoint and tissue
    (the fraction of the other samples it exceeds); of the patient's scores resting on at least
    one tested ligand-receptor pair, the highest-ranked one, the larger score breaking ties, is
    returned as ``(niche, sample_id, timepoint, tissue, rank)``, or
    ``None`` when the patient has no scored post-infusion sample with others to rank against.
    """
    scored = scores[scores["score"].notna() & (scores[K.DAY].astype(float) > 0)].copy()
    keys = ["niche", K.TIMEPOINT, K.TISSUE]
    scored[keys] = scored[keys].astype(str)
    groups = scored.groupby(keys)["score"]
    others = groups.transform("size") - 1
    scored["rank"] = (groups.rank(method="min") - 1) / others.where(others > 0)
    tested = scored["n_pairs_scored"] > 0 if "n_pairs_scored" in scored else True
    mine = scored[(scored[K.PATIENT].astype(str) == str(patient)) & scored["rank"].notna()
                  & tested]
    if mine.empty:
        return None
    best = mine.sort_values(["rank", "score", "niche"], ascending=[False, False, True]).iloc[0]
    return (str(best["niche"]), str(best[K.SAMPLE]), str(best[K.TIMEPOINT]),
            str(best[K.TISSUE]), float(best["rank"]))


def _spatial_map(adata: AnnData, patient: str, samples: pd.DataFrame,
                 section: Section) -> list[dict]:
    """Map the patient's latest marrow section with coordinates, if there is one."""
    spatial = fetch(get.spatial_niches, adata)
    if spatial is None:
        return []
    spatial = spatial[spatial["graph"].astype(str) == "spatial"]
    mine = samples[samples[K.SAMPLE].isin(set(spatial[K.SAMPLE].astype(str)))]
    if mine.empty:
        section.notes.append("No sample of this patient has spatial coordinates: no map.")
        return []
    latest = mine.iloc[-1]
    return [{
        "uri": figure_uri(pl.spatial_niches(adata, latest[K.SAMPLE], show=False).figure),
        "alt": f"spatial map of {latest[K.SAMPLE]}",
        "caption": f"{latest[K.SAMPLE]} ({latest[K.TIMEPOINT]}, {latest[K.TISSUE]}): cells where "
                   "they lie, coloured by cellular neighbourhood; stars: plasma cells; ringed: "
                   "niche senders."
                   + (f" {len(mine)} sections have coordinates; the latest is shown."
                      if len(mine) > 1 else ""),
    }]


# ---------------------------------------------------------------- 5. cell types


def cell_types(adata: AnnData, patient: str, samples: pd.DataFrame) -> Section:
    """Show the patient's cells on the cohort embedding and each sample's composition."""
    section = Section("cell-types", "Cell types")
    if K.CELL_TYPE not in adata.obs:
        section.notes.append("Cell types not annotated (run repertoire.tl.annotate).")
        return section
    mine = (adata.obs[K.PATIENT].astype(str) == str(patient)).to_numpy()
    if "X_umap" in adata.obsm:
        section.figures.append({
            "uri": figure_uri(_patient_embedding(adata, mine, patient)),
            "alt": f"cells of {patient} on the cohort UMAP",
            "caption": f"The cohort's UMAP: {patient}'s {int(mine.sum())} cells coloured by "
                       f"cell type over the other patients' {int((~mine).sum())} in grey.",
        })
    else:
        section.notes.append("No UMAP in this cohort (run repertoire.pp.umap): no embedding.")
    subset = adata[mine]
    ax = pl.composition(subset, groupby=K.CELL_TYPE, batch_key=K.SAMPLE, show=False,
                        ax=_page_axes(9.0, 4.5))
    ax.set_title("")
    ax.get_legend().set_title("cell type")
    section.figures.append({"uri": figure_uri(ax.figure), "alt": f"composition of {patient}",
                            "caption": "Cell-type fractions of each sample, in order of day "
                                       "(colours as on the UMAP)."})
    counts = pd.crosstab(subset.obs[K.SAMPLE].astype(str), subset.obs[K.CELL_TYPE].astype(str))
    counts = counts.reindex(index=samples[K.SAMPLE], fill_value=0)
    for _, sample in samples.iterrows():
        total = int(counts.loc[sample[K.SAMPLE]].sum())
        for cell_type, n in counts.loc[sample[K.SAMPLE]].items():
            section.summary.append(_row(patient, "cell_types", f"fraction_{cell_type}",
                                        n / total if total else np.nan, sample, total))
    return section


def _page_axes(width: float, height: float):
    """Axes of a new figure sized for the page."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")[1]


def _patient_embedding(adata: AnnData, mine: np.ndarray, patient: str):
    ax = _page_axes(9.0, 5.0)
    fig = ax.figure
    xy = np.asarray(adata.obsm["X_umap"])[:, :2]
    ax.scatter(*xy[~mine].T, s=2, c="#d9d9d9", linewidths=0, rasterized=True)
    pl.embedding(adata[mine], color=K.CELL_TYPE, title=f"{patient} on the cohort UMAP", ax=ax,
                 show=False)
    ax.set(xlim=_limits(xy[:, 0]), ylim=_limits(xy[:, 1]))
    return fig


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.03 * (high - low or 1.0)
    return low - pad, high + pad
