"""A first look into every file of a sample sheet: enough to know it can be read.

``repertoire validate`` runs this before a workflow starts, so that a truncated matrix or a
table of the wrong sample fails in seconds with one sentence, not an hour into a run. Only
names and shapes are read (barcodes, features, the matrix header, and the genes per barcode
of a 10x ``.h5`` from its column pointers), never the counts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import _keys as K
from .._errors import InputError, reason
from .._logging import logger, progress
from ._samplesheet import MTX_NAMES

GENE_EXPRESSION = "Gene Expression"
# the name of Cell Ranger's matrix of every barcode, cells or not
UNFILTERED = "raw_feature_bc_matrix"
# A matrix of at least this many barcodes whose median barcode has fewer genes than this is
# every barcode of a run, whatever its name: in an unfiltered matrix most barcodes are empty
# droplets with a gene or two of ambient RNA, while no cell caller keeps tens of thousands of
# such barcodes. A small library whose cells all failed stays below the barcode floor.
UNFILTERED_MIN_BARCODES = 20_000
UNFILTERED_MAX_MEDIAN_GENES = 10
ENSEMBL_ID = r"^ENS[A-Z]*G\d{6,}(\.\d+)?$"
# .var columns that hold gene symbols beside Ensembl var_names (scanpy, CELLxGENE, others)
SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "gene_name", "feature_name", "symbol")
# what the parsers of the files raise on a file they cannot make sense of
UNREADABLE = (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError, EOFError)


def check_files(sheet: pd.DataFrame) -> None:
    """Open every file of a validated sample sheet far enough to know it can be read.

    Parameters
    ----------
    sheet
        A table returned by :func:`repertoire.io.read_samplesheet`.

    Raises
    ------
    InputError
        With one sentence naming the sample and file at fault and what is wrong: a matrix that
        does not open, barcodes listed twice, no gene-expression feature, a receptor table
        without its columns, a receptor or spatial table without a barcode of its sample.
    """
    from ._read import read_spatial

    for sample, row in progress(sheet.iterrows(), desc="checking files", total=len(sheet)):
        barcodes = expression_barcodes(row["gex"])
        for column in ("bcr", "tcr"):
            if isinstance(row.get(column), str) and row[column]:
                check_barcodes_match(receptor_barcodes(row[column]), barcodes,
                                     sample=str(sample), path=row[column], kind=column.upper())
        spatial = row.get("spatial")
        if isinstance(spatial, str) and spatial:
            check_barcodes_match(read_spatial(spatial).index, barcodes, sample=str(sample),
                                 path=spatial, kind="spatial")


def expression_barcodes(path: str | os.PathLike) -> pd.Index:
    """Return the barcodes of a gene-expression file after checking its names and shape.

    Parameters
    ----------
    path
        A 10x ``.h5`` (Cell Ranger 3 or later, or 2), a 10x matrix folder or an ``.h5ad``.

    Raises
    ------
    InputError
        If the file does not open, its barcodes, features and matrix disagree, a barcode is
        listed twice, it holds no cell or no gene-expression feature, or (a 10x ``.h5``) it
        is unfiltered (see :func:`check_called_cells`).
    """
    path = Path(path)
    genes_per_barcode = None  # read where it is cheap: from a 10x .h5's column pointers
    try:
        if path.is_dir():
            barcodes, feature_types, shape = _matrix_folder(path)
        elif path.suffix == ".h5ad":
            barcodes, feature_types, shape = _h5ad(path)
        else:
            barcodes, feature_types, shape, genes_per_barcode = _tenx_h5(path)
    except InputError:
        raise
    except UNREADABLE as error:
        raise InputError(
            f"gene-expression file {path} could not be read ({reason(error)})."
        ) from None
    if shape is not None and shape != (len(barcodes), len(feature_types)):
        raise InputError(
            f"gene-expression file {path} lists {len(barcodes)} barcodes and "
            f"{len(feature_types)} features, but its matrix is {shape[0]} cells x {shape[1]} "
            "features."
        )
    check_expression_names(path, pd.Index(barcodes), feature_types)
    if genes_per_barcode is not None:
        check_called_cells(path, genes_per_barcode)
    return pd.Index(barcodes)


def receptor_barcodes(path: str | os.PathLike) -> pd.Index:
    """Return the cell barcodes of a receptor file after checking that it reads.

    Parameters
    ----------
    path
        10x contigs (``.csv``, or ``.json``, which is parsed in full), an AIRR table
        (``.tsv``) or a Cell Ranger vdj folder. The barcodes of 10x contigs are those of cells
        with high confidence, the ones scirpy reads.

    Raises
    ------
    InputError
        If the table does not parse or lacks a column :func:`repertoire.io.read_vdj` needs.
    """
    from ._read import check_receptor_columns, read_json_contigs
    from ._samplesheet import vdj_folder_file

    path = Path(path)
    if path.is_dir():
        path = vdj_folder_file(path)
    airr = path.name.endswith((".tsv", ".tsv.gz"))
    try:
        if path.name.endswith(".json"):
            return pd.Index(dict.fromkeys(c["barcode"] for c in read_json_contigs(path)
                                          if c["is_cell"] and c["high_confidence"]))
        table = pd.read_csv(path, sep="\t" if airr else ",", dtype=str, keep_default_na=False)
    except UNREADABLE as error:
        raise InputError(f"receptor file {path} could not be read ({reason(error)}).") from None
    check_receptor_columns(path, table.columns, airr=airr)
    return pd.Index(table["cell_id" if airr else "barcode"].unique())


def check_expression_names(path: Path, barcodes: pd.Index, feature_types: pd.Series) -> None:
    """Refuse a matrix without cells, with a barcode twice, or without gene-expression features.

    Cell Ranger's unfiltered matrix (``raw_feature_bc_matrix``), every barcode of the run and
    mostly empty droplets, is refused by its name: read as cells it would pass QC in part and
    take hours. ``feature_types`` holds each feature's type (empty strings where the file has
    none).
    """
    if UNFILTERED in Path(path).name:
        raise InputError(f"gene-expression file {path} is Cell Ranger's unfiltered matrix "
                         "(every barcode, most of them empty droplets); give its "
                         "filtered_feature_bc_matrix instead.")
    if len(barcodes) == 0:
        raise InputError(f"gene-expression file {path} holds no cells; leave the sample out of "
                         "the sheet.")
    duplicated = barcodes[barcodes.duplicated()]
    if len(duplicated):
        raise InputError(f"gene-expression file {path} lists barcode '{duplicated[0]}' more "
                         f"than once ({len(duplicated)} barcodes repeat).")
    types = pd.Series(feature_types, dtype=str)
    if len(types) == 0 or not ((types == GENE_EXPRESSION) | (types == "")).any():
        found = ", ".join(sorted(set(types))) or "none"
        raise InputError(f"gene-expression file {path} holds no gene-expression features "
                         f"(feature types: {found}).")


def check_called_cells(path: Path, genes_per_barcode: np.ndarray) -> None:
    """Refuse an unfiltered matrix by its content: many barcodes, most of them nearly empty.

    ``genes_per_barcode`` counts the genes detected in each barcode (the stored entries of its
    column of counts). See :data:`UNFILTERED_MIN_BARCODES` for the rule, which also catches
    a renamed ``raw_feature_bc_matrix`` or another aligner's raw output.
    """
    n_barcodes = len(genes_per_barcode)
    if n_barcodes < UNFILTERED_MIN_BARCODES:
        return
    median = float(np.median(genes_per_barcode))
    if median < UNFILTERED_MAX_MEDIAN_GENES:
        raise InputError(
            f"gene-expression file {path} holds {n_barcodes:,} barcodes and the median one "
            f"has {median:g} genes detected: it looks unfiltered (every barcode, most of them "
            "empty droplets); give the matrix of called cells, such as Cell Ranger's "
            "filtered_feature_bc_matrix."
        )


def gene_symbols(var: pd.DataFrame, path: Path) -> pd.Index | None:
    """Return the gene symbols of a matrix whose genes are named by Ensembl IDs.

    ``None`` when ``var``'s index already holds symbols. A matrix named by IDs with a symbol
    column (see :data:`SYMBOL_COLUMNS`) gets that column; without one it is refused, since
    every marker panel and interaction is a list of symbols.
    """
    names = pd.Series(var.index.astype(str))
    if not len(names) or names.str.match(ENSEMBL_ID).mean() < 0.5:
        return None
    for column in SYMBOL_COLUMNS:
        if column in var:
            logger.info("gene-expression file %s names genes by Ensembl ID; its .var column "
                        "'%s' gives the symbols", path, column)
            return pd.Index(var[column].astype(str))
    raise InputError(
        f"gene-expression file {path} names its genes by Ensembl ID ('{names[0]}') and has no "
        f"column of symbols ({', '.join(SYMBOL_COLUMNS)}); marker panels need gene symbols."
    )


def note_species(symbols: pd.Index, path: Path) -> None:
    """Log the assumption made for symbols written the mouse way (``Cd19``, ``Ms4a1``)."""
    words = pd.Series(symbols.astype(str))
    words = words[words.str.contains("[A-Za-z]{2}", regex=True)]
    if len(words) and words.str.match(r"^[A-Z][a-z0-9]").mean() > 0.5:
        logger.warning(
            "gene-expression file %s: gene symbols are written the mouse way (%s); genes are "
            "matched to the human marker panels and interactions by upper-cased symbol, which "
            "holds for orthologues named alike", path, ", ".join(words.iloc[:2]))


def check_barcodes_match(table_barcodes: pd.Index, barcodes: pd.Index, *, sample: str,
                         path: str | os.PathLike, kind: str) -> None:
    """Refuse a per-cell table none of whose barcodes is a cell of its sample.

    The sentence shows a barcode from each side, so that a table of another sample or another
    barcode suffix (``-1`` against ``-2``) is seen at once.
    """
    if len(table_barcodes) and not table_barcodes.isin(barcodes).any():
        raise InputError(
            f"sample '{sample}': no barcode of {kind} file {path} is in its gene-expression "
            f"matrix (the table has '{table_barcodes[0]}', the matrix "
            f"'{barcodes[0] if len(barcodes) else 'no barcode'}')."
        )


def _decode(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def _tenx_h5(path: Path) -> tuple[np.ndarray, pd.Series, tuple[int, int], np.ndarray]:
    """Barcodes, feature types and shape of a 10x ``.h5``, and the genes of each barcode.

    The genes per barcode come from the column pointers of its (features x barcodes) matrix,
    one integer per barcode, so the counts themselves are not read.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        if "matrix" in handle:  # Cell Ranger 3 and later
            group = handle["matrix"]
            features = group["features"]
            types = (_decode(features["feature_type"][:]) if "feature_type" in features
                     else np.full(len(features["id"]), GENE_EXPRESSION))
        else:  # Cell Ranger 2: one group per genome
            groups = [g for g in handle.values() if isinstance(g, h5py.Group)]
            if not groups or "barcodes" not in groups[0]:
                raise InputError(f"gene-expression file {path} is an HDF5 file but not a 10x "
                                 "matrix (no 'matrix' group).")
            group = groups[0]
            types = np.full(len(group["genes"]), GENE_EXPRESSION)
        n_features, n_cells = (int(n) for n in group["shape"][:])
        genes_per_barcode = np.diff(group["indptr"][:])
        return (_decode(group["barcodes"][:]), pd.Series(types), (n_cells, n_features),
                genes_per_barcode)


