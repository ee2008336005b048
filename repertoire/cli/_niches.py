"""``repertoire communication`` (one sample) and ``repertoire niches`` (the cohort)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import _keys as K
from .._errors import InputError
from .._logging import logger
from ._base import (
    Step,
    add_output_options,
    add_step,
    draw,
    fraction,
    output_dir,
    positive,
    read_h5ad,
    write_figures,
    write_tables,
)

COMMUNICATION = Step(
    "communication", "Score ligand-receptor interactions between cell types, sample by sample.",
    """
    In:  the annotated cohort .h5ad (log-normalised .X, .obs["cell_type"]) and one or more
         sample_ids; only those samples' cells are read, one sample at a time.
    Out: OUTPUT, a small .h5ad without cells whose .uns["communication"] holds the samples'
         interaction table (CellPhoneDB's statistic and within-sample specificity p-values,
         as squidpy computes them), its groups (cells and mean expression of every resource
         gene per cell type) and the parameters. `repertoire niches` joins the samples.
    """,
)
NICHES = Step(
    "niches", "Score named niches, programmes and spatial niches; compare them by outcome.",
    """
    In:  the analysed cohort .h5ad (from `repertoire bcr`) and the per-sample outputs of
         `repertoire communication`.
    Out: OUTPUT, the cohort with the joined communication tables and the niche results in
         .uns (niche_scores, communication_programmes, spatial_niches, niche_outcomes) and the
         cellular neighbourhood and plasma-cell sender distance in .obs; in --tables
         communication.tsv (every sample's ligand-receptor pairs with within-sample
         specificity p-values), niche_scores.tsv (score and parts per sample and niche),
         niche_outcomes.tsv (every niche, programme and spatial measure, relapse against
         remission with one value per patient: exact p beside the smallest p the design
         allows) and niche_patients.tsv (the values behind each test), programme_scores.tsv
         and programmes.tsv, spatial_samples.tsv, spatial_pairs.tsv,
         spatial_neighbourhoods.tsv and spatial_abundances.tsv; in --figures niche_heatmap,
         and per niche its patients by outcome (niches/) and its ligand-receptor pairs
         (interactions/), and the map of every marrow section with coordinates (spatial/).
    """,
    tables=(
        "communication", "niche_scores", "niche_outcomes", "niche_patients",
        "programme_scores", "programmes", "spatial_samples", "spatial_pairs",
        "spatial_neighbourhoods", "spatial_abundances",
    ),
    figures=("niche_heatmap",),
)
STEPS = (COMMUNICATION, NICHES)
# folders of the per-niche and per-section figures inside --figures
NICHE_FIGURES, INTERACTION_FIGURES, SPATIAL_FIGURES = "niches", "interactions", "spatial"


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``communication`` and ``niches``."""
    parser = add_step(subparsers, common, COMMUNICATION, _run_communication)
    parser.add_argument("input", type=Path, metavar="INPUT", help="annotated cohort .h5ad")
    parser.add_argument("--sample", required=True, nargs="+", metavar="ID",
                        help="the sample_id(s) to score")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the samples' communication record")
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

    parser = add_step(subparsers, common, NICHES, _run_niches)
    parser.add_argument("input", type=Path, metavar="INPUT", help="analysed cohort .h5ad")
    parser.add_argument("communication", nargs="+", type=Path, metavar="COMMUNICATION_H5AD",
                        help="outputs of `repertoire communication`")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the cohort")
    add_output_options(parser, NICHES)
    parser.add_argument("--niches", type=Path, metavar="YAML",
                        help="niche definitions to use instead of the shipped ones")
    parser.add_argument("--n-programmes", type=positive, default=6, metavar="N",
                        help="communication programmes (6)")
    parser.add_argument("--n-neighbourhoods", type=positive, default=8, metavar="N",
                        help="cellular neighbourhoods of the spatial niches (8)")
    parser.add_argument("--spatial-neighbors", type=positive, default=10, metavar="K",
                        help="spatial neighbours of each cell (10)")
    parser.add_argument("--landmark", type=float, metavar="DAYS",
                        help="compare outcomes on samples up to this day after infusion and "
                        "before each relapse (all samples)")
    parser.add_argument("--n-boot", type=positive, default=2000, metavar="N",
                        help="bootstrap resamples of patients per interval (2000)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of programmes, neighbourhoods, permutations, bootstrap (0)")


