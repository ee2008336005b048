from __future__ import annotations

import gzip
import os
import shutil
import stat
from pathlib import Path

import anndata as ad
import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.io
import scipy.sparse as sp

import repertoire as rp
from repertoire import _keys as K
from repertoire.datasets._cellranger import write_10x_h5
from repertoire.io._probe import check_called_cells

# fields a 10x contig CSV carries, compared after reading (gene calls lose their allele there)
CSV_FIELDS = (
    "locus", "junction", "junction_aa", "productive", "umi_count", "consensus_count", "c_call"
)
GENE_FIELDS = ("v_call", "d_call", "j_call")


def _chains(airr: ak.Array) -> list[list[dict]]:
    return [sorted(cell, key=lambda c: c["sequence_id"]) for cell in ak.to_list(airr)]


def _strip_allele(call):
    return call.split("*")[0] if isinstance(call, str) else call


def test_round_trip_equals_simulation(small_cohort, small_cohort_dir):
    read = rp.io.read_cohort(small_cohort_dir / "samples.tsv")
    assert list(read.obs_names) == list(small_cohort.obs_names)
    assert list(read.var_names) == list(small_cohort.var_names)
    assert read.X is None
    assert (read.layers[K.COUNTS] != small_cohort.layers[K.COUNTS]).nnz == 0
    for column in (K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.TISSUE, K.OUTCOME, K.BARCODE):
        assert (read.obs[column].astype(str) == small_cohort.obs[column].astype(str)).all(), column
    assert (read.obs[K.DAY] == small_cohort.obs[K.DAY]).all()
    np.testing.assert_allclose(read.obsm[K.SPATIAL], small_cohort.obsm[K.SPATIAL])

    simulated, recovered = _chains(small_cohort.obsm[K.AIRR]), _chains(read.obsm[K.AIRR])
    n_compared = 0
    for cell_sim, cell_read in zip(simulated, recovered, strict=True):
        assert [c["sequence_id"] for c in cell_sim] == [c["sequence_id"] for c in cell_read]
        for sim, got in zip(cell_sim, cell_read, strict=True):
            for field in CSV_FIELDS:
                assert sim[field] == got[field], field
            for field in GENE_FIELDS:
                assert _strip_allele(sim[field]) == _strip_allele(got[field]), field
            if sim["locus"].startswith("IG"):  # BCR as Cell Ranger's AIRR table: the contig
                assert sim["sequence"] in got["sequence"]
                assert got["sequence_alignment"] == got["sequence"]
                assert got.get("v_identity") is None
            n_compared += 1
    assert n_compared > 1000


def test_round_trip_of_imgt_gapped_airr(small_cohort, tmp_path):
    """The IMGT-gapped AIRR table keeps every field of the simulator's BCR records."""
    subset = small_cohort[small_cohort.obs[K.PATIENT] == "P01"].copy()
    sheet = rp.datasets.write_cellranger(subset, tmp_path, bcr_format="imgt")
    assert pd.read_csv(sheet, sep="\t")["bcr"].str.endswith("rearrangement_imgt.tsv").all()
    read = rp.io.read_cohort(sheet)
    n_compared = 0
    for cell_sim, cell_read in zip(
        _chains(subset.obsm[K.AIRR]), _chains(read.obsm[K.AIRR]), strict=True
    ):
        for sim, got in zip(cell_sim, cell_read, strict=True):
            if not sim["locus"].startswith("IG"):
                continue
            for field, value in sim.items():
                if isinstance(value, float):
                    assert got[field] == pytest.approx(value, abs=1e-12), field
                else:
                    assert got[field] == value, field
            n_compared += 1
    assert n_compared > 100


def test_round_trip_with_10x_bcr_and_gzip(small_cohort, tmp_path):
    subset = small_cohort[small_cohort.obs[K.PATIENT] == "P01"].copy()
    sheet = rp.datasets.write_cellranger(
        subset, tmp_path, bcr_format="10x", tcr_format="airr", compress=True
    )
    table = pd.read_csv(sheet, sep="\t")
    assert table["bcr"].str.endswith("filtered_contig_annotations.csv.gz").all()
    assert table["tcr"].str.endswith("airr_rearrangement.tsv.gz").all()
    read = rp.io.read_cohort(sheet)
    assert (read.layers[K.COUNTS] != subset.layers[K.COUNTS]).nnz == 0
    for cell_sim, cell_read in zip(
        _chains(subset.obsm[K.AIRR]), _chains(read.obsm[K.AIRR]), strict=True
    ):
        for sim, got in zip(cell_sim, cell_read, strict=True):
            assert all(sim[f] == got[f] for f in CSV_FIELDS)


