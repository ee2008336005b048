"""``repertoire annotate``: name each cell's lineage and cell type, and detect CAR-T cells."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import _keys as K
from ._base import (
    Step,
    add_cohort_io,
    add_step,
    positive,
    positive_float,
    probability,
    read_h5ad,
    write_figures,
    write_tables,
)

ANNOTATE = Step(
    "annotate", "Name each cell's lineage and cell type, and detect CAR-T cells.",
    """
    In:  the cohort .h5ad written by `repertoire preprocess` (log-normalised .X, raw
         counts in .layers["counts"], the neighbour graph).
    Out: OUTPUT, the cohort with obs["lineage"], obs["cell_type"], their confidences and
         the calls behind them in .uns["annotation"], and obs["car_detected"] with the
         per-sample ambient estimates in .uns["car_detected"] (when the data hold the CAR
         feature); in --tables cell_types_by_sample.tsv, annotation_markers.tsv (the marker
         evidence per cluster) and car_by_sample.tsv (header only without a CAR feature); in
         --figures cell_types, markers and composition.
    """,
    tables=("cell_types_by_sample", "annotation_markers", "car_by_sample"),
    figures=("cell_types", "markers", "composition"),
)
STEPS = (ANNOTATE,)


def add(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``annotate``."""
    parser = add_step(subparsers, common, ANNOTATE, _run)
    add_cohort_io(parser, ANNOTATE, source="preprocess")
    parser.add_argument("--markers", type=Path, metavar="YAML",
                        help="marker panels to use instead of the shipped ones")
    parser.add_argument("--resolution", type=positive_float, default=1.0, metavar="R",
                        help="Leiden resolution of the lineage clusters (1.0)")
    parser.add_argument("--subcluster-resolution", type=positive_float, default=1.0,
                        metavar="R", help="Leiden resolution within each lineage (1.0)")
    parser.add_argument("--car-feature", default=K.CAR_FEATURE, metavar="NAME",
                        help=f"the CAR transgene feature ({K.CAR_FEATURE})")
    parser.add_argument("--car-alpha", type=probability, default=0.01, metavar="P",
                        help="per-cell false-positive rate of CAR detection (0.01)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of every random step (0)")
    parser.add_argument("--threads", type=positive, default=1, metavar="N",
                        help="threads for neighbour search (1)")


def _run(args: argparse.Namespace) -> None:
    import scanpy as sc

    from .. import get, io, pl, tl

    sc.settings.n_jobs = args.threads
    adata = read_h5ad(args.input)
    tl.annotate(adata, markers=args.markers, resolution=args.resolution,
                subcluster_resolution=args.subcluster_resolution, random_state=args.seed)
    tl.detect_car(adata, feature=args.car_feature, alpha=args.car_alpha)
    write_tables(args, ANNOTATE, {
        "cell_types_by_sample": get.cell_types(adata),
        "annotation_markers": get.annotation(adata),
        "car_by_sample": get.car(adata),
    }, beside=args.output)
    panels = adata.uns[K.ANNOTATION][K.PARAMS]["markers"]
    write_figures(args, ANNOTATE, {
        "cell_types": lambda save: pl.cell_types(adata, show=False, save=save),
        "markers": lambda save: pl.marker_dotplot(adata, markers=panels, show=False, save=save),
        "composition": lambda save: pl.composition(adata, show=False, save=save),
    }, beside=args.output)
    io.write_h5ad(adata, args.output)
