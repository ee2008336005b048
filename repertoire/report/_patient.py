"""One patient's self-contained HTML report and its tidy summary table."""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._errors import InputError
from .._logging import logger
from .._utils import require_obs
from ..io import atomic_path, write_table
from . import _methods, _sections
from ._flags import compute_flags, thresholds
from ._html import render
from ._names import safe_name

SUMMARY_COLUMNS = [K.PATIENT, "section", "metric", K.SAMPLE, K.TIMEPOINT, K.TISSUE, "value", "n"]
#: matplotlib settings of every report figure (one look, no dependence on the user's rc)
STYLE = {"font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
         "svg.hashsalt": "repertoire", "figure.dpi": 100}


def summary_path(path: str | os.PathLike, patient: str) -> Path:
    """Return where :func:`patient_report` writes the summary table of ``path``.

    Beside it, named ``{patient}.summary.tsv``, with every character of the patient id other
    than letters, digits, ``.``, ``_`` and ``-`` replaced by ``_`` (an id is not a path).
    """
    return Path(path).parent / f"{safe_name(patient)}.summary.tsv"


def patient_report(
    adata: AnnData,
    patient_id: str,
    path: str | os.PathLike,
    *,
    min_cells: int = 10,
    flags: Mapping[str, float] | None = None,
    cohort_page: str | None = None,
) -> Path:
    """Write one patient's report: a self-contained HTML page and a tidy summary table.

    The page holds the samples and their data quality; B-cell reconstitution per timepoint
    (against the cohort's remission and relapse medians) and CAR-T kinetics; isotypes, SHM,
    diversity and the baseline clones that came back; niche scores beside the cohort's;
    flags in plain words; and the methods (every recorded parameter, package versions, input
    checksums when recorded, one timestamp). Figures are embedded PNG data URIs and the style
    is inline, so the page opens offline. Each section says in words when its data is absent.
    Every result is read through :mod:`repertoire.get`.

    Parameters
    ----------
    adata
        The analysed cohort (at least annotated; every further result adds to the page).
    patient_id
        The ``patient_id`` to report on.
    path
        The HTML file to write; ``{patient_id}.summary.tsv`` is written beside it.
    min_cells
        Fewest cells behind a fraction for it to be drawn, shown or flagged.
    flags
        Thresholds overriding :data:`repertoire.report.FLAG_THRESHOLDS`.
    cohort_page
        Link to the cohort report, relative to ``path``, shown at the top of the page (none by
        default).

    Returns
    -------
    The path of the HTML file. Both files are written atomically.
    """
    require_obs(adata, K.PATIENT, K.SAMPLE, K.TIMEPOINT, K.DAY, K.TISSUE)
    patient = str(patient_id)
    # a patient whose every library failed QC has no cells but still gets a page
    lost = _sections.samples_without_cells(adata, patient)
    if patient not in set(adata.obs[K.PATIENT].astype(str)) and lost.empty:
        raise InputError(f"patient '{patient}' is not in .obs['{K.PATIENT}'].")
    limits = thresholds(flags)
    path = Path(path)
    summary_file = summary_path(path, patient)
    with mpl.rc_context(STYLE):
        context, summary = _content(adata, patient, lost, min_cells=min_cells, limits=limits)
    timestamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    html = render("patient.html.j2", **context, summary_name=summary_file.name,
                  timestamp=timestamp, cohort_href=cohort_page)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    write_table(summary, summary_file)
    logger.info("wrote %s (%.0f kB) and %s", path, len(html.encode()) / 1024, summary_file)
    return path


def _content(adata: AnnData, patient: str, lost: pd.DataFrame, *, min_cells: int,
             limits: Mapping[str, float]) -> tuple[dict, pd.DataFrame]:
    samples = _sections.patient_samples(adata, patient)
    header = _sections.header(adata, patient, samples, lost)
    if samples.empty:  # every library failed QC: the page lists them and measures nothing
        sections, found = [header], []
    else:
        recon, recon_table = _sections.reconstitution(adata, patient, samples,
                                                      min_cells=min_cells)
        bcr, clones = _sections.bcr(adata, patient, samples, recon_table)
        niches, scores = _sections.niches(adata, patient, samples)
        cell_types = _sections.cell_types(adata, patient, samples)
        sections = [header, recon, bcr, niches, cell_types]
        found = compute_flags(patient, samples=recon_table, clones=clones, niche_scores=scores,
                              min_cells=min_cells, flags=limits)
    rows = [row for section in sections for row in section.summary]
    rows += [_sections._row(patient, "flags", flag.name, 1, None) | {
        K.SAMPLE: sample, K.TIMEPOINT: timepoint}
        for flag in found for sample, timepoint in (flag.where or (("", ""),))]
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    outcome = _outcome(adata, patient, lost)
    context = {
        "patient": patient, "outcome": outcome, "n_samples": len(samples) + len(lost),
        "sections": sections, "flags": found,
        "rules": _methods.flag_rules(limits, min_cells),
        "steps": _methods.parameters(adata), "versions": _methods.versions(),
        "inputs": _methods.inputs(adata, _sections.append_rows(samples, lost)),
    }
    return context, summary


def _outcome(adata: AnnData, patient: str, lost: pd.DataFrame) -> str:
    """Return the outcome of ``patient`` from ``.obs``, else from its samples without cells."""
    for table in (adata.obs, lost):
        if K.OUTCOME in table:
            mine = table.loc[table[K.PATIENT].astype(str) == patient, K.OUTCOME]
            if len(mine):
                return str(mine.iloc[0])
    return "not recorded"
