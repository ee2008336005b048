"""``repertoire qc`` (one sample) and ``repertoire merge`` (the cohort)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _keys as K
from .._errors import InputError
from .._logging import logger
from ._base import Step, add_output_options, add_step, read_h5ad, write_figures, write_tables

if TYPE_CHECKING:
    from anndata import AnnData

QC = Step(
    "qc", "Flag low-quality cells and doublets, sample by sample.",
    """
    In:  the sample sheet and one or more sample_ids; each sample's gene-expression and
         receptor files are read from the sheet and checked on their own, exactly as in a
         run of its own (several samples per run only save the start-up time).
    Out: an .h5ad with ALL the samples' cells, raw counts in .layers["counts"], QC metrics
         and the flags obs["low_quality"], obs["predicted_doublet"] (Scrublet or receptor
         chains), obs["doublet_score"], obs["receptor_doublet"], and the sample's QC summary
         in .uns["qc"]. Nothing is removed here: `repertoire merge` drops flagged cells.
    """,
)
MERGE = Step(
    "merge", "Join per-sample QC results into one cohort and drop flagged cells.",
    """
    In:  the .h5ad files written by `repertoire qc`.
    Out: OUTPUT, the cohort (QC columns kept in .obs, cells flagged low-quality or doublet
         removed unless --keep-flagged, the joined QC summary in .uns["qc"]); in --tables
         qc_summary.tsv (one row per sample); in --figures qc (each sample's metrics with its
         thresholds and flagged cells, drawn before they are removed).
    """,
    tables=("qc_summary",),
    figures=("qc",),
)
STEPS = (QC, MERGE)
FLAGS = (K.LOW_QUALITY, K.DOUBLET)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``qc`` and ``merge``."""
    parser = add_step(subparsers, common, QC, _run_qc)
    parser.add_argument("--samplesheet", type=Path, required=True, metavar="SHEET",
                        help="the sample sheet (TSV)")
    parser.add_argument("--sample", required=True, nargs="+", metavar="ID",
                        help="the sample_id(s) to read")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the samples with their QC flags")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of doublet detection (0)")

    parser = add_step(subparsers, common, MERGE, _run_merge)
    parser.add_argument("inputs", nargs="+", type=Path, metavar="QC_H5AD",
                        help="outputs of `repertoire qc`")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the cohort")
    parser.add_argument("--keep-flagged", action="store_true",
                        help="keep low-quality cells and doublets (flags stay in .obs)")
    add_output_options(parser, MERGE)


def _run_qc(args: argparse.Namespace) -> None:
    from .. import io, pp

    sheet = io.read_samplesheet(args.samplesheet)
    parts = []
    for sample in dict.fromkeys(args.sample):
        # one sample at a time: its QC metrics count all of its own genes
        # chain indices are made once for the cohort by `merge`
        adata = io.read_cohort(sheet, samples=[sample], index_chains=False)
        pp.qc(adata, random_state=args.seed)
        logger.info(
            "sample %s: %d cells, %d low-quality, %d predicted doublets", sample, adata.n_obs,
            adata.obs[K.LOW_QUALITY].sum(), adata.obs[K.DOUBLET].sum(),
        )
        parts.append(adata)
    adata = parts[0] if len(parts) == 1 else io.concat_samples(parts, index_chains=False)
    io.write_h5ad(adata, args.output)


def _run_merge(args: argparse.Namespace) -> None:
    from .. import get, io, pl, pp

    cohort = io.concat_samples([_read_qc_output(path) for path in args.inputs])
    write_figures(args, MERGE, {"qc": lambda save: pl.qc(cohort, show=False, save=save)},
                  beside=args.output)
    if not args.keep_flagged:
        pp.filter_cells(cohort)
    write_tables(args, MERGE, {"qc_summary": get.qc(cohort)}, beside=args.output)
    io.write_h5ad(cohort, args.output)


def _read_qc_output(path: Path) -> AnnData:
    import pandas as pd

    adata = read_h5ad(path)
    for column in FLAGS:
        if column not in adata.obs:
            raise InputError(
                f"file {path} has no obs column '{column}'; make it with `repertoire qc`."
            )
    record = adata.uns.get(K.QC)
    if not isinstance(record, dict) or not isinstance(record.get(K.TABLE_SAMPLES), pd.DataFrame):
        raise InputError(
            f"file {path} has no QC summary in .uns['{K.QC}']['{K.TABLE_SAMPLES}']; "
            "make it with `repertoire qc`."
        )
    return adata
