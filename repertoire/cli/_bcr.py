"""``repertoire bcr``: B-cell states and clones, clones over time, reconstitution."""

from __future__ import annotations

import argparse

from .. import _keys as K
from ._base import (
    Step,
    add_cohort_io,
    add_step,
    draw,
    fraction,
    output_dir,
    positive,
    read_h5ad,
    write_figures,
    write_tables,
)

BCR = Step(
    "bcr", "Call B-cell states and clones, follow clones over time and measure reconstitution.",
    """
    In:  the cohort .h5ad (receptors in .obsm["airr"]; .obs["lineage"], ["cell_type"] and
         ["car_detected"] of `repertoire annotate` are used when present, else the receptor
         alone decides).
    Out: OUTPUT, the cohort with .obs isotype, shm_rate, bcr_state, clone_id,
         clonal_expansion, preexisting and the results in .uns; in --tables one table per
         result (bcr_states, shm_sources (chains per SHM source, and why chains have none),
         clones, diversity, clone_tracking_samples, clone_tracking_clones,
         clone_tracking_occurrences, reconstitution (one row per sample),
         reconstitution_outcomes (relapse against remission per tissue, timepoint and metric:
         effect as a difference of empirical logits with its bootstrap interval, exact p,
         p_min, q), reconstitution_timepoints); in --figures isotypes, shm,
         clone_tracking, diversity, reconstitution_cohort, and one blood time course per patient
         in reconstitution/ (every patient with a blood sample).
    """,
    tables=(
        "bcr_states", "shm_sources", "clones", "diversity", "clone_tracking_samples",
        "clone_tracking_clones", "clone_tracking_occurrences", "reconstitution",
        "reconstitution_outcomes", "reconstitution_timepoints",
    ),
    figures=("isotypes", "shm", "clone_tracking", "diversity", "reconstitution_cohort"),
)
STEPS = (BCR,)
# folder of the per-patient time courses inside --figures
PATIENT_FIGURES = "reconstitution"


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``bcr``."""
    parser = add_step(subparsers, common, BCR, _run)
    add_cohort_io(parser, BCR, source="annotate")
    parser.add_argument("--naive-max-shm", type=fraction, default=0.01, metavar="F",
                        help="IGHM/IGHD cells mutated less than this are naive (0.01)")
    parser.add_argument("--memory-min-shm", type=fraction, default=0.01, metavar="F",
                        help="IGHM/IGHD cells mutated at least this much are memory (0.01)")
    parser.add_argument("--bcr-cutoff", type=int, default=15, metavar="PERCENT",
                        help="largest junction distance within a B-cell clone, in %% (15)")
    parser.add_argument("--aplasia-below", type=float, default=5.0, metavar="N",
                        help="B cells per 1000 cells below which a sample is aplastic (5)")
    parser.add_argument("--reference-timepoint", default="baseline", metavar="NAME",
                        help="timepoint the others are compared with within patients (baseline)")
    parser.add_argument("--n-boot", type=positive, default=2000, metavar="N",
                        help="bootstrap resamples of patients per interval (2000)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of rarefaction and bootstrap (0)")
    parser.add_argument("--threads", type=positive, default=1, metavar="N",
                        help="threads for junction distances (1)")


def _run(args: argparse.Namespace) -> None:
    from .. import get, io, pl, tl

    adata = read_h5ad(args.input)
    tl.bcr_state(adata, naive_max_shm=args.naive_max_shm, memory_min_shm=args.memory_min_shm)
    tl.clonotypes(adata, bcr_cutoff=args.bcr_cutoff, n_jobs=args.threads)
    tl.diversity(adata, random_state=args.seed)
    tl.track_clones(adata)
    tl.reconstitution(adata, aplasia_below=args.aplasia_below,
                      reference_timepoint=args.reference_timepoint, n_boot=args.n_boot,
                      random_state=args.seed)
    write_tables(args, BCR, {
        "bcr_states": get.bcr_states(adata),
        "shm_sources": get.bcr_states(adata, "shm"),
        "clones": get.clones(adata),
        "diversity": get.diversity(adata),
        "clone_tracking_samples": get.clone_tracking(adata, "samples"),
        "clone_tracking_clones": get.clone_tracking(adata, "clones"),
        "clone_tracking_occurrences": get.clone_tracking(adata, "occurrences"),
        "reconstitution": get.reconstitution(adata, "samples"),
        "reconstitution_outcomes": get.reconstitution(adata, "outcomes"),
        "reconstitution_timepoints": get.reconstitution(adata, "timepoints"),
    }, beside=args.output)
    write_figures(args, BCR, {
        "isotypes": lambda save: pl.isotypes(adata, show=False, save=save),
        "shm": lambda save: pl.shm(adata, show=False, save=save),
        "clone_tracking": lambda save: pl.clone_tracking(adata, show=False, save=save),
        "diversity": lambda save: pl.diversity(adata, show=False, save=save),
        "reconstitution_cohort": lambda save: pl.reconstitution_cohort(
            adata, metric="frac_naive_bcr", show=False, save=save),
    }, beside=args.output)
    samples = get.reconstitution(adata)
    samples = samples[samples[K.TISSUE].astype(str) == "blood"]
    draw({
        f"{PATIENT_FIGURES}/{patient}": lambda save, p=patient: pl.reconstitution_timeline(
            adata, p, tissue="blood", show=False, save=save)
        for patient in samples[K.PATIENT].astype(str).unique()
    }, output_dir(args, "figures", args.output), args.figure_format)
    io.write_h5ad(adata, args.output)
