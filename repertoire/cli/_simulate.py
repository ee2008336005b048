"""``repertoire simulate``: write a simulated cohort as Cell Ranger-like files."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._errors import InputError
from ._base import Step, add_step, positive

SIMULATE = Step(
    "simulate", "Write a simulated cohort as Cell Ranger-like files.",
    """
    In:  nothing but the options below.
    Out: OUTDIR/<sample>/gex/filtered_feature_bc_matrix.h5, vdj_b/ and vdj_t/ receptor files
         and, for marrow samples, spatial/cells.csv; OUTDIR/samples.tsv, a sample sheet
         ready for `repertoire validate` and the workflow; OUTDIR/truth/ with the simulator's
         ground truth per cell and per sample. Samples are simulated and written one at a
         time, so memory stays bounded by the largest sample.
    """,
)
STEPS = (SIMULATE,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``simulate``."""
    parser = add_step(subparsers, common, SIMULATE, _run)
    parser.add_argument("outdir", type=Path, metavar="OUTDIR", help="where to write the cohort")
    parser.add_argument("--patients", type=positive, default=11, metavar="N",
                        help="number of patients (11)")
    parser.add_argument("--relapses", type=int, default=2, metavar="N",
                        help="how many of them relapse (2)")
    parser.add_argument("--cells-per-sample", type=positive, metavar="N",
                        help="cells per sample (the simulator's default)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (0)")
    parser.add_argument("--compress", action="store_true",
                        help="gzip the receptor and truth tables")


def _run(args: argparse.Namespace) -> None:
    import pandas as pd

    from .. import datasets

    if not 0 <= args.relapses <= args.patients:
        raise InputError(
            f"--relapses {args.relapses} must lie between 0 and --patients {args.patients}."
        )
    options = {} if args.cells_per_sample is None else {"cells_per_sample": args.cells_per_sample}
    samples = datasets.simulate_samples(
        n_patients=args.patients, n_relapse=args.relapses, seed=args.seed, **options
    )
    sheet = datasets.write_cellranger(samples, args.outdir, compress=args.compress)
    truth = pd.read_csv(args.outdir / "truth" / "samples.tsv", sep="\t")
    print(
        f"wrote {len(truth)} samples of {args.patients} patients "
        f"({truth['n_cells'].sum()} cells); sample sheet: {sheet}"
    )
