"""``repertoire preprocess``: normalise, integrate, embed and cluster the cohort."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
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
    import pandas as pd
    from anndata import AnnData

PREPROCESS = Step(
    "preprocess", "Normalise, integrate, embed and cluster the cohort.",
    """
    In:  the cohort .h5ad written by `repertoire merge` (raw counts in .layers["counts"]).
    Out: OUTPUT, the cohort with log-normalised .X, highly variable genes, PCA (and
         Harmony-integrated PCA unless --no-integrate), neighbour graph, UMAP and one
         Leiden clustering per resolution in .obs; in --tables clusters_by_sample.tsv (cells
         per clustering, cluster and sample); in --figures umap_clusters (one panel per
         resolution) and umap_samples.
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

    from .. import io, pl, pp, tl

    sc.settings.n_jobs = args.threads
    adata = read_h5ad(args.input)
    pp.preprocess(
        adata, n_top_genes=args.n_top_genes, n_comps=args.n_comps,
        integrate=args.integrate, random_state=args.seed,
    )
    tl.cluster(adata, resolutions=tuple(args.resolutions), random_state=args.seed)
    keys = cluster_keys(adata)
    write_tables(args, PREPROCESS, {"clusters_by_sample": cluster_counts(adata, keys)},
                 beside=args.output)
    write_figures(args, PREPROCESS, {
        "umap_clusters": lambda save: _panels(adata, keys, save),
        "umap_samples": lambda save: pl.embedding(adata, color=K.SAMPLE, show=False, save=save),
    }, beside=args.output)
    io.write_h5ad(adata, args.output)


def cluster_keys(adata: AnnData) -> list[str]:
    """Names of the Leiden clusterings made by :func:`repertoire.tl.cluster`.

    Parameters
    ----------
    adata
        Cells clustered by :func:`repertoire.tl.cluster` (its record in ``.uns["leiden"]``).

    Returns
    -------
    The ``.obs`` columns of the clusterings, one per resolution, in the order computed.
    """
    return list(adata.uns[K.LEIDEN]["params"]["keys"])


def cluster_counts(adata: AnnData, keys: Sequence[str]) -> pd.DataFrame:
    """Count cells per clustering, cluster and sample (a tidy table).

    Parameters
    ----------
    adata
        Cells with ``.obs["sample_id"]`` and the clusterings named in ``keys``.
    keys
        Categorical ``.obs`` columns holding cluster labels.

    Returns
    -------
    Columns ``clustering, cluster, sample_id, n_cells, fraction``, where ``fraction`` is the
    share of the sample's cells in that cluster; every cluster-sample pair appears, also
    with zero cells.
    """
    import pandas as pd

    tables = []
    for key in keys:
        counts = pd.crosstab(adata.obs[key], adata.obs[K.SAMPLE])
        fraction = counts / counts.sum(axis=0).replace(0, 1)
        table = counts.stack().rename("n_cells").to_frame()
        table["fraction"] = fraction.stack()
        table = table.rename_axis(["cluster", K.SAMPLE]).reset_index()
        table.insert(0, "clustering", key)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _panels(adata: AnnData, keys: Sequence[str], save: Path) -> None:
    """One UMAP panel per clustering, side by side."""
    import matplotlib.pyplot as plt

    from .. import pl
    from ..io._write import atomic_path

    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4.5), squeeze=False)
    for key, ax in zip(keys, axes[0], strict=True):
        pl.embedding(adata, color=key, ax=ax, show=False)
    with atomic_path(save) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
