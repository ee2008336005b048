"""Readers: 10x gene expression, receptor contigs through scirpy, spatial coordinates, cohorts."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import awkward as ak
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._errors import InputError, reason
from .._logging import logger, progress
from ._airr import align_airr, concat_airr, empty_airr, merge_chains
from ._probe import (
    check_barcodes_match,
    check_called_cells,
    check_expression_names,
    gene_symbols,
    note_species,
)
from ._samplesheet import FILE_COLUMNS, read_samplesheet, vdj_folder_file

PROTEIN = "protein"
# columns a receptor table must have: 10x contigs, AIRR rearrangements
TENX_COLUMNS = ("barcode", "chain", "cdr3", "v_gene", "c_gene")
# the fields of a contig in 10x all_contig_annotations.json that scirpy reads
TENX_JSON_FIELDS = ("barcode", "contig_name", "is_cell", "high_confidence", "productive",
                    "annotations", "cdr3", "cdr3_seq", "umi_count", "read_count", "sequence",
                    "aa_sequence")
AIRR_COLUMNS = ("cell_id", "junction_aa")
# scirpy's default chain filters: productive chains with a junction
CHAIN_FILTER = ("productive", "require_junction_aa")


def read_gex(path: str | os.PathLike) -> AnnData:
    """Read one sample's gene-expression counts.

    Parameters
    ----------
    path
        A 10x ``filtered_feature_bc_matrix.h5``, a 10x matrix directory (``matrix.mtx[.gz]``,
        ``barcodes.tsv[.gz]``, ``features.tsv[.gz]``) or an ``.h5ad`` whose
        ``.layers["counts"]``, ``.X`` or, where ``.X`` is normalised, ``.raw.X`` holds raw
        counts (the first of these).

    Returns
    -------
    Cells x genes with raw counts as CSR float32 in ``.X``, gene symbols (made unique) as
    ``var_names`` and ``gene_ids`` in ``.var``. Antibody-capture features (CITE-seq), when present,
    are moved to ``.obsm["protein"]`` as a DataFrame.
    """
    path = Path(path)
    try:
        if path.is_dir():
            adata = _read_mtx_dir(path)
        elif path.suffix == ".h5ad":
            adata = _h5ad_counts(path)
        else:
            adata = sc.read_10x_h5(path, gex_only=False)
    except (OSError, KeyError, ValueError) as error:
        raise InputError(f"gene-expression file {path} could not be read: {error}") from None
    if adata.X is None:
        raise InputError(f"gene-expression file {path} holds no count matrix.")
    check_expression_names(path, adata.obs_names, adata.var.get(
        "feature_types", pd.Series([""] * adata.n_vars)))
    symbols = gene_symbols(adata.var, path)
    if symbols is not None:
        adata.var["gene_ids"] = adata.var_names.to_numpy()
        adata.var_names = symbols
    note_species(adata.var_names, path)
    repeated = adata.var_names.duplicated().sum()
    if repeated:
        logger.info("gene-expression file %s: %d gene names occur more than once; each repeat "
                    "gets a suffix (-1, -2, ...) as scanpy's var_names_make_unique gives it",
                    path, repeated)
    adata.var_names_make_unique()
    if "feature_types" in adata.var:
        is_protein = (adata.var["feature_types"] == "Antibody Capture").to_numpy()
        if is_protein.any():
            protein = adata[:, is_protein].X
            protein = protein.toarray() if sp.issparse(protein) else np.asarray(protein)
            adata.obsm[PROTEIN] = pd.DataFrame(
                protein, index=adata.obs_names, columns=adata.var_names[is_protein]
            )
        adata = adata[:, adata.var["feature_types"] == "Gene Expression"].copy()
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    _check_counts(adata.X, path)
    check_called_cells(path, np.diff(adata.X.indptr))
    return adata


def _read_mtx_dir(path: Path) -> AnnData:
    """Read a 10x matrix directory: gzipped v3 and legacy layouts via scanpy, unzipped v3 here."""
    unzipped_v3 = (path / "matrix.mtx").exists() and (path / "features.tsv").exists()
    if not unzipped_v3:
        return sc.read_10x_mtx(path, var_names="gene_symbols", gex_only=False)
    import scipy.io

    features = pd.read_csv(path / "features.tsv", sep="\t", header=None)
    barcodes = pd.read_csv(path / "barcodes.tsv", sep="\t", header=None)[0].astype(str)
    var = pd.DataFrame(
        {"gene_ids": features[0].astype(str).to_numpy()}, index=features[1].astype(str).to_numpy()
    )
    if features.shape[1] > 2:
        var["feature_types"] = features[2].astype(str).to_numpy()
    counts = scipy.io.mmread(path / "matrix.mtx").T.tocsr()
    return AnnData(X=counts, obs=pd.DataFrame(index=barcodes.to_numpy()), var=var)


def _h5ad_counts(path: Path) -> AnnData:
    """Read the raw counts of an ``.h5ad``: ``.layers["counts"]``, else ``.X``, else ``.raw.X``.

    ``.raw.X`` is taken only when ``.X`` holds normalised values and ``.raw.X`` counts, as in
    CELLxGENE's files; its genes (``.raw.var``) come with it.
    """
    adata = ad.read_h5ad(path)
    if K.COUNTS in adata.layers:
        return AnnData(X=adata.layers[K.COUNTS], obs=adata.obs[[]], var=adata.var)
    raw = adata.raw
    if raw is not None and not _holds_counts(adata.X) and _holds_counts(raw.X):
        logger.info("gene-expression file %s: .X holds normalised values; the raw counts of "
                    ".raw.X are read (%d genes)", path, raw.n_vars)
        return AnnData(X=raw.X, obs=adata.obs[[]], var=raw.var)
    return AnnData(X=adata.X, obs=adata.obs[[]], var=adata.var)


def _holds_counts(matrix: object) -> bool:
    """Return whether ``matrix`` holds only non-negative whole numbers (``None`` does not)."""
    if matrix is None:
        return False
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    return not values.size or bool(values.min() >= 0 and np.all(values == np.round(values)))


def _check_counts(matrix: sp.csr_matrix, path: Path) -> None:
    if not _holds_counts(matrix):
        raise InputError(
            f"gene-expression file {path} does not hold raw counts (found negative or "
            "non-integer values); give the unnormalised matrix."
        )


def read_vdj(path: str | os.PathLike) -> AnnData:
    """Read one receptor file (BCR or TCR) into scirpy's data model.

    Parameters
    ----------
    path
        10x ``filtered_contig_annotations.csv`` (or ``all_contig_annotations.json``), read with
        :func:`scirpy.io.read_10x_vdj`, an AIRR rearrangement ``.tsv``, read with
        :func:`scirpy.io.read_airr`, or a Cell Ranger ``vdj_b``/``vdj_t`` output folder, of
        which its ``airr_rearrangement.tsv`` is read, else its
        ``filtered_contig_annotations.csv`` (the log says which; only the AIRR table holds
        the sequences somatic hypermutation needs). ``.gz`` compression is accepted.

    Returns
    -------
    One observation per cell barcode, chains as AIRR records in ``.obsm["airr"]``, no expression.
    """
    import scirpy as ir

    path = Path(path)
    if path.is_dir():
        path = vdj_folder_file(path)
        logger.info("receptor folder %s: reading %s", path.parent, path.name)
        if path.name.startswith("filtered_contig_annotations"):
            logger.warning(
                "receptor folder %s has no airr_rearrangement.tsv: without contig sequences "
                "the V-region mutation (SHM) of its B cells cannot be measured", path.parent,
            )
    name = path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            if name.endswith((".tsv", ".tsv.gz")):
                table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
                check_receptor_columns(path, table.columns, airr=True)
                if "locus" not in table.columns:
                    # Cell Ranger's airr_rearrangement.tsv has none: the gene calls tell it
                    table["locus"] = _locus(table)
                adata = ir.io.read_airr(_typed_airr(table)) if len(table) else _no_cells()
            elif name.endswith(".json"):
                adata = ir.io.read_10x_vdj(path) if read_json_contigs(path) else _no_cells()
            elif name.endswith((".csv", ".csv.gz")):
                table = pd.read_csv(path, nrows=1)
                check_receptor_columns(path, table.columns, airr=False)
                adata = ir.io.read_10x_vdj(path) if len(table) else _no_cells()
            else:
                raise InputError(f"receptor file {path} is neither 10x contigs nor AIRR TSV.")
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, EOFError) as error:
        raise InputError(f"receptor file {path} could not be read ({reason(error)}).") from None
    adata.obs = adata.obs[[]]
    return adata


def _no_cells() -> AnnData:
    """Return a receptor file without any cell: normal for a sample during B-cell aplasia."""
    adata = AnnData(obs=pd.DataFrame(index=pd.Index([], dtype=str)))
    adata.obsm[K.AIRR] = empty_airr(0)
    return adata


def check_receptor_columns(path: Path, columns: pd.Index, *, airr: bool) -> None:
    """Refuse a receptor table without a column :func:`read_vdj` needs.

    10x contigs need :data:`TENX_COLUMNS`; AIRR tables :data:`AIRR_COLUMNS` and ``locus``,
    or ``v_call`` to tell the locus from (Cell Ranger's AIRR table has no ``locus``).
    """
    required = ((*AIRR_COLUMNS, "v_call" if "v_call" in columns else "locus") if airr
                else TENX_COLUMNS)
    for column in required:
        if column not in columns:
            raise InputError(f"receptor file {path} has no column '{column}'.")


def read_json_contigs(path: Path) -> list[dict]:
    """Read 10x ``all_contig_annotations.json``, refusing a contig without a field scirpy reads.

    Raises the parser's own errors for the caller to word; an :class:`InputError` naming the
    file, the contig's position and the field for a contig that lacks one.
    """
    with open(path, encoding="utf-8") as handle:
        contigs = json.load(handle)
    if not isinstance(contigs, list) or not all(isinstance(c, dict) for c in contigs):
        raise InputError(f"receptor file {path} is not a list of 10x contigs.")
    for number, contig in enumerate(contigs, start=1):
        for field in TENX_JSON_FIELDS:
            if field not in contig:
                raise InputError(f"receptor file {path} contig {number} has no field '{field}'.")
    return contigs


def _locus(table: pd.DataFrame) -> pd.Series:
    """Return the locus of each chain from its V, J or C call (``IGHV3-23`` -> ``IGH``)."""
    locus = pd.Series("", index=table.index)
    for column in ("c_call", "j_call", "v_call"):
        if column in table.columns:
            calls = table[column].fillna("").str[:3].str.upper()
            locus = locus.where(~calls.str.match(r"^(IG[HKL]|TR[ABGD])$"), calls)
    return locus


# AIRR rearrangement fields that are not strings (AIRR schema types)
_AIRR_BOOLEAN = ("productive", "rev_comp", "vj_in_frame", "stop_codon", "complete_vdj", "is_cell")
_AIRR_INTEGER_SUFFIXES = ("_count", "_start", "_end", "_length")
_AIRR_FLOAT = ("v_identity", "d_identity", "j_identity", "c_identity", "v_score", "d_score",
               "j_score", "c_score", "v_support", "d_support", "j_support", "c_support")


def _typed_airr(table: pd.DataFrame) -> pd.DataFrame:
    """Give an AIRR table read as text its schema types, with empty cells as missing."""
    typed = table.replace({"": None})
    for column in typed.columns:
        values = typed[column]
        if column in _AIRR_BOOLEAN:
            mapping = {"T": True, "TRUE": True, "F": False, "FALSE": False}
            typed[column] = values.map(
                lambda v, m=mapping: None if v is None else m.get(str(v).upper())
            )
        elif column in _AIRR_FLOAT or (
            column.endswith(_AIRR_INTEGER_SUFFIXES) and column != "cell_id"
        ):
            numeric = pd.to_numeric(values, errors="coerce")
            if column.endswith(_AIRR_INTEGER_SUFFIXES) and column not in _AIRR_FLOAT:
                typed[column] = [None if pd.isna(v) else int(v) for v in numeric]
            else:
                typed[column] = [None if pd.isna(v) else float(v) for v in numeric]
    return typed


def read_spatial(path: str | os.PathLike) -> pd.DataFrame:
    """Read the cell coordinates of one sample.

    The table has the columns ``barcode, x, y``, or Xenium's ``cell_id, x_centroid,
    y_centroid``.

    Parameters
    ----------
    path
        Comma- or tab-separated table, optionally gzipped.

    Returns
    -------
    Coordinates ``x``, ``y`` indexed by barcode.
    """
    path = Path(path)
    sep = "\t" if ".tsv" in path.suffixes else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype={"barcode": str, "cell_id": str})
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as error:
        raise InputError(f"spatial file {path} could not be read ({reason(error)}).") from None
    table = table.rename(columns={"cell_id": "barcode", "x_centroid": "x", "y_centroid": "y"})
    for column in ("barcode", "x", "y"):
        if column not in table.columns:
            raise InputError(f"spatial file {path} has no column '{column}' (it has "
                             f"{', '.join(map(str, table.columns[:6]))}).")
    for column in ("x", "y"):
        numbers = pd.to_numeric(table[column], errors="coerce")
        wrong = numbers.isna() & table[column].notna()
        if wrong.any():
            raise InputError(f"spatial file {path}: column '{column}' holds "
                             f"'{table.loc[wrong, column].iloc[0]}', which is not a number.")
        table[column] = numbers
    return table.set_index("barcode")[["x", "y"]].astype(float)


def read_cohort(
    samplesheet: str | os.PathLike | pd.DataFrame,
    *,
    samples: Sequence[str] | None = None,
    index_chains: bool = True,
) -> AnnData:
    """Read every sample of a cohort into one AnnData, sample by sample.

    Parameters
    ----------
    samplesheet
        Path to the sample sheet (see :func:`read_samplesheet`) or its validated table.
    samples
        Read only these ``sample_id`` values (in this order); default all.
    index_chains
        See :func:`concat_samples`.

    Returns
    -------
    Cells x genes with

    - ``.layers["counts"]``: raw counts, sparse; ``.X`` is ``None`` until
      :func:`repertoire.pp.normalize`;
    - ``.obs``: ``sample_id, patient_id, timepoint, day, tissue, outcome`` (and any further sheet
      column) as categoricals, ``day`` as integer, ``barcode`` the 10x barcode;
      observation names ``{sample_id}_{barcode}``;
    - ``.obsm["airr"]``, ``.obsm["chain_indices"]``: BCR and TCR chains in scirpy's model
      (cells without a receptor hold an empty list; no chain indices without
      ``index_chains``);
    - ``.obsm["spatial"]`` when any sample has coordinates (NaN for cells without);
    - ``.obsm["protein"]`` when any sample has antibody-capture features.
    """
    sheet = samplesheet if isinstance(samplesheet, pd.DataFrame) else read_samplesheet(samplesheet)
    if samples is not None:
        unknown = [s for s in samples if s not in sheet.index]
        if unknown:
            raise InputError(f"sample '{unknown[0]}' is not in the sample sheet.")
        sheet = sheet.loc[list(samples)]
    parts = [
        _read_sample(row)
        for _, row in progress(sheet.iterrows(), desc="reading samples", total=len(sheet))
    ]
    adata = concat_samples(parts, index_chains=index_chains)
    logger.info("read %d samples: %d cells x %d genes", len(parts), adata.n_obs, adata.n_vars)
    return adata


def _read_sample(row: pd.Series) -> AnnData:
    sample = row[K.SAMPLE]
    adata = read_gex(row["gex"])
    barcodes = adata.obs_names.copy()
    receptors = []
    for column in ("bcr", "tcr"):
        if _given(row.get(column)):
            receptors.append(read_vdj(row[column]))
            check_barcodes_match(receptors[-1].obs_names, barcodes, sample=sample,
                                 path=row[column], kind=column.upper())
    adata.obsm[K.AIRR] = _sample_airr(receptors, barcodes, sample)
    if _given(row.get("spatial")):
        table = read_spatial(row["spatial"])
        check_barcodes_match(table.index, barcodes, sample=sample, path=row["spatial"],
                             kind="spatial")
        adata.obsm[K.SPATIAL] = table.reindex(barcodes).to_numpy()
    metadata = {c: row[c] for c in row.index if c not in FILE_COLUMNS}
    adata.uns[K.INPUTS] = {K.TABLE_FILES: input_files(row)}
    adata.obs = pd.DataFrame(
        {K.BARCODE: barcodes.to_numpy(), **{c: [v] * adata.n_obs for c, v in metadata.items()}},
        index=pd.Index([f"{sample}_{b}" for b in barcodes]),
    )
    logger.debug("sample %s: %d cells", sample, adata.n_obs)
    return adata


def input_files(row: pd.Series) -> pd.DataFrame:
    """Return the files of one sample-sheet row with their SHA-256 checksums.

    Parameters
    ----------
    row
        One row of :func:`read_samplesheet` (its name the ``sample_id``).

    Returns
    -------
    One row per file column given: ``sample_id``, ``kind`` (the column), ``path`` and
    ``sha256`` (of a 10x matrix directory: of its files' names and contents, in name order).
    """
    rows = [{K.SAMPLE: str(row.name), "kind": column, "path": str(row[column]),
             "sha256": checksum(Path(row[column]))}
            for column in FILE_COLUMNS if _given(row.get(column))]
    return pd.DataFrame(rows, columns=[K.SAMPLE, "kind", "path", "sha256"])


def checksum(path: Path) -> str:
    """Return the SHA-256 of a file, or of a directory's files (names, contents; name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _given(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _sample_airr(receptors: list[AnnData], barcodes: pd.Index, sample: str):
    if not receptors:
        return empty_airr(len(barcodes))
    for receptor in receptors:
        outside = (~receptor.obs_names.isin(barcodes)).sum()
        if outside:
            logger.info(
                "sample %s: %d receptor barcodes are not cells of the expression matrix; dropped",
                sample, outside,
            )
    return merge_chains(
        [align_airr(r.obsm[K.AIRR], r.obs_names, barcodes) for r in receptors]
    )


def concat_samples(parts: Sequence[AnnData], *, index_chains: bool = True) -> AnnData:
    """Join per-sample AnnData objects into one cohort.

    Genes are intersected (a warning names the samples whose genes differ), counts stay sparse,
    receptor records are harmonised across samples (see :func:`repertoire.io.concat_airr`) and
    re-indexed with :func:`scirpy.pp.index_chains`, and sample metadata become categoricals.
    Result records that every part holds in ``.uns`` with per-sample tables (those of
    :func:`repertoire.pp.qc` run sample by sample) are joined: tables stacked in the order of
    ``parts``, parameters taken from the first part.

    Parameters
    ----------
    parts
        AnnData objects, one per sample, each with counts in ``.X`` or ``.layers["counts"]``,
        sample metadata in ``.obs`` and receptor records in ``.obsm["airr"]``.
    index_chains
        Choose each cell's primary and secondary chains with :func:`scirpy.pp.index_chains`
        (``.obsm["chain_indices"]``). Its first call in a process compiles code for several
        seconds, so per-sample steps that only pass receptor records on skip it.

    Returns
    -------
    The cohort, with counts in ``.layers["counts"]``; ``.X`` is ``None`` until
    :func:`repertoire.pp.normalize`; the joined records in ``.uns``.
    """
    import scirpy as ir

    if not parts:
        raise InputError("no samples to combine.")
    genes = parts[0].var_names
    for part in parts[1:]:
        if not part.var_names.equals(genes):
            common = genes.intersection(part.var_names, sort=False)
            logger.warning(
                "sample %s has %d genes not shared with earlier samples; "
                "keeping the %d common genes",
                part.obs[K.SAMPLE].iloc[0] if K.SAMPLE in part.obs and part.n_obs else "?",
                part.n_vars - len(common), len(common),
            )
            genes = common
    has_spatial = any(K.SPATIAL in p.obsm for p in parts)
    has_protein = any(PROTEIN in p.obsm for p in parts)
    airr = concat_airr([p.obsm.get(K.AIRR, empty_airr(p.n_obs)) for p in parts])
    spatial = (
        np.vstack([np.asarray(p.obsm.get(K.SPATIAL, np.full((p.n_obs, 2), np.nan))) for p in parts])
        if has_spatial else None
    )
    protein = (
        pd.concat([p.obsm.get(PROTEIN, pd.DataFrame(index=p.obs_names)) for p in parts])
        if has_protein else None
    )
    stripped = []
    for part in parts:
        # not layers.get(K.COUNTS, part.X): that would evaluate part.X (a subset copy for a
        # view, a disk read when backed) even when the counts layer exists
        counts = part.layers[K.COUNTS] if K.COUNTS in part.layers else part.X  # noqa: SIM401
        if not part.var_names.equals(genes):
            counts = counts[:, part.var_names.get_indexer(genes)]
        stripped.append(
            AnnData(obs=part.obs, var=part.var.reindex(genes), layers={K.COUNTS: counts})
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        cohort = ad.concat(stripped, join="inner", merge="first")
    if not cohort.obs_names.is_unique:
        duplicated = cohort.obs_names[cohort.obs_names.duplicated()][0]
        raise InputError(f"cell '{duplicated}' appears in more than one sample.")
    cohort.obsm[K.AIRR] = airr
    if spatial is not None:
        cohort.obsm[K.SPATIAL] = spatial
    if protein is not None:
        cohort.obsm[PROTEIN] = protein.loc[cohort.obs_names]
    _categorical_metadata(cohort)
    cohort.uns.update(_joined_records(parts))
    if index_chains and not int(ak.sum(ak.num(airr, axis=1))):
        # scirpy needs chain fields to index; a cohort read without receptor files has none
        logger.info("no sample has a receptor chain: chains are not indexed")
    elif index_chains:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ir.pp.index_chains(cohort, filter=list(CHAIN_FILTER))
        # scirpy records filters by their repr, which holds memory addresses: the same input
        # would give a different file each run
        cohort.uns[K.CHAIN_INDICES]["filter"] = list(CHAIN_FILTER)
    return cohort


def _joined_records(parts: Sequence[AnnData]) -> dict[str, dict]:
    """Return the ``.uns`` records holding tables in every part, joined."""
    shared = [key for key, value in parts[0].uns.items()
              if _has_tables(value) and all(_has_tables(p.uns.get(key)) for p in parts[1:])]
    return {key: join_records([p.uns[key] for p in parts]) for key in shared}


def _has_tables(value: object) -> bool:
    return isinstance(value, Mapping) and any(isinstance(v, pd.DataFrame) for v in value.values())


def join_records(records: Sequence[Mapping]) -> dict:
    """Join the result records of one tool run sample by sample into one.

    Parameters
    ----------
    records
        One record per sample, each a mapping such as ``.uns["qc"]`` of :func:`repertoire.pp.qc`
        or ``.uns["communication"]`` of :func:`repertoire.tl.communication`: tables as
        DataFrames holding the sample's rows, and the parameters, the same for every sample.

    Returns
    -------
    A mapping with the keys of the first record: each table stacked over the records in their
    order, every other value taken from the first record.
    """
    if not records:
        raise InputError("no records to join.")

    def stack(key: str) -> pd.DataFrame:
        # a sample without cells has empty tables, which add no rows and must not set dtypes
        tables = [r[key] for r in records]
        return pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)

    return {key: stack(key) if isinstance(value, pd.DataFrame) else value
            for key, value in records[0].items()}


def _categorical_metadata(adata: AnnData) -> None:
    """Sample metadata as categoricals.

    Timepoints are ordered by their median day and samples by patient, day and tissue, so that
    tables and figures list them in the order of the study.
    """
    obs = adata.obs
    for column in obs.columns:
        if column in (K.BARCODE, K.DAY) or obs[column].dtype.kind in "fiub":
            continue
        if column == K.TIMEPOINT and K.DAY in obs:
            order = obs.groupby(column, observed=True)[K.DAY].median().sort_values().index
            obs[column] = pd.Categorical(obs[column], categories=list(order))
        elif column == K.SAMPLE and {K.PATIENT, K.DAY, K.TISSUE} <= set(obs.columns):
            samples = obs[[K.SAMPLE, K.PATIENT, K.DAY, K.TISSUE]].drop_duplicates(K.SAMPLE)
            order = samples.astype({K.PATIENT: str, K.TISSUE: str}).sort_values(
                [K.PATIENT, K.DAY, K.TISSUE, K.SAMPLE]
            )[K.SAMPLE]
            obs[column] = pd.Categorical(obs[column], categories=list(order))
        elif column == K.OUTCOME:
            obs[column] = pd.Categorical(obs[column], categories=list(K.OUTCOMES))
        else:
            obs[column] = pd.Categorical(obs[column])
    if K.DAY in obs:
        obs[K.DAY] = obs[K.DAY].astype(int)