def test_files_are_read_by_the_peer_readers(small_cohort, small_cohort_dir):
    import scirpy as ir

    sheet = pd.read_csv(small_cohort_dir / "samples.tsv", sep="\t")
    row = sheet[sheet[K.TIMEPOINT] == "M6"].iloc[0]
    gex = sc.read_10x_h5(small_cohort_dir / row["gex"])
    expected = small_cohort[small_cohort.obs[K.SAMPLE] == row[K.SAMPLE]]
    assert list(gex.obs_names) == list(expected.obs[K.BARCODE])
    assert (expected.layers[K.COUNTS] != gex.X).nnz == 0
    tcr = ir.io.read_10x_vdj(small_cohort_dir / row["tcr"])
    assert (small_cohort_dir / row["bcr"]).is_dir()  # a Cell Ranger vdj_b folder
    bcr = ir.io.read_airr(small_cohort_dir / row["bcr"] / "airr_rearrangement.tsv")
    contigs = ir.io.read_10x_vdj(
        small_cohort_dir / row["bcr"] / "filtered_contig_annotations.csv"
    )
    assert set(contigs.obs_names) == set(bcr.obs_names)
    with_bcr = expected.obs[K.BARCODE][
        ak.to_numpy(ak.any(expected.obsm[K.AIRR].locus == "IGH", axis=1))
    ]
    assert set(with_bcr) <= set(bcr.obs_names)
    assert tcr.n_obs > 0
    assert bcr.n_obs > 0


def test_sample_without_b_cells_reads(small_cohort_dir):
    sheet = rp.io.read_samplesheet(small_cohort_dir / "samples.tsv")
    aplasia = sheet.index[sheet[K.TIMEPOINT] == "D14"][0]
    bcr = rp.io.vdj_folder_file(sheet.loc[aplasia, "bcr"])
    with gzip.open(bcr, "rt") if bcr.name.endswith(".gz") else open(bcr) as handle:
        lines = handle.read().splitlines()
    assert len(lines) <= 2  # header, and at most one stray chain
    adata = rp.io.read_cohort(sheet, samples=[aplasia])
    loci = ak.flatten(adata.obsm[K.AIRR].locus)
    assert ak.sum(loci == "IGH") <= 1
    assert ak.sum(loci == "TRB") > 0


def test_read_gex_formats_agree(tmp_path, small_cohort):
    part = small_cohort[:40].copy()
    counts = part.layers[K.COUNTS]
    barcodes = part.obs[K.BARCODE].to_numpy()
    write_10x_h5(counts, barcodes, part.var, tmp_path / "m.h5")
    mtx = tmp_path / "mtx"
    mtx.mkdir()
    scipy.io.mmwrite(mtx / "matrix.mtx", sp.csr_matrix(counts).T.tocoo())
    pd.Series(barcodes).to_csv(mtx / "barcodes.tsv", index=False, header=False)
    pd.DataFrame(
        {"id": part.var["gene_ids"], "name": part.var_names, "type": "Gene Expression"}
    ).to_csv(mtx / "features.tsv", sep="\t", index=False, header=False)
    zipped = tmp_path / "mtx_gz"  # Cell Ranger's own layout, read through scanpy
    zipped.mkdir()
    for name in ("matrix.mtx", "barcodes.tsv", "features.tsv"):
        with open(mtx / name, "rb") as source, gzip.open(zipped / f"{name}.gz", "wb") as target:
            target.write(source.read())
    h5ad = tmp_path / "m.h5ad"
    ad.AnnData(X=counts, obs=pd.DataFrame(index=barcodes), var=part.var[[]]).write_h5ad(h5ad)
    reference = rp.io.read_gex(tmp_path / "m.h5")
    for path in (mtx, zipped, h5ad):
        other = rp.io.read_gex(path)
        assert list(other.obs_names) == list(reference.obs_names)
        assert list(other.var_names) == list(reference.var_names)
        assert (other.X != reference.X).nnz == 0
        assert other.X.dtype == np.float32


def test_antibody_features_go_to_protein(tmp_path, small_cohort):
    part = small_cohort[:30]
    var = pd.concat([
        part.var,
        pd.DataFrame(
            {"gene_ids": ["CD19_TotalSeqC", "CD27_TotalSeqC"], "feature_types": "Antibody Capture"},
            index=["CD19_ADT", "CD27_ADT"],
        ),
    ])
    protein = np.random.default_rng(0).poisson(20, size=(part.n_obs, 2))
    counts = sp.hstack([part.layers[K.COUNTS], sp.csr_matrix(protein.astype(np.float32))]).tocsr()
    write_10x_h5(counts, part.obs[K.BARCODE].to_numpy(), var, tmp_path / "m.h5")
    adata = rp.io.read_gex(tmp_path / "m.h5")
    assert adata.n_vars == part.n_vars
    np.testing.assert_array_equal(adata.obsm["protein"].to_numpy(), protein)


def test_normalised_matrix_is_refused(tmp_path):
    path = tmp_path / "lognorm.h5ad"
    ad.AnnData(X=np.full((3, 2), 0.5, dtype=np.float32)).write_h5ad(path)
    with pytest.raises(rp.InputError, match="raw counts"):
        rp.io.read_gex(path)


