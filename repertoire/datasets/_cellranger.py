"""Write a cohort as the per-sample files a Cell Ranger ``multi`` run produces."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._logging import logger, progress
from ..io import atomic_path, write_table
from ._cellranger_airr import cellranger_airr

BCR_LOCI = ("IGH", "IGK", "IGL")
TCR_LOCI = ("TRA", "TRB", "TRG", "TRD")
FORMATS = ("airr", "10x", "both", "imgt")
# file names in a Cell Ranger vdj_b/vdj_t folder, and of the IMGT-gapped table (not Cell Ranger's)
AIRR_FILE, CONTIG_FILE, IMGT_FILE = (
    "airr_rearrangement.tsv", "filtered_contig_annotations.csv", "rearrangement_imgt.tsv"
)
SAMPLE_COLUMNS = (K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE, K.OUTCOME)
CONTIG_COLUMNS = (
    "barcode", "is_cell", "contig_id", "high_confidence", "length", "chain", "v_gene", "d_gene",
    "j_gene", "c_gene", "full_length", "productive", "cdr3", "cdr3_nt", "reads", "umis",
    "raw_clonotype_id", "raw_consensus_id",
)
AIRR_COLUMNS = (
    "cell_id", "sequence_id", "sequence", "rev_comp", "productive", "locus", "v_call", "d_call",
    "j_call", "c_call", "sequence_alignment", "germline_alignment", "germline_alignment_d_mask",
    "junction", "junction_aa", "junction_length", "v_identity", "v_cigar", "d_cigar", "j_cigar",
    "v_sequence_start", "v_sequence_end", "d_sequence_start", "d_sequence_end",
    "j_sequence_start", "j_sequence_end", "umi_count", "consensus_count",
)


def write_cellranger(
    adata: AnnData | Iterable[AnnData],
    outdir: str | os.PathLike,
    *,
    bcr_format: str = "both",
    tcr_format: str = "10x",
    compress: bool = False,
) -> Path:
    """Write per-sample Cell Ranger-like outputs and a sample sheet.

    For each sample ``S``: ``S/gex/filtered_feature_bc_matrix.h5`` (10x HDF5 v3, read by
    :func:`scanpy.read_10x_h5`), ``S/vdj_b/`` and ``S/vdj_t/`` receptor files as Cell Ranger
    writes them (``filtered_contig_annotations.csv`` and ``airr_rearrangement.tsv``: the contig
    as sequence and alignment, the clonotype's germline as 5' UTR, leader, V, D, J and
    constant reference end to end, CIGARs, no ``v_identity``), or an AIRR table with
    IMGT-gapped alignments as IgBLAST writes them, and, for samples with coordinates,
    ``S/spatial/cells.csv``. Beside them ``samples.tsv`` (the sample sheet, paths relative to
    it) and, when the cells carry ground truth (``true_*`` columns), ``truth/cells.tsv.gz`` and
    ``truth/samples.tsv``.

    Parameters
    ----------
    adata
        A cohort (for example from :func:`simulate_cohort`) or an iterable of per-sample AnnData
        objects (from :func:`simulate_samples`), so large cohorts stream to disk sample by sample.
    outdir
        Output directory (created).
    bcr_format
        ``"both"`` (Cell Ranger's two files; the sample sheet names the folder, as for a Cell
        Ranger output), ``"airr"`` (its ``airr_rearrangement.tsv``), ``"10x"`` (its
        ``filtered_contig_annotations.csv``, without sequences) or ``"imgt"``
        (``rearrangement_imgt.tsv``, IMGT-gapped alignments with ``v_identity``).
    tcr_format
        Likewise for TCR files.
    compress
        Gzip the receptor and truth tables (``.gz``), as one does for archiving.

    Returns
    -------
    Path of the written ``samples.tsv``.
    """
    for name, value in (("bcr_format", bcr_format), ("tcr_format", tcr_format)):
        if value not in FORMATS:
            raise ValueError(f"{name} must be one of {', '.join(FORMATS)}, not {value!r}.")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    parts = _split_samples(adata) if isinstance(adata, AnnData) else adata
    rows, truths, sample_truths = [], [], []
    for part in progress(parts, desc="writing samples"):
        rows.append(_write_sample(part, outdir, bcr_format, tcr_format, compress))
        truth_columns = [c for c in part.obs.columns if c.startswith(K.TRUE_PREFIX)]
        if truth_columns:
            truths.append(part.obs[[K.SAMPLE, K.BARCODE, *truth_columns]])
        if "true_sample" in part.uns:
            sample_truths.append(part.uns["true_sample"])
    if isinstance(adata, AnnData) and K.TRUE_SAMPLES in adata.uns:
        sample_truths = [adata.uns[K.TRUE_SAMPLES]]
    if truths:
        write_table(pd.concat(truths), outdir / "truth" / "cells.tsv.gz")
    if sample_truths:
        table = (
            sample_truths[0] if isinstance(sample_truths[0], pd.DataFrame)
            else pd.DataFrame(sample_truths)
        )
        write_table(table, outdir / "truth" / "samples.tsv")
    sheet = outdir / "samples.tsv"
    write_table(pd.DataFrame(rows), sheet)
    return sheet


def _split_samples(adata: AnnData) -> Iterable[AnnData]:
    samples = pd.unique(adata.obs[K.SAMPLE].astype(str))
    for sample in samples:
        part = adata[adata.obs[K.SAMPLE].astype(str) == sample].copy()
        if K.TRUE_SAMPLES in adata.uns:
            table = adata.uns[K.TRUE_SAMPLES]
            part.uns["true_sample"] = table[table[K.SAMPLE] == sample].iloc[0].to_dict()
        yield part


def _write_sample(
    part: AnnData, outdir: Path, bcr_format: str, tcr_format: str, compress: bool
) -> dict:
    metadata = part.obs[list(SAMPLE_COLUMNS)].iloc[0]
    sample = str(metadata[K.SAMPLE])
    barcodes = part.obs[K.BARCODE].astype(str).to_numpy()
    # not layers.get(K.COUNTS, part.X): that would evaluate part.X (a subset copy for a view,
    # a disk read when backed) even when the counts layer exists
    counts = part.layers[K.COUNTS] if K.COUNTS in part.layers else part.X  # noqa: SIM401
    write_10x_h5(
        counts, barcodes, part.var, outdir / sample / "gex" / "filtered_feature_bc_matrix.h5"
    )
    row = {c: metadata[c] for c in SAMPLE_COLUMNS}
    row[K.DAY] = int(row[K.DAY])
    row["gex"] = f"{sample}/gex/filtered_feature_bc_matrix.h5"
    chains = _chain_table(part.obsm[K.AIRR], barcodes)
    suffix = ".gz" if compress else ""
    for column, loci, fmt, folder in (
        ("bcr", BCR_LOCI, bcr_format, "vdj_b"), ("tcr", TCR_LOCI, tcr_format, "vdj_t")
    ):
        table = chains[chains["locus"].isin(loci)] if len(chains) else chains
        for kind in ("airr", "10x") if fmt == "both" else (fmt,):
            name, make, sep = _WRITERS[kind]
            row[column] = f"{sample}/{folder}/{name}{suffix}"
            write_table(make(table), outdir / row[column], sep=sep)
        if fmt == "both":
            row[column] = f"{sample}/{folder}"
    row["spatial"] = ""
    if K.SPATIAL in part.obsm and not np.isnan(np.asarray(part.obsm[K.SPATIAL])).all():
        xy = np.asarray(part.obsm[K.SPATIAL])
        row["spatial"] = f"{sample}/spatial/cells.csv"
        coordinates = pd.DataFrame({"barcode": barcodes, "x": xy[:, 0], "y": xy[:, 1]})
        write_table(coordinates, outdir / row["spatial"], sep=",")
    logger.debug("wrote sample %s (%d cells, %d chains)", sample, part.n_obs, len(chains))
    return row


def write_10x_h5(counts, barcodes: np.ndarray, var: pd.DataFrame, path: Path) -> None:
    """Write a cells x genes count matrix as a 10x Genomics HDF5 (v3) feature-barcode matrix."""
    matrix = sp.csr_matrix(counts)
    names = var.index.to_numpy(dtype=str)
    ids = var["gene_ids"].to_numpy(dtype=str) if "gene_ids" in var else names
    kinds = (
        var["feature_types"].to_numpy(dtype=str) if "feature_types" in var
        else np.full(len(names), "Gene Expression")
    )
    options = {"compression": "gzip", "compression_opts": 9, "shuffle": True, "track_times": False}
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs["filetype"] = "matrix"
        handle.attrs["version"] = 2
        group = handle.create_group("matrix")
        group.create_dataset("barcodes", data=np.array(barcodes, dtype="S"), **options)
        group.create_dataset("data", data=matrix.data.astype(np.int32), **options)
        group.create_dataset("indices", data=matrix.indices.astype(np.int32), **options)
        group.create_dataset("indptr", data=matrix.indptr.astype(np.int64), **options)
        group.create_dataset(
            "shape", data=np.array([matrix.shape[1], matrix.shape[0]], dtype=np.int32),
            track_times=False,
        )
        features = group.create_group("features")
        features.create_dataset("_all_tag_keys", data=np.array([b"genome"]), track_times=False)
        features.create_dataset("feature_type", data=kinds.astype("S"), **options)
        features.create_dataset("genome", data=np.full(len(names), b"GRCh38"), **options)
        features.create_dataset("id", data=ids.astype("S"), **options)
        features.create_dataset("name", data=names.astype("S"), **options)


def _chain_table(airr: ak.Array, barcodes: np.ndarray) -> pd.DataFrame:
    counts = ak.to_numpy(ak.num(airr, axis=1))
    if counts.sum() == 0:
        return pd.DataFrame(columns=["cell_id", "locus"])
    table = pd.DataFrame(ak.to_list(ak.flatten(airr, axis=1)))
    table.insert(0, "cell_id", np.repeat(barcodes, counts))
    return table


def _airr_table(chains: pd.DataFrame) -> pd.DataFrame:
    """Write the simulator's IMGT-gapped records as an AIRR table (1-based coordinates)."""
    table = chains.reindex(columns=list(AIRR_COLUMNS))
    for column in ("rev_comp", "productive"):
        table[column] = table[column].map({True: "T", False: "F"})
    for column in ("junction_length", "umi_count", "consensus_count"):
        table[column] = table[column].astype("Int64")
    for column in [c for c in AIRR_COLUMNS if c.endswith(("_start", "_end"))]:
        table[column] = pd.to_numeric(table[column]).astype("Int64")
        if column.endswith("_start"):
            table[column] += 1
    return table


