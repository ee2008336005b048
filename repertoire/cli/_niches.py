"""``repertoire communication`` (one sample) and ``repertoire niches`` (the cohort)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import _keys as K
from .._errors import InputError
from .._logging import logger
from ._base import Step, add_step, fraction, positive, read_h5ad

COMMUNICATION = Step(
    "communication", "Score ligand-receptor interactions between the cell types of one sample.",
    """
    In:  the annotated cohort .h5ad (log-normalised .X, .obs["cell_type"]) and one sample_id;
         only that sample's cells are read.
    Out: OUTPUT, a small .h5ad without cells whose .uns["communication"] holds the sample's
         interaction table (CellPhoneDB's statistic and within-sample specificity p-values,
         as squidpy computes them), its groups (cells and mean expression of every resource
         gene per cell type) and the parameters. `repertoire niches` joins the samples.
    """,
)
STEPS = (COMMUNICATION,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``communication``."""
    parser = add_step(subparsers, common, COMMUNICATION, _run_communication)
    parser.add_argument("input", type=Path, metavar="INPUT", help="annotated cohort .h5ad")
    parser.add_argument("--sample", required=True, metavar="ID", help="the sample_id to score")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the sample's communication record")
    parser.add_argument("--groupby", default=K.CELL_TYPE, metavar="COLUMN",
                        help=f"column of .obs with the groups ({K.CELL_TYPE})")
    parser.add_argument("--resource", metavar="TABLE",
                        help="ligand-receptor table to use instead of the shipped one, or "
                        "liana:consensus")
    parser.add_argument("--n-perms", type=int, default=1000, metavar="N",
                        help="label permutations (1000)")
    parser.add_argument("--min-fraction", type=fraction, default=0.1, metavar="F",
                        help="smallest expressing fraction of each side of a tested pair (0.1)")
    parser.add_argument("--min-cells", type=positive, default=10, metavar="N",
                        help="smallest group scored in a sample (10)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the permutations (0)")
    parser.add_argument("--threads", type=positive, default=1, metavar="N",
                        help="threads of the permutation kernels (1)")


def _run_communication(args: argparse.Namespace) -> None:
    import anndata as ad

    from .. import io, tl

    if args.n_perms < 0:
        raise InputError(f"--n-perms {args.n_perms} must not be negative.")
    adata = read_h5ad(args.input, sample=args.sample)
    tl.communication(
        adata, args.groupby, sample_key=K.SAMPLE, resource=args.resource, n_perms=args.n_perms,
        min_fraction=args.min_fraction, min_cells=args.min_cells, seed=args.seed,
        n_jobs=args.threads,
    )
    record = ad.AnnData(uns={K.COMMUNICATION: adata.uns[K.COMMUNICATION]})
    logger.info("sample %s: %d cells, %d interaction rows", args.sample, adata.n_obs,
                len(adata.uns[K.COMMUNICATION][K.TABLE_INTERACTIONS]))
    io.write_h5ad(record, args.output)
