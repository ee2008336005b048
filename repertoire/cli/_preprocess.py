"""``repertoire preprocess``: normalise, integrate, embed and cluster the cohort."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .. import _keys as K
from ._base import (
    Step,
    add_cohort_io,
    add_step,
    positive,
    positive_float,
    read_h5ad,
    write_figures,
    write_tables,
)

if TYPE_CHECKING:
    pass

PREPROCESS = Step(
    "preprocess", "Normalise, integrate, embed and cluster the cohort.",
    """
    In:  the cohort .h5ad written by `repertoire merge` (raw counts in .layers["counts"]).
    Out: OUTPUT, the cohort with log-normalised .X, highly variable genes, PCA (and
         Harmony-integrated PCA unless --no-integrate), neighbour graph, UMAP and one
         Leiden clustering per resolution in .obs; in --tables clusters_by_sample.tsv (cells
         per clustering, cluster and sample); in --figures umap_clusters (one panel per
         resolution) and umap_samples (the cells coloured by their sample's patient,
         tissue and timepoint, to see how well integration mixed them).
    """,
    tables=("clusters_by_sample",),
    figures=("umap_clusters", "umap_samples"),
)
STEPS = (PREPROCESS,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``preprocess``."""
    parser = add_step(subparsers, common, PREPROCESS, _run)
    add_cohort_io(parser, PREPROCESS, source="merge")
    parser.add_argument("--resolutions", nargs="+", type=positive_float, default=[1.0],
                        metavar="R", help="Leiden resolutions, one clustering each (1.0)")
    parser.add_argument("--n-top-genes", type=positive, default=2000, metavar="N",
                        help="number of highly variable genes (2000)")
    parser.add_argument("--n-comps", type=positive, default=50, metavar="N",
                        help="number of principal components (50)")
    parser.add_argument("--no-integrate", dest="integrate", action="store_false",
                        help="skip Harmony integration across samples")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of every random step (0)")
    parser.add_argument("--threads", type=positive, default=1, metavar="N",
                        help="threads for neighbour search and embedding (1)")


def _run(args: argparse.Namespace) -> None:
    import scanpy as sc

    from .. import get, io, pl, pp, tl

    sc.settings.n_jobs = args.threads
    adata = read_h5ad(args.input)
    pp.preprocess(
        adata, n_top_genes=args.n_top_genes, n_comps=args.n_comps,
        integrate=args.integrate, random_state=args.seed,
    )
    tl.cluster(adata, resolutions=tuple(args.resolutions), random_state=args.seed)
    write_tables(args, PREPROCESS, {"clusters_by_sample": get.cluster_counts(adata)},
                 beside=args.output)
    write_figures(args, PREPROCESS, {
        "umap_clusters": lambda save: pl.embedding_panels(adata, get.cluster_keys(adata),
                                                          show=False, save=save),
        # one colour per sample would need a legend of up to hundreds of entries
        "umap_samples": lambda save: pl.embedding_panels(
            adata, [c for c in (K.PATIENT, K.TISSUE, K.TIMEPOINT) if c in adata.obs],
            show=False, save=save),
    }, beside=args.output)
    io.write_h5ad(adata, args.output)
