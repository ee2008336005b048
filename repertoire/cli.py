"""The ``repertoire`` command: one subcommand per workflow step.

Every subcommand reads its inputs, calls the package's public functions and writes its outputs
atomically, so a user at a terminal and the Snakemake workflow run the same code. Errors in the
user's input (:class:`repertoire.InputError`) are printed as one sentence and exit with status 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from . import _keys as K
from ._errors import InputError
from ._logging import configure, logger

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

EXIT_INPUT_ERROR = 2
QC_COLUMNS = (K.LOW_QUALITY, K.DOUBLET)
# per-sample records written by pp.qc and joined by merge; the summary table inside .uns["qc"]
QC_RECORDS = (K.QC, K.LOW_QUALITY, K.DOUBLET)
QC_SUMMARY = "samples"
FIGURE_FORMATS = ("png", "pdf", "svg")
FIGURES = ("qc", "umap_clusters", "umap_samples")
ANNOTATE_FIGURES = ("cell_types", "markers", "composition")
RECEPTOR_COLUMNS = ("bcr", "tcr", "spatial")
# tables and figures of `repertoire bcr` (the workflow's rule expands these names)
BCR_TABLES = (
    "bcr_states", "clones", "diversity", "clone_tracking_samples", "clone_tracking_clones",
    "clone_tracking_occurrences", "reconstitution", "reconstitution_outcomes",
    "reconstitution_timepoints",
)
BCR_FIGURES = ("isotypes", "shm", "clone_tracking", "diversity", "reconstitution_cohort")
PATIENT_FIGURES = "reconstitution"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``repertoire`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    The exit status: 0 on success, 2 when the input is at fault (the reason is printed to
    stderr as ``error: <one sentence>``).
    """
    args = build_parser().parse_args(argv)
    configure(-1 if args.quiet else args.verbose)
    # receptor data live in awkward arrays by design; the notice would open every log
    warnings.filterwarnings("ignore", message="Support for Awkward Arrays is currently")
    try:
        args.run(args)
    except InputError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``repertoire`` command and its subcommands.

    Returns
    -------
    The parser; each subcommand stores its handler as ``run`` in the parsed namespace.
    """
    parser = argparse.ArgumentParser(
        prog="repertoire",
        description="Single-cell immune repertoire analysis after CD19 CAR-T therapy. "
        "Each subcommand is one step of the cart_reconstitution workflow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()
    for add in (_add_validate, _add_qc, _add_merge, _add_preprocess, _add_annotate, _add_bcr,
                _add_simulate):
        add(subparsers, common)
    return parser


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    verbosity = common.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="count", default=0, help="log debugging detail to stderr"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="log only warnings and errors to stderr"
    )
    return common


def _subcommand(
    subparsers: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    run: Callable[[argparse.Namespace], None],
    summary: str,
    details: str,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        parents=[common],
        help=summary,
        description=f"{summary}\n\n{textwrap.dedent(details).strip()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


# validate ------------------------------------------------------------------------------------


def _add_validate(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "validate", _run_validate,
        "Check a sample sheet and the files it names.",
        """
        In:  a tab-separated sample sheet, one row per sample, with columns sample_id,
             patient_id, timepoint, day, tissue, outcome, gex and optionally bcr, tcr,
             spatial (paths relative to the sheet).
        Out: one summary line on stdout (samples, patients, timepoints, tissues, receptor
             files) and exit status 0; or 'error: <reason>' on stderr and exit status 2.
        """,
    )
    parser.add_argument("sheet", type=Path, metavar="SHEET", help="the sample sheet (TSV)")


def _run_validate(args: argparse.Namespace) -> None:
    from .io import read_samplesheet

    print(describe_samplesheet(read_samplesheet(args.sheet), name=str(args.sheet)))


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
    files = [f"{c} {sheet[c].notna().sum()}/{len(sheet)}" for c in RECEPTOR_COLUMNS]
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


# qc ------------------------------------------------------------------------------------------


def _add_qc(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "qc", _run_qc,
        "Flag low-quality cells and doublets in one sample.",
        """
        In:  the sample sheet and one sample_id; the sample's gene-expression and receptor
             files are read from the sheet.
        Out: an .h5ad with ALL the sample's cells, raw counts in .layers["counts"], QC metrics
             and the flags obs["low_quality"], obs["predicted_doublet"], obs["doublet_score"],
             and the sample's QC summary in .uns["qc"]. Nothing is removed here: `repertoire
             merge` drops flagged cells.
        """,
    )
    parser.add_argument("--samplesheet", type=Path, required=True, metavar="SHEET",
                        help="the sample sheet (TSV)")
    parser.add_argument("--sample", required=True, metavar="ID", help="the sample_id to read")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the sample with its QC flags")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of doublet detection (0)")


def _run_qc(args: argparse.Namespace) -> None:
    from . import io, pp

    # chain indices are made once for the cohort by `merge`
    adata = io.read_cohort(args.samplesheet, samples=[args.sample], index_chains=False)
    pp.qc(adata, random_state=args.seed)
    logger.info(
        "sample %s: %d cells, %d low-quality, %d predicted doublets",
        args.sample, adata.n_obs, _count(adata, K.LOW_QUALITY), _count(adata, K.DOUBLET),
    )
    io.write_h5ad(adata, args.output)


def _count(adata: AnnData, column: str) -> int:
    return int(adata.obs[column].astype(bool).sum())


# merge ---------------------------------------------------------------------------------------


def _add_merge(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "merge", _run_merge,
        "Join per-sample QC results into one cohort and drop flagged cells.",
        """
        In:  the .h5ad files written by `repertoire qc`, one per sample.
        Out: one cohort .h5ad (QC columns kept in .obs, cells flagged low-quality or doublet
             removed unless --keep-flagged, the joined QC summary in .uns["qc"]) and a
             tab-separated QC summary with one row per sample.
        """,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="QC_H5AD",
                        help="per-sample outputs of `repertoire qc`")
    parser.add_argument("--output", type=Path, required=True, metavar="H5AD",
                        help="where to write the cohort")
    parser.add_argument("--summary", type=Path, required=True, metavar="TSV",
                        help="where to write the per-sample QC summary")
    parser.add_argument("--keep-flagged", action="store_true",
                        help="keep low-quality cells and doublets (flags stay in .obs)")


def _run_merge(args: argparse.Namespace) -> None:
    from . import io, pp

    parts = [_read_qc_output(path) for path in args.inputs]
    records = {
        key: join_records([part.uns[key] for part in parts])
        for key in QC_RECORDS if all(key in part.uns for part in parts)
    }
    cohort = io.concat_samples(parts)
    cohort.uns.update(records)
    if not args.keep_flagged:
        pp.filter_cells(cohort)
    io.write_table(records[K.QC][QC_SUMMARY], args.summary)
    io.write_h5ad(cohort, args.output)


def _read_qc_output(path: Path) -> AnnData:
    import pandas as pd

    adata = read_h5ad(path)
    for column in QC_COLUMNS:
        if column not in adata.obs:
            raise InputError(
                f"file {path} has no obs column '{column}'; make it with `repertoire qc`."
            )
    record = adata.uns.get(K.QC)
    if not isinstance(record, dict) or not isinstance(record.get(QC_SUMMARY), pd.DataFrame):
        raise InputError(
            f"file {path} has no QC summary in .uns['{K.QC}']['{QC_SUMMARY}']; "
            "make it with `repertoire qc`."
        )
    return adata


def join_records(records: Sequence[dict]) -> dict:
    """Join per-sample result records of ``.uns`` (tables plus parameters) into one.

    Parameters
    ----------
    records
        One record per sample, each a mapping such as ``.uns["qc"]`` of
        :func:`repertoire.pp.qc`: tables as DataFrames with one row per sample, and the
        parameters, identical across samples.

    Returns
    -------
    A mapping with the same keys: the tables stacked in the order of ``records``, every other
    value taken from the first record.
    """
    import pandas as pd

    first = records[0]
    return {
        key: pd.concat([r[key] for r in records], ignore_index=True)
        if isinstance(value, pd.DataFrame) else value
        for key, value in first.items()
    }


def read_h5ad(path: Path) -> AnnData:
    """Read an ``.h5ad`` written by an earlier step.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    The AnnData.

    Raises
    ------
    InputError
        If the file does not exist or is not a readable ``.h5ad``.
    """
    import anndata as ad

    if not path.is_file():
        raise InputError(f"input file {path} does not exist.")
    try:
        return ad.read_h5ad(path)
    except OSError as error:
        raise InputError(f"input file {path} is not a readable .h5ad file ({error}).") from None


# preprocess ----------------------------------------------------------------------------------


def _add_preprocess(
    subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subparsers, common, "preprocess", _run_preprocess,
        "Normalise, integrate, embed and cluster the cohort.",
        """
        In:  the cohort .h5ad written by `repertoire merge` (raw counts in .layers["counts"]).
        Out: OUTPUT, the cohort with log-normalised .X, highly variable genes, PCA (and
             Harmony-integrated PCA unless --no-integrate), neighbour graph, UMAP and one
             Leiden clustering per resolution in .obs; a tab-separated table of cells per
             cluster and sample (--clusters); and three figures in --figures: qc, umap_clusters
             (one panel per resolution) and umap_samples.
        """,
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="cohort .h5ad from merge")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the cohort")
    parser.add_argument("--resolutions", nargs="+", type=_positive_float, default=[1.0],
                        metavar="R", help="Leiden resolutions, one clustering each (1.0)")
    parser.add_argument("--n-top-genes", type=_positive, default=2000, metavar="N",
                        help="number of highly variable genes (2000)")
    parser.add_argument("--n-comps", type=_positive, default=50, metavar="N",
                        help="number of principal components (50)")
    parser.add_argument("--no-integrate", dest="integrate", action="store_false",
                        help="skip Harmony integration across samples")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of every random step (0)")
    parser.add_argument("--threads", type=_positive, default=1, metavar="N",
                        help="threads for neighbour search and embedding (1)")
    parser.add_argument("--clusters", type=Path, metavar="TSV",
                        help="cluster-by-sample counts (default: OUTPUT with _clusters.tsv)")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="figure directory (default: 'figures' beside OUTPUT)")
    parser.add_argument("--figure-format", choices=FIGURE_FORMATS, default="png",
                        help="figure file format (png)")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def _run_preprocess(args: argparse.Namespace) -> None:
    import scanpy as sc

    from . import io, pp, tl

    sc.settings.n_jobs = args.threads
    adata = read_h5ad(args.input)
    pp.preprocess(
        adata, n_top_genes=args.n_top_genes, n_comps=args.n_comps,
        integrate=args.integrate, random_state=args.seed,
    )
    tl.cluster(adata, resolutions=tuple(args.resolutions), random_state=args.seed)
    keys = cluster_keys(adata)
    figures = args.figures or args.output.parent / "figures"
    write_figures(adata, figures, keys=keys, fmt=args.figure_format)
    clusters = args.clusters or args.output.with_name(f"{args.output.stem}_clusters.tsv")
    io.write_table(cluster_counts(adata, keys), clusters)
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


def write_figures(adata: AnnData, directory: Path, *, keys: Sequence[str], fmt: str) -> None:
    """Draw the QC overview and UMAPs coloured by cluster and by sample.

    Parameters
    ----------
    adata
        The preprocessed and clustered cohort.
    directory
        Where to write ``qc.<fmt>``, ``umap_clusters.<fmt>`` and ``umap_samples.<fmt>``.
    keys
        The clusterings to show, one panel each.
    fmt
        File format, one of ``png``, ``pdf``, ``svg``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import pl
    from .io._write import atomic_path

    directory.mkdir(parents=True, exist_ok=True)
    drawings = {
        "qc": lambda save: pl.qc(adata, show=False, save=save),
        "umap_clusters": lambda save: _panels(adata, keys, save),
        "umap_samples": lambda save: pl.embedding(adata, color=K.SAMPLE, show=False, save=save),
    }
    for name in FIGURES:
        draw = drawings[name]
        with atomic_path(directory / f"{name}.{fmt}") as tmp:
            draw(tmp)
        plt.close("all")
        logger.info("wrote %s", directory / f"{name}.{fmt}")


def _panels(adata: AnnData, keys: Sequence[str], save: Path) -> None:
    import matplotlib.pyplot as plt

    from . import pl

    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4.5), squeeze=False)
    for key, ax in zip(keys, axes[0], strict=True):
        pl.embedding(adata, color=key, ax=ax, show=False)
    fig.savefig(save, bbox_inches="tight")


# annotate ------------------------------------------------------------------------------------


def _add_annotate(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "annotate", _run_annotate,
        "Name each cell's lineage and cell type, and detect CAR-T cells.",
        """
        In:  the cohort .h5ad written by `repertoire preprocess` (log-normalised .X, raw
             counts in .layers["counts"], the neighbour graph).
        Out: OUTPUT, the cohort with obs["lineage"], obs["cell_type"], their confidences and
             the calls behind them in .uns["annotation"], and obs["car_detected"] with the
             per-sample ambient estimates in .uns["car_detected"] (when the data hold the CAR
             feature); tab-separated tables of cell types per sample (--cell-types), of the
             marker evidence per cluster (--markers-table) and of CAR detection per sample
             (--car, header only without a CAR feature); and three figures in --figures:
             cell_types, markers and composition.
        """,
    )
    parser.add_argument("input", type=Path, metavar="INPUT",
                        help="cohort .h5ad from preprocess")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the cohort")
    parser.add_argument("--markers", type=Path, metavar="YAML",
                        help="marker panels to use instead of the shipped ones")
    parser.add_argument("--resolution", type=_positive_float, default=1.0, metavar="R",
                        help="Leiden resolution of the lineage clusters (1.0)")
    parser.add_argument("--subcluster-resolution", type=_positive_float, default=1.0,
                        metavar="R", help="Leiden resolution within each lineage (1.0)")
    parser.add_argument("--car-feature", default=K.CAR_FEATURE, metavar="NAME",
                        help=f"the CAR transgene feature ({K.CAR_FEATURE})")
    parser.add_argument("--car-alpha", type=_probability, default=0.01, metavar="P",
                        help="per-cell false-positive rate of CAR detection (0.01)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of every random step (0)")
    parser.add_argument("--threads", type=_positive, default=1, metavar="N",
                        help="threads for neighbour search (1)")
    parser.add_argument("--cell-types", type=Path, metavar="TSV",
                        help="cell types per sample (default: OUTPUT with _cell_types.tsv)")
    parser.add_argument("--markers-table", type=Path, metavar="TSV",
                        help="marker evidence per cluster (default: OUTPUT with _markers.tsv)")
    parser.add_argument("--car", type=Path, metavar="TSV",
                        help="CAR detection per sample (default: OUTPUT with _car.tsv)")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="figure directory (default: 'figures' beside OUTPUT)")
    parser.add_argument("--figure-format", choices=FIGURE_FORMATS, default="png",
                        help="figure file format (png)")


def _probability(value: str) -> float:
    number = float(value)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"{value} does not lie between 0 and 1")
    return number


def _run_annotate(args: argparse.Namespace) -> None:
    import pandas as pd
    import scanpy as sc

    from . import io, tl

    sc.settings.n_jobs = args.threads
    adata = read_h5ad(args.input)
    tl.annotate(adata, markers=args.markers, resolution=args.resolution,
                subcluster_resolution=args.subcluster_resolution, random_state=args.seed)
    tl.detect_car(adata, feature=args.car_feature, alpha=args.car_alpha)
    car = adata.uns.get(K.CAR_DETECTED, {}).get("samples", pd.DataFrame(columns=[K.SAMPLE]))
    figures = args.figures or args.output.parent / "figures"
    write_annotation_figures(adata, figures, fmt=args.figure_format)
    io.write_table(tl.composition(adata),
                   args.cell_types or args.output.with_name(f"{args.output.stem}_cell_types.tsv"))
    io.write_table(adata.uns[K.ANNOTATION]["markers"],
                   args.markers_table or args.output.with_name(f"{args.output.stem}_markers.tsv"))
    io.write_table(car, args.car or args.output.with_name(f"{args.output.stem}_car.tsv"))
    io.write_h5ad(adata, args.output)


def write_annotation_figures(adata: AnnData, directory: Path, *, fmt: str) -> None:
    """Draw lineages and cell types in the UMAP, their markers, and the composition per sample.

    Parameters
    ----------
    adata
        The annotated cohort (see :func:`repertoire.tl.annotate`).
    directory
        Where to write ``cell_types.<fmt>``, ``markers.<fmt>`` and ``composition.<fmt>``.
    fmt
        File format, one of ``png``, ``pdf``, ``svg``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import pl

    directory.mkdir(parents=True, exist_ok=True)
    drawings = {
        "cell_types": lambda save: pl.cell_types(adata, show=False, save=save),
        "markers": lambda save: pl.marker_dotplot(
            adata, markers=adata.uns[K.ANNOTATION]["params"]["markers"], show=False, save=save
        ),
        "composition": lambda save: pl.composition(adata, show=False, save=save),
    }
    for name in ANNOTATE_FIGURES:
        drawings[name](directory / f"{name}.{fmt}")
        plt.close("all")
        logger.info("wrote %s", directory / f"{name}.{fmt}")


# bcr -----------------------------------------------------------------------------------------


def _add_bcr(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "bcr", _run_bcr,
        "Call B-cell states and clones, follow clones over time and measure reconstitution.",
        """
        In:  the cohort .h5ad (receptors in .obsm["airr"]; .obs["lineage"], ["cell_type"] and
             ["car_detected"] are used when present, else the receptor alone decides).
        Out: OUTPUT, the cohort with .obs isotype, shm_rate, bcr_state, clone_id,
             clonal_expansion, preexisting and the results in .uns; one tab-separated table
             per result in --tables (bcr_states, clones, diversity, clone_tracking_samples,
             clone_tracking_clones, clone_tracking_occurrences, reconstitution (one row per
             sample), reconstitution_outcomes, reconstitution_timepoints); figures in
             --figures (isotypes, shm, clone_tracking, diversity, reconstitution_cohort) and
             one time course per patient in --figures/reconstitution/.
        """,
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="cohort .h5ad")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the cohort")
    parser.add_argument("--naive-max-shm", type=_fraction, default=0.01, metavar="F",
                        help="IGHM/IGHD cells mutated less than this are naive (0.01)")
    parser.add_argument("--memory-min-shm", type=_fraction, default=0.01, metavar="F",
                        help="IGHM/IGHD cells mutated at least this much are memory (0.01)")
    parser.add_argument("--bcr-cutoff", type=int, default=15, metavar="PERCENT",
                        help="largest junction distance within a B-cell clone, in %% (15)")
    parser.add_argument("--aplasia-below", type=float, default=5.0, metavar="N",
                        help="B cells per 1000 cells below which a sample is aplastic (5)")
    parser.add_argument("--reference-timepoint", default="baseline", metavar="NAME",
                        help="timepoint the others are compared with within patients (baseline)")
    parser.add_argument("--n-boot", type=_positive, default=2000, metavar="N",
                        help="bootstrap resamples of patients per interval (2000)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of rarefaction and bootstrap (0)")
    parser.add_argument("--threads", type=_positive, default=1, metavar="N",
                        help="threads for junction distances (1)")
    parser.add_argument("--tables", type=Path, metavar="DIR",
                        help="table directory (default: 'tables' beside OUTPUT)")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="figure directory (default: 'figures' beside OUTPUT)")
    parser.add_argument("--figure-format", choices=FIGURE_FORMATS, default="png",
                        help="figure file format (png)")


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction between 0 and 1")
    return number


def _run_bcr(args: argparse.Namespace) -> None:
    from . import io, tl

    adata = read_h5ad(args.input)
    tl.bcr_state(adata, naive_max_shm=args.naive_max_shm, memory_min_shm=args.memory_min_shm)
    tl.clonotypes(adata, bcr_cutoff=args.bcr_cutoff, n_jobs=args.threads)
    tl.diversity(adata, random_state=args.seed)
    tl.track_clones(adata)
    tl.reconstitution(adata, aplasia_below=args.aplasia_below,
                      reference_timepoint=args.reference_timepoint, n_boot=args.n_boot,
                      random_state=args.seed)
    tables_dir = args.tables or args.output.parent / "tables"
    for name, table in bcr_tables(adata).items():
        io.write_table(table, tables_dir / f"{name}.tsv")
    write_bcr_figures(adata, args.figures or args.output.parent / "figures",
                      fmt=args.figure_format)
    io.write_h5ad(adata, args.output)


def bcr_tables(adata: AnnData) -> dict[str, pd.DataFrame]:
    """Collect the tidy tables of the BCR step under the names of :data:`BCR_TABLES`.

    Parameters
    ----------
    adata
        The cohort after :func:`repertoire.tl.bcr_state`, :func:`repertoire.tl.clonotypes`,
        :func:`repertoire.tl.diversity`, :func:`repertoire.tl.track_clones` and
        :func:`repertoire.tl.reconstitution` with their default keys.

    Returns
    -------
    One table per name of :data:`BCR_TABLES`.
    """
    tracking, reconstitution = adata.uns[K.CLONE_TRACKING], adata.uns[K.RECONSTITUTION]
    return {
        "bcr_states": adata.uns[K.BCR_STATE]["summary"],
        "clones": adata.uns[K.CLONE]["clones"],
        "diversity": adata.uns[K.DIVERSITY]["table"],
        "clone_tracking_samples": tracking["samples"],
        "clone_tracking_clones": tracking["clones"],
        "clone_tracking_occurrences": tracking["occurrences"],
        "reconstitution": reconstitution["samples"],
        "reconstitution_outcomes": reconstitution["outcomes"],
        "reconstitution_timepoints": reconstitution["timepoints"],
    }


def write_bcr_figures(adata: AnnData, directory: Path, *, fmt: str) -> None:
    """Draw the figures of the BCR step, and one reconstitution time course per patient.

    Parameters
    ----------
    adata
        The cohort after the BCR step (see :func:`bcr_tables`).
    directory
        Where to write ``<name>.<fmt>`` for each of :data:`BCR_FIGURES`, and
        ``reconstitution/<patient>.<fmt>`` for every patient.
    fmt
        File format, one of ``png``, ``pdf``, ``svg``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import pl

    drawings = {
        "isotypes": pl.isotypes, "shm": pl.shm, "clone_tracking": pl.clone_tracking,
        "diversity": pl.diversity,
        "reconstitution_cohort": lambda a, **kw: pl.reconstitution_cohort(
            a, metric="frac_naive_bcr", **kw),
    }
    for name in BCR_FIGURES:
        drawings[name](adata, show=False, save=directory / f"{name}.{fmt}")
        plt.close("all")
    patients = adata.uns[K.RECONSTITUTION]["samples"][K.PATIENT].astype(str).unique()
    (directory / PATIENT_FIGURES).mkdir(parents=True, exist_ok=True)
    for patient in patients:
        pl.reconstitution(adata, patient, show=False,
                          save=directory / PATIENT_FIGURES / f"{patient}.{fmt}")
        plt.close("all")
    logger.info("wrote %d figures to %s", len(BCR_FIGURES) + len(patients), directory)


# simulate ------------------------------------------------------------------------------------


def _add_simulate(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = _subcommand(
        subparsers, common, "simulate", _run_simulate,
        "Write a simulated cohort as Cell Ranger-like files.",
        """
        In:  nothing but the options below.
        Out: OUTDIR/<sample>/count/filtered_feature_bc_matrix.h5 and receptor files per
             sample, plus OUTDIR/samples.tsv, a sample sheet ready for `repertoire validate`
             and the workflow. The cells carry the simulator's ground truth (true_* columns).
        """,
    )
    parser.add_argument("outdir", type=Path, metavar="OUTDIR", help="where to write the cohort")
    parser.add_argument("--patients", type=_positive, default=11, metavar="N",
                        help="number of patients (11)")
    parser.add_argument("--relapses", type=int, default=2, metavar="N",
                        help="how many of them relapse (2)")
    parser.add_argument("--cells-per-sample", type=_positive, metavar="N",
                        help="cells per sample (the simulator's default)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (0)")
    parser.add_argument("--compress", action="store_true",
                        help="gzip the receptor and truth tables")


def _run_simulate(args: argparse.Namespace) -> None:
    from . import datasets

    if not 0 <= args.relapses <= args.patients:
        raise InputError(
            f"--relapses {args.relapses} must lie between 0 and --patients {args.patients}."
        )
    options = {} if args.cells_per_sample is None else {"cells_per_sample": args.cells_per_sample}
    adata = datasets.simulate_cohort(
        n_patients=args.patients, n_relapse=args.relapses, seed=args.seed, **options
    )
    datasets.write_cellranger(adata, args.outdir, compress=args.compress)
    sheet = args.outdir / "samples.tsv"
    print(
        f"wrote {adata.obs[K.SAMPLE].nunique()} samples of {args.patients} patients "
        f"({adata.n_obs} cells); sample sheet: {sheet}"
    )