@pytest.mark.parametrize(("n_barcodes", "median_genes", "refused"), [
    (20_000, 9, True),  # at the barcode floor, below the median genes: unfiltered
    (19_999, 1, False),  # a small library whose cells all failed is data, not a mistake
    (30_000, 10, False),  # at the median floor
    (500_000, 0, True),  # the whole barcode list of an aligner's raw output
])
def test_an_unfiltered_matrix_is_known_by_its_content(n_barcodes, median_genes, refused):
    # the median barcode of these counts has median_genes genes; the last fifth are cells
    genes = np.full(n_barcodes, median_genes)
    genes[-n_barcodes // 5:] = 2_000
    path = Path("sample/matrix.h5")
    if refused:
        with pytest.raises(rp.InputError, match=rf"{n_barcodes:,} barcodes and the median one "
                           rf"has {median_genes} genes detected: it looks unfiltered"):
            check_called_cells(path, genes)
    else:
        check_called_cells(path, genes)


def test_receptor_file_missing_column(tmp_path):
    path = tmp_path / "filtered_contig_annotations.csv"
    pd.DataFrame({"barcode": ["A-1"], "chain": ["TRB"], "v_gene": ["TRBV2"]}).to_csv(
        path, index=False
    )
    with pytest.raises(rp.InputError, match=r"has no column 'cdr3'") as caught:
        rp.io.read_vdj(path)
    assert str(path) in str(caught.value)


def test_receptor_barcodes_outside_the_matrix_are_dropped(small_cohort_dir, tmp_path):
    target = tmp_path / "cohort"
    shutil.copytree(small_cohort_dir, target)
    sheet = rp.io.read_samplesheet(target / "samples.tsv")
    sample = sheet.index[0]
    contigs = pd.read_csv(sheet.loc[sample, "tcr"])
    stray = contigs.iloc[:1].assign(
        barcode="TTTTTTTTTTTTTTTT-1", contig_id="TTTTTTTTTTTTTTTT-1_contig_1"
    )
    pd.concat([contigs, stray]).to_csv(sheet.loc[sample, "tcr"], index=False)
    adata = rp.io.read_cohort(sheet, samples=[sample])
    assert f"{sample}_TTTTTTTTTTTTTTTT-1" not in adata.obs_names
    assert "TTTTTTTTTTTTTTTT-1_contig_1" not in set(
        ak.flatten(adata.obsm[K.AIRR].sequence_id).to_list()
    )


def test_unknown_sample_requested(small_cohort_dir):
    with pytest.raises(rp.InputError, match="sample 'P99_M6_PB' is not in the sample sheet"):
        rp.io.read_cohort(small_cohort_dir / "samples.tsv", samples=["P99_M6_PB"])


def test_concat_samples_keeps_shared_genes(small_cohort, caplog):
    first = small_cohort[small_cohort.obs[K.SAMPLE] == small_cohort.obs[K.SAMPLE].iloc[0]].copy()
    second = small_cohort[
        small_cohort.obs[K.SAMPLE] != small_cohort.obs[K.SAMPLE].iloc[0]
    ][:50].copy()
    second = second[:, 10:].copy()
    joined = rp.io.concat_samples([first, second])
    assert joined.n_vars == small_cohort.n_vars - 10
    assert joined.n_obs == first.n_obs + 50
    assert "genes not shared" in caplog.text
    np.testing.assert_array_equal(
        joined.layers[K.COUNTS][: first.n_obs].toarray(), first.layers[K.COUNTS][:, 10:].toarray()
    )


def test_write_h5ad_is_atomic(tmp_path, monkeypatch, small_cohort):
    target = tmp_path / "out.h5ad"

    def broken_write(self, path, **kwargs):
        with open(path, "w") as handle:
            handle.write("half")
        raise OSError("disk full")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", broken_write)
    with pytest.raises(OSError, match="disk full"):
        rp.io.write_h5ad(small_cohort[:5].copy(), target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_outputs_keep_the_permissions_of_a_plain_write(tmp_path, umask):
    plain, atomic = tmp_path / "plain.tsv", tmp_path / "atomic.tsv"
    previous = os.umask(umask)
    try:
        plain.write_text("x")
        with rp.io.atomic_path(atomic) as tmp:
            tmp.write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(atomic.stat().st_mode) == 0o666 & ~umask


def test_h5_written_has_10x_layout(tmp_path, small_cohort):
    part = small_cohort[:10]
    write_10x_h5(part.layers[K.COUNTS], part.obs[K.BARCODE].to_numpy(), part.var, tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as handle:
        assert handle.attrs["filetype"] == "matrix"
        assert set(handle["matrix"]) == {
            "barcodes", "data", "indices", "indptr", "shape", "features"
        }
        assert list(handle["matrix/shape"][:]) == [part.n_vars, part.n_obs]
