"""``repertoire report``: one patient's HTML report, or the cohort's."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._errors import InputError
from ._base import Step, add_step, positive, read_h5ad

REPORT = Step(
    "report", "Write one patient's HTML report, or the cohort's.",
    """
    In:  the analysed cohort .h5ad (from `repertoire niches`; an earlier step's cohort gives a
         report whose missing sections say what to run).
    Out: with --patient, OUTPUT (one self-contained HTML page: samples and data quality,
         reconstitution and CAR-T kinetics against the cohort, BCR isotypes, SHM, diversity
         and returning clones, niches, cell types, flags, methods) and
         <patient>.summary.tsv beside it; without, the cohort's page (the two findings with
         their patient-level statistics, every patient's flags, links to the patient pages
         named <patient>.html beside it) and flags.tsv beside it.
    """,
)
STEPS = (REPORT,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``report``."""
    parser = add_step(subparsers, common, REPORT, _run)
    parser.add_argument("input", type=Path, metavar="INPUT", help="analysed cohort .h5ad")
    parser.add_argument("--output", type=Path, required=True, metavar="HTML",
                        help="where to write the page")
    parser.add_argument("--patient", metavar="ID",
                        help="the patient_id to report on (default: the cohort report)")
    parser.add_argument("--cohort-page", metavar="HREF",
                        help="link from a patient's page to the cohort report, relative to it")
    parser.add_argument("--min-cells", type=positive, default=10, metavar="N",
                        help="fewest cells behind a fraction shown or flagged (10)")
    parser.add_argument("--flag", action="append", default=[], metavar="NAME=VALUE",
                        help="a flag threshold (see repertoire.report.FLAG_THRESHOLDS); "
                        "repeatable")


def _thresholds(pairs: list[str]) -> dict[str, float]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--flag '{pair}' is not NAME=NUMBER.")
    return values


def _run(args: argparse.Namespace) -> None:
    from .. import report

    flags = _thresholds(args.flag)
    # the pages draw annotations and results: the expression matrices stay on disk
    adata = read_h5ad(args.input, matrices=False)
    if args.patient is None:
        report.cohort_report(adata, args.output, min_cells=args.min_cells, flags=flags)
    else:
        report.patient_report(adata, args.patient, args.output, min_cells=args.min_cells,
                              flags=flags, cohort_page=args.cohort_page)