def _run_communication(args: argparse.Namespace) -> None:
    import anndata as ad

    from .. import io, tl

    if args.n_perms < 0:
        raise InputError(f"--n-perms {args.n_perms} must not be negative.")
    records = []
    for sample in dict.fromkeys(args.sample):
        adata = read_h5ad(args.input, sample=sample)
        if not adata.n_obs:
            logger.warning("sample %s: no cell passed QC; it has no interactions", sample)
        tl.communication(
            adata, args.groupby, sample_key=K.SAMPLE, resource=args.resource,
            n_perms=args.n_perms, min_fraction=args.min_fraction, min_cells=args.min_cells,
            seed=args.seed, n_jobs=args.threads,
        )
        records.append(adata.uns[K.COMMUNICATION])
        logger.info("sample %s: %d cells, %d interaction rows", sample, adata.n_obs,
                    len(records[-1][K.TABLE_INTERACTIONS]))
    record = ad.AnnData(uns={K.COMMUNICATION: io.join_records(records)})
    io.write_h5ad(record, args.output)


def _run_niches(args: argparse.Namespace) -> None:
    from .. import get, io, pl, tl

    adata = read_h5ad(args.input)
    records = []
    for path in args.communication:
        record = read_h5ad(path).uns.get(K.COMMUNICATION)
        if not isinstance(record, dict) or K.TABLE_INTERACTIONS not in record:
            raise InputError(f"file {path} holds no communication record; make it with "
                             "`repertoire communication`.")
        records.append(record)
    adata.uns[K.COMMUNICATION] = io.join_records(records)
    tl.niche_scores(adata, niches=args.niches)
    tl.communication_programmes(adata, n_programmes=args.n_programmes, seed=args.seed)
    tl.spatial_niches(adata, n_neighbors=args.spatial_neighbors,
                      n_niches=args.n_neighbourhoods, random_state=args.seed)
    tl.niche_outcomes(adata, landmark=args.landmark, n_boot=args.n_boot,
                      random_state=args.seed)
    write_tables(args, NICHES, {
        "communication": get.communication(adata),
        "niche_scores": get.niche_scores(adata),
        "niche_outcomes": get.niche_outcomes(adata),
        "niche_patients": get.niche_outcomes(adata, "patients"),
        "programme_scores": get.communication_programmes(adata),
        "programmes": get.communication_programmes(adata, "programmes"),
        "spatial_samples": get.spatial_niches(adata),
        "spatial_pairs": get.spatial_niches(adata, "pairs"),
        "spatial_neighbourhoods": get.spatial_niches(adata, "neighbourhoods"),
        "spatial_abundances": get.spatial_niches(adata, "abundances"),
    }, beside=args.output)
    write_figures(args, NICHES, {
        "niche_heatmap": lambda save: pl.niche_heatmap(adata, show=False, save=save),
    }, beside=args.output)
    niches = list(get.niche_scores(adata)["niche"].cat.categories)
    sections = get.spatial_niches(adata)
    sections = sections.loc[sections["graph"] == "spatial", K.SAMPLE].astype(str).tolist()
    draw({
        **{f"{NICHE_FIGURES}/{n}": lambda save, n=n: pl.niche_outcomes(
            adata, n, show=False, save=save) for n in niches},
        **{f"{INTERACTION_FIGURES}/{n}": lambda save, n=n: pl.interactions(
            adata, niche=n, show=False, save=save) for n in niches},
        **{f"{SPATIAL_FIGURES}/{s}": lambda save, s=s: pl.spatial_niches(
            adata, s, show=False, save=save) for s in sections},
    }, output_dir(args, "figures", args.output), args.figure_format)
    io.write_h5ad(adata, args.output)