def _contig_table(chains: pd.DataFrame) -> pd.DataFrame:
    def gene(column: str) -> pd.Series:
        return chains[column].fillna("None").astype(str).str.replace(r"\*\d+$", "", regex=True)

    table = pd.DataFrame({
        "barcode": chains["cell_id"],
        "is_cell": "true",
        "contig_id": chains["sequence_id"],
        "high_confidence": "true",
        "length": chains["sequence"].str.len(),
        "chain": chains["locus"],
        "v_gene": gene("v_call"), "d_gene": gene("d_call"),
        "j_gene": gene("j_call"), "c_gene": gene("c_call"),
        "full_length": "true",
        "productive": chains["productive"].map({True: "true", False: "false"}),
        "cdr3": chains["junction_aa"],
        "cdr3_nt": chains["junction"],
        "reads": chains["consensus_count"],
        "umis": chains["umi_count"],
    }, columns=list(CONTIG_COLUMNS[:-2]))
    # Cell Ranger's exact clonotypes: cells with the same set of productive junctions
    productive = chains[chains["productive"].astype(bool)]
    signature = productive.groupby("cell_id")["junction"].agg(lambda j: "|".join(sorted(j)))
    clonotype = {s: f"clonotype{i + 1}" for i, s in enumerate(signature.value_counts().index)}
    table["raw_clonotype_id"] = chains["cell_id"].map(signature.map(clonotype)).fillna("None")
    table["raw_consensus_id"] = [
        f"{c}_consensus_{i}" if c != "None" else "None"
        for i, c in zip(
            chains.groupby("cell_id").cumcount() + 1, table["raw_clonotype_id"], strict=True
        )
    ]
    return table


# file name, table maker and separator of each receptor file kind
_WRITERS = {
    "airr": (AIRR_FILE, cellranger_airr, "\t"),
    "10x": (CONTIG_FILE, _contig_table, ","),
    "imgt": (IMGT_FILE, _airr_table, "\t"),
}
