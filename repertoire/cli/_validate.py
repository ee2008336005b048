"""``repertoire validate``: check a sample sheet and the files it names."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _keys as K
from ._base import Step, add_step

if TYPE_CHECKING:
    import pandas as pd

VALIDATE = Step(
    "validate", "Check a sample sheet and the files it names.",
    """
    In:  a tab-separated sample sheet, one row per sample, with columns sample_id,
         patient_id, timepoint, day, tissue, outcome, gex and optionally bcr, tcr,
         spatial (paths relative to the sheet). Every file is opened far enough to know it
         can be read (matrix barcodes, features and shape; spatial tables, whose barcodes
         must be cells of their sample), in seconds, before a run.
    Out: one summary line on stdout (samples, patients, timepoints, tissues, receptor
         files) and exit status 0; or 'error: <reason>' on stderr and exit status 2.
    """,
)
STEPS = (VALIDATE,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``validate``."""
    parser = add_step(subparsers, common, VALIDATE, _run)
    parser.add_argument("sheet", type=Path, metavar="SHEET", help="the sample sheet (TSV)")


def _run(args: argparse.Namespace) -> None:
    from ..io import check_files, read_samplesheet

    sheet = read_samplesheet(args.sheet)
    check_files(sheet)
    print(describe_samplesheet(sheet, name=str(args.sheet)))


def describe_samplesheet(sheet: pd.DataFrame, *, name: str = "sample sheet") -> str:
    """Summarise a validated sample sheet in one line.

    Parameters
    ----------
    sheet
        A table returned by :func:`repertoire.io.read_samplesheet`.
    name
        How to call the sheet at the start of the line.

    Returns
    -------
    One line naming the counts of samples and patients (with outcomes), the timepoints in
    order of their median day, the tissues, and how many samples have each receptor file.
    """
    outcomes = sheet.drop_duplicates(K.PATIENT)[K.OUTCOME].value_counts()
    timepoints = sheet.groupby(K.TIMEPOINT)[K.DAY].median().sort_values().index
    from ..io import OPTIONAL_FILE_COLUMNS

    files = [f"{c} {sheet[c].notna().sum()}/{len(sheet)}" for c in OPTIONAL_FILE_COLUMNS]
    return (
        f"{name}: {_plural(len(sheet), 'sample')} from "
        f"{_plural(sheet[K.PATIENT].nunique(), 'patient')} "
        f"({', '.join(f'{n} {o}' for o, n in outcomes.items())}); "
        f"timepoints: {', '.join(timepoints)}; "
        f"tissues: {', '.join(sorted(sheet[K.TISSUE].unique()))}; "
        f"files: {', '.join(files)}"
    )


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