def _h5ad(path: Path) -> tuple[np.ndarray, pd.Series, tuple[int, int] | None]:
    import h5py
    from anndata.io import read_elem

    with h5py.File(path, "r") as handle:
        obs, var = read_elem(handle["obs"]), read_elem(handle["var"])
        matrix = handle["layers"][K.COUNTS] if K.COUNTS in handle.get("layers", {}) else \
            handle.get("X")
        shape = None
        if matrix is not None:
            # a sparse matrix is a group with its shape as an attribute
            dims = matrix.attrs["shape"] if isinstance(matrix, h5py.Group) else matrix.shape
            shape = tuple(int(n) for n in dims)
    gene_symbols(var, path)
    types = (var["feature_types"].astype(str) if "feature_types" in var
             else pd.Series([""] * len(var)))
    return obs.index.to_numpy(), types.reset_index(drop=True), shape


def _matrix_folder(path: Path) -> tuple[np.ndarray, pd.Series, tuple[int, int]]:
    import scipy.io

    def first(*names: str) -> Path:
        for name in names:
            if (path / name).exists():
                return path / name
        raise InputError(f"gene-expression folder {path} has no {names[0]}.")

    matrix = first(*MTX_NAMES)
    barcodes = pd.read_csv(first("barcodes.tsv.gz", "barcodes.tsv"), sep="\t", header=None,
                           dtype=str)[0].to_numpy()
    features = pd.read_csv(first("features.tsv.gz", "features.tsv", "genes.tsv"), sep="\t",
                           header=None, dtype=str)
    types = features[2] if features.shape[1] > 2 else pd.Series([GENE_EXPRESSION] * len(features))
    n_features, n_cells = scipy.io.mminfo(str(matrix))[:2]
    if (n_cells, n_features) != (len(barcodes), len(features)):
        raise InputError(
            f"gene-expression folder {path}: barcodes.tsv lists {len(barcodes)} barcodes and "
            f"features.tsv {len(features)} features, but {matrix.name} is {n_features} "
            f"features x {n_cells} barcodes."
        )
    return barcodes, types.reset_index(drop=True), (n_cells, n_features)
