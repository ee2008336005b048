"""Preprocessing: QC, doublets, normalisation, genes, PCA, integration, neighbours, pipeline."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import anndata as ad
import awkward as ak
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

import repertoire as rp
from repertoire import _keys as K


def assert_equal(a, b) -> None:
    """Assert two AnnData objects hold the same data (anndata's helper needs its pytest markers)."""
    assert a.shape == b.shape
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    _same(a.X, b.X)
    for name in ("layers", "obsm", "varm", "obsp", "uns"):
        _same(dict(getattr(a, name)), dict(getattr(b, name)))


def _same(a, b) -> None:
    if isinstance(a, ak.Array):
        assert isinstance(b, ak.Array)
        assert ak.array_equal(a, b, equal_nan=True)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif sp.issparse(a):
        assert sp.issparse(b)
        assert a.shape == b.shape
        assert (a != b).nnz == 0
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b or (a is None and b is None)


def _counts_adata(n_cells: int, genes: list[str], *, seed: int = 0, sample: str = "S1"):
    rng = np.random.default_rng(seed)
    counts = sp.csr_matrix(rng.poisson(2.0, (n_cells, len(genes))).astype(np.float32))
    obs = pd.DataFrame({K.SAMPLE: pd.Categorical([sample] * n_cells)},
                       index=[f"{sample}_c{i}" for i in range(n_cells)])
    adata = ad.AnnData(obs=obs, var=pd.DataFrame(index=genes))
    adata.layers[K.COUNTS] = counts
    return adata


@pytest.fixture(scope="module")
def log_pbmc():
    """700 real PBMCs (scanpy's bundled pbmc68k_reduced), log-normalised values in .X."""
    adata = sc.datasets.pbmc68k_reduced().raw.to_adata()
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.obs[K.SAMPLE] = pd.Categorical(np.where(np.arange(adata.n_obs) % 2, "A", "B"))
    return adata


# quality metrics and low-quality cells -------------------------------------------------------


def test_qc_metrics_hand_computed():
    genes = ["MT-CO1", "MT-ND1", "RPL3", "RPS6", "CD3E", "MS4A1"]
    adata = _counts_adata(2, genes)
    adata.layers[K.COUNTS] = sp.csr_matrix(
        np.array([[5, 5, 10, 0, 80, 0], [0, 0, 0, 0, 1, 0]], dtype=np.float32)
    )
    rp.pp.qc_metrics(adata)
    np.testing.assert_array_equal(adata.obs[K.N_COUNTS], [100, 1])
    np.testing.assert_array_equal(adata.obs[K.N_GENES], [4, 1])
    np.testing.assert_allclose(adata.obs[K.PCT_MT], [10.0, 0.0])
    np.testing.assert_allclose(adata.obs[K.PCT_RIBO], [10.0, 0.0])
    assert adata.var["mt"].tolist() == [True, True, False, False, False, False]
    assert adata.var["ribo"].tolist() == [False, False, True, True, False, False]


def _metrics_adata(samples: dict[str, dict[str, list[float]]]) -> ad.AnnData:
    frames = [
        pd.DataFrame({K.SAMPLE: name, **values}) for name, values in samples.items()
    ]
    obs = pd.concat(frames, ignore_index=True)
    obs.index = obs.index.astype(str)
    obs[K.SAMPLE] = obs[K.SAMPLE].astype("category")
    return ad.AnnData(obs=obs)


def test_mad_thresholds_hand_computed():
    # log1p(counts): median log1p(3000), MAD = log1p(3000) - log1p(2000) = ln(3001/2001)
    adata = _metrics_adata({"S1": {
        K.N_COUNTS: [1000, 2000, 3000, 4000, 100_000],
        K.N_GENES: [500, 600, 700, 800, 900],
        K.PCT_MT: [1.0, 2.0, 3.0, 4.0, 30.0],
    }})
    rp.pp.flag_low_quality(adata, nmads=5, nmads_mt=3, min_pct_mt=8, max_pct_mt=25, min_genes=0)
    row = adata.uns[K.LOW_QUALITY]["samples"].iloc[0]
    ratio = 3001 / 2001
    assert row["mad_log1p_counts"] == pytest.approx(np.log(ratio))
    assert row["min_counts"] == pytest.approx(3001 / ratio**5 - 1)  # 394.4
    assert row["max_counts"] == pytest.approx(3001 * ratio**5 - 1)  # 22,794
    # genes: median log1p(700), MAD = ln(701/601); 500 to 900 all inside
    assert row["mad_log1p_genes"] == pytest.approx(np.log(701 / 601))
    # mito: median 3, MAD 1, 3 + 3 * 1 = 6 lies under the 8% floor
    assert (row["median_pct_mt"], row["mad_pct_mt"], row["max_pct_mt"]) == (3.0, 1.0, 8.0)
    # 100,000 counts exceed the band; 30% mito exceeds 8%
    assert adata.obs[K.LOW_QUALITY].tolist() == [False, False, False, False, True]


def test_mad_zero_and_tiny_samples_do_not_flag_everything():
    rng = np.random.default_rng(1)
    adata = _metrics_adata({
        "alike": {K.N_COUNTS: [2000] * 40, K.N_GENES: [800] * 40, K.PCT_MT: [0.0] * 40},
        "tiny": {
            K.N_COUNTS: rng.integers(1500, 3000, 30).tolist(),
            K.N_GENES: rng.integers(600, 1000, 30).tolist(),
            K.PCT_MT: [*rng.uniform(1, 5, 29), 40.0],
        },
    })
    rp.pp.flag_low_quality(adata)
    flags = adata.obs.groupby(K.SAMPLE, observed=True)[K.LOW_QUALITY].sum()
    assert flags["alike"] == 0
    # only the 40% mito cell of the 30-cell sample is flagged
    assert flags["tiny"] == 1
    assert adata.obs[K.LOW_QUALITY].iloc[-1]
    table = adata.uns[K.LOW_QUALITY]["samples"].set_index(K.SAMPLE)
    assert table.loc["alike", "max_pct_mt"] == 25.0  # MAD 0: only the hard cap applies
    assert np.isinf(table.loc["alike", "max_counts"])


def test_flag_low_quality_requires_metrics():
    with pytest.raises(rp.InputError, match="total_counts"):
        rp.pp.flag_low_quality(_counts_adata(5, ["A", "B"]))


# doublets ------------------------------------------------------------------------------------


def test_detect_doublets_matches_scanpy_and_skips_small_samples(cohort, caplog):
    sample = cohort.obs[K.SAMPLE].cat.categories[0]
    one = cohort[cohort.obs[K.SAMPLE] == sample].copy()
    tiny = cohort[cohort.obs[K.SAMPLE] != sample][:20].copy()
    tiny.obs[K.SAMPLE] = "tiny"
    adata = ad.concat([one, tiny])
    adata.obs[K.SAMPLE] = adata.obs[K.SAMPLE].astype("category")
    with caplog.at_level(logging.WARNING, logger="repertoire"):
        rp.pp.detect_doublets(adata, receptors=False, random_state=3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "tiny" in warnings[0].getMessage()
    reference = ad.AnnData(X=one.layers[K.COUNTS].copy(), obs=one.obs[[]], var=one.var[[]])
    sc.pp.scrublet(reference, expected_doublet_rate=0.05, n_prin_comps=30, random_state=3,
                   verbose=False)
    ours = adata.obs.loc[one.obs_names]
    np.testing.assert_allclose(ours[K.DOUBLET_SCORE], reference.obs["doublet_score"])
    np.testing.assert_array_equal(ours[K.DOUBLET], reference.obs["predicted_doublet"])
    small = adata.obs.loc[tiny.obs_names]
    assert small[K.DOUBLET_SCORE].isna().all()
    assert not small[K.DOUBLET].any()
    table = adata.uns[K.DOUBLET]["samples"].set_index(K.SAMPLE)
    assert table.loc["tiny", "status"] == "too few cells"


def test_implausible_automatic_threshold_calls_nothing(caplog):
    """On the example's P11_M6_BM (233 cells) Scrublet's automatic threshold lands inside the
    singlets and calls 47 % of the sample; the simulator put 4 % doublets in it."""
    path = Path(__file__).parents[1] / "example_data" / "samples.tsv"
    adata = rp.io.read_cohort(path, samples=["P11_M6_BM", "P10_M6_BM"], index_chains=False)
    with caplog.at_level(logging.WARNING, logger="repertoire"):
        rp.pp.detect_doublets(adata, receptors=False)
    table = adata.uns[K.DOUBLET]["samples"].set_index(K.SAMPLE)
    print(table[["n_cells", "threshold", "n_scrublet_doublets", "status"]].to_string())
    assert table.loc["P11_M6_BM", "status"].startswith("automatic threshold implausible")
    assert table.loc["P10_M6_BM", "status"] == "ok"
    assert "P11_M6_BM (automatic threshold implausible" in caplog.text
    implausible = (adata.obs[K.SAMPLE] == "P11_M6_BM").to_numpy()
    assert adata.obs.loc[implausible, K.DOUBLET_SCORE].notna().all()  # scores are kept
    assert not adata.obs.loc[implausible, K.DOUBLET].any()
    unguarded = rp.pp.detect_doublets(adata, receptors=False, max_rate_ratio=1e9,
                                      inplace=False)[0]
    called = unguarded.loc[implausible, K.DOUBLET].mean()
    assert called > 3 * 0.05
    pd.testing.assert_series_equal(unguarded.loc[~implausible, K.DOUBLET],
                                   adata.obs.loc[~implausible, K.DOUBLET])
    with pytest.raises(rp.InputError, match="max_rate_ratio"):
        rp.pp.detect_doublets(adata, max_rate_ratio=0)


def test_receptor_doublets_hand_made():
    def chain(locus, junction, umis=5, productive=True):
        return {"locus": locus, "junction": junction, "junction_aa": None,
                "productive": productive, "umi_count": umis}

    cells = {
        "single_pair": [chain("TRB", "TGTB1"), chain("TRA", "TGTA1")],
        "dual_alpha": [chain("TRB", "TGTB1"), chain("TRA", "TGTA1"), chain("TRA", "TGTA2")],
        "b_and_t": [chain("IGH", "TGTH1"), chain("IGK", "TGTK1"), chain("TRB", "TGTB2")],
        "two_heavy": [chain("IGH", "TGTH1"), chain("IGH", "TGTH2"), chain("IGK", "TGTK1")],
        "same_heavy_twice": [chain("IGH", "TGTH1"), chain("IGH", "TGTH1")],
        "three_alpha": [chain("TRA", "A1"), chain("TRA", "A2"), chain("TRA", "A3")],
        "low_umi_beta": [chain("TRB", "TGTB1"), chain("TRB", "TGTB9", umis=1)],
        "unproductive_beta": [chain("TRB", "TGTB1"), chain("TRB", "TGTB9", productive=False)],
        "no_chain": [],
    }
    adata = ad.AnnData(obs=pd.DataFrame(index=list(cells)))
    adata.obsm[K.AIRR] = ak.Array(list(cells.values()))
    result = rp.pp.receptor_doublets(adata, min_chain_umis=2, inplace=False)
    assert K.RECEPTOR_DOUBLET not in adata.obs
    called = result.index[result[K.RECEPTOR_DOUBLET]].tolist()
    assert called == ["b_and_t", "two_heavy", "three_alpha"]
    assert result.loc["b_and_t", K.RECEPTOR_DOUBLET_REASON] == "BCR and TCR chains"
    assert result.loc["single_pair", K.RECEPTOR_DOUBLET_REASON] == ""
    result = rp.pp.receptor_doublets(adata, min_chain_umis=1, inplace=False)
    assert result.loc["low_umi_beta", K.RECEPTOR_DOUBLET]
    assert not result.loc["unproductive_beta", K.RECEPTOR_DOUBLET]


def test_doublet_rate_from_10x_loading(cohort):
    cells, samples = rp.pp.detect_doublets(cohort, expected_doublet_rate="10x", inplace=False)
    expected = samples["n_cells"] * 0.008 / 1000
    np.testing.assert_allclose(samples["expected_doublet_rate"], expected)
    assert cells.index.equals(cohort.obs_names)


# qc in one call ------------------------------------------------------------------------------


def test_qc_summary_counts_every_cell_once(cohort_qc):
    # inplace=False leaving adata unchanged is checked for every tool in test_contract.py
    summary = rp.get.qc(cohort_qc)
    assert summary["n_cells"].sum() == cohort_qc.n_obs
    assert (summary["n_flagged"] <= summary["n_low_quality"] + summary["n_doublets"]).all()


def test_qc_writes_summary_and_round_trips(cohort_qc, tmp_path):
    summary = cohort_qc.uns[K.QC]["samples"]
    counts = cohort_qc.obs.groupby(K.SAMPLE, observed=True)
    assert summary.set_index(K.SAMPLE)["n_low_quality"].to_dict() == (
        counts[K.LOW_QUALITY].sum().to_dict()
    )
    assert summary.set_index(K.SAMPLE)["n_doublets"].to_dict() == (
        counts[K.DOUBLET].sum().to_dict()
    )
    assert cohort_qc.uns[K.QC]["params"]["random_state"] == 0
    rp.io.write_h5ad(cohort_qc, tmp_path / "qc.h5ad")
    back = ad.read_h5ad(tmp_path / "qc.h5ad")
    pd.testing.assert_frame_equal(back.uns[K.QC]["samples"], summary, check_dtype=False)


def _recall_precision(called: pd.Series, truth: pd.Series) -> tuple[float, float]:
    hit = (called & truth).sum()
    return hit / truth.sum(), hit / max(called.sum(), 1)


def test_qc_recovers_simulated_low_quality_and_doublets(cohort_qc):
    obs = cohort_qc.obs
    summary = cohort_qc.uns[K.QC]["samples"].set_index(K.SAMPLE)
    scrublet = obs[K.DOUBLET_SCORE] > obs[K.SAMPLE].map(summary["doublet_threshold"]).astype(float)
    rows = {
        "low quality": _recall_precision(obs[K.LOW_QUALITY], obs[K.TRUE_LOW_QUALITY]),
        "doublets, Scrublet alone": _recall_precision(scrublet, obs[K.TRUE_DOUBLET]),
        "doublets, receptor chains alone": _recall_precision(obs[K.RECEPTOR_DOUBLET],
                                                             obs[K.TRUE_DOUBLET]),
        "doublets, both": _recall_precision(obs[K.DOUBLET], obs[K.TRUE_DOUBLET]),
    }
    for name, (recall, precision) in rows.items():
        print(f"{name}: recall {recall:.3f}, precision {precision:.3f}")
    assert min(rows["low quality"]) >= 0.9
    # Scrublet sees only doublets of two different cell types; receptors add B+B and T+T ones
    assert rows["doublets, both"][0] > rows["doublets, Scrublet alone"][0] + 0.1
    assert rows["doublets, both"][0] >= 0.35
    assert rows["doublets, both"][1] >= 0.9
    assert rows["doublets, receptor chains alone"][1] >= 0.95


def test_filter_cells(cohort_qc):
    flagged = cohort_qc.obs[K.LOW_QUALITY] | cohort_qc.obs[K.DOUBLET]
    before = cohort_qc.copy()
    kept = rp.pp.filter_cells(cohort_qc, inplace=False)
    assert_equal(cohort_qc, before)
    assert kept.n_obs == cohort_qc.n_obs - flagged.sum()
    assert not (kept.obs[K.LOW_QUALITY] | kept.obs[K.DOUBLET]).any()
    with pytest.raises(rp.InputError, match="low_quality"):
        rp.pp.filter_cells(ad.AnnData(obs=pd.DataFrame(index=["a"])))


# normalisation and genes ---------------------------------------------------------------------


def test_normalize_matches_scanpy_and_keeps_counts(cohort):
    adata = cohort[:300].copy()
    counts = adata.layers[K.COUNTS].copy()
    result = rp.pp.normalize(adata, inplace=False)
    assert adata.X is None
    rp.pp.normalize(adata)
    assert (adata.layers[K.COUNTS] != counts).nnz == 0
    assert not np.shares_memory(adata.X.data, adata.layers[K.COUNTS].data)
    reference = ad.AnnData(X=counts.copy())
    sc.pp.normalize_total(reference, target_sum=1e4)
    sc.pp.log1p(reference)
    np.testing.assert_allclose(adata.X.toarray(), reference.X.toarray(), rtol=1e-5)
    np.testing.assert_allclose(result.toarray(), reference.X.toarray(), rtol=1e-5)


def test_hvg_excludes_receptor_segments_mito_and_car(log_pbmc):
    excluded = ["MT-CO1", "IGHV3-23", "IGKV1-5", "TRBV20-1", "TRAJ33", K.CAR_FEATURE, "CAR_other"]
    kept = ["IGHD", "IGHM", "IGHG1", "TRBC1"]  # constant genes mark cell states: keep them
    adata = log_pbmc[:, :200].copy()
    # give the named genes the profiles of the most variable genes of the data
    donors = sc.pp.highly_variable_genes(log_pbmc, n_top_genes=11, inplace=False)
    donors = log_pbmc[:, donors[K.HVG].to_numpy()].X
    adata = ad.concat([adata, ad.AnnData(X=donors, obs=adata.obs[[]],
                                         var=pd.DataFrame(index=excluded + kept))],
                      axis=1, merge="first")
    adata.X = sp.csr_matrix(adata.X)
    ours = rp.pp.highly_variable_genes(adata, n_top_genes=20, batch_key=None, inplace=False)
    assert ours["excluded"].sum() == len(excluded)
    assert not ours.loc[excluded, K.HVG].any()
    # the same as scanpy on the genes left once the excluded ones are removed
    allowed = adata[:, ~adata.var_names.isin(excluded)].copy()
    reference = sc.pp.highly_variable_genes(allowed, n_top_genes=20, inplace=False)
    assert set(ours.index[ours[K.HVG]]) == set(allowed.var_names[reference[K.HVG].to_numpy()])
    assert not ours.loc[kept, "excluded"].any()
    assert ours.loc[kept, K.HVG].sum() >= 3


def test_hvg_matches_scanpy_and_pools_small_samples(log_pbmc):
    ours = rp.pp.highly_variable_genes(log_pbmc, n_top_genes=300, exclude=(), inplace=False)
    reference = sc.pp.highly_variable_genes(log_pbmc, n_top_genes=300, batch_key=K.SAMPLE,
                                            inplace=False)
    assert set(log_pbmc.var_names[ours[K.HVG]]) == set(
        reference.index[reference[K.HVG]] if reference.index.dtype == object
        else log_pbmc.var_names[reference[K.HVG].to_numpy()]
    )
    adata = log_pbmc.copy()
    labels = adata.obs[K.SAMPLE].astype(str).to_numpy()
    labels[:3], labels[3:5] = "three", "two"
    adata.obs[K.SAMPLE] = pd.Categorical(labels)
    rp.pp.highly_variable_genes(adata, n_top_genes=300)
    assert adata.var[K.HVG].sum() == 300


# PCA, integration, neighbours ----------------------------------------------------------------


def _aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` with each column's sign matched to ``a`` (PCA signs are arbitrary)."""
    return b * np.sign(np.sum(a * b, axis=0))


def test_pca_matches_scanpy(log_pbmc):
    adata = log_pbmc.copy()
    del adata.obsm[K.PCA]
    rp.pp.highly_variable_genes(adata, n_top_genes=300)
    ours = rp.pp.pca(adata, n_comps=20, inplace=False)
    assert K.PCA not in adata.obsm
    hvg = adata[:, adata.var[K.HVG]].copy()
    sc.pp.pca(hvg, n_comps=20, svd_solver="arpack")
    np.testing.assert_allclose(_aligned(hvg.obsm[K.PCA], ours), hvg.obsm[K.PCA],
                               rtol=1e-3, atol=1e-3)


def test_scaled_pca_stays_sparse_and_equals_dense_zscore(log_pbmc):
    adata = log_pbmc.copy()
    rp.pp.highly_variable_genes(adata, n_top_genes=300)
    rp.pp.pca(adata, n_comps=10, scale=True)
    assert sp.issparse(adata.X)
    dense = adata[:, adata.var[K.HVG]].X.toarray().astype(np.float64)
    dense = (dense - dense.mean(0)) / dense.std(0, ddof=1)
    u, s, _ = np.linalg.svd(dense, full_matrices=False)
    np.testing.assert_allclose(
        _aligned(u[:, :10] * s[:10], adata.obsm[K.PCA]), u[:, :10] * s[:10], rtol=1e-2, atol=1e-2
    )
    assert adata.varm["PCs"][~adata.var[K.HVG].to_numpy()].sum() == 0


def test_integrate_matches_harmonypy(log_pbmc):
    import harmonypy

    adata = log_pbmc.copy()
    adata.obsm[K.PCA] = adata.obsm.get(K.PCA, sc.pp.pca(adata.X.toarray(), n_comps=20))
    before = adata.copy()
    ours = rp.pp.integrate(adata, random_state=5, inplace=False)
    assert_equal(adata, before)
    reference = harmonypy.run_harmony(adata.obsm[K.PCA].astype(np.float64), adata.obs, K.SAMPLE,
                                      random_state=5, verbose=False).Z_corr
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    rp.pp.integrate(adata, random_state=5)
    np.testing.assert_array_equal(adata.obsm[K.INTEGRATED], ours)
    assert adata.uns[K.INTEGRATED]["params"]["random_state"] == 5


def _clustered_embedding(n_cells: int) -> ad.AnnData:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (12, 10))
    labels = rng.integers(0, 12, n_cells)
    embedding = (centres[labels] + rng.normal(0, 1, (n_cells, 10))).astype(np.float32)
    return ad.AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]),
                      obsm={K.PCA: embedding})


def _neighbour_sets(distances: sp.csr_matrix) -> list[set[int]]:
    # scanpy stores the cell itself (distance 0) on the approximate path, not on the exact one
    return [set(row) - {cell} for cell, row in
            enumerate(np.split(distances.indices, distances.indptr[1:-1]))]


def test_neighbors_are_exact_up_to_50000_cells():
    adata = _clustered_embedding(20_000)
    rp.pp.neighbors(adata, n_neighbors=15)
    found = _neighbour_sets(adata.obsp["distances"])
    exact = NearestNeighbors(n_neighbors=14).fit(adata.obsm[K.PCA]).kneighbors(
        return_distance=False)
    assert all(f == set(e) for f, e in zip(found, exact, strict=True))
    assert adata.uns[K.NEIGHBORS]["params"]["transformer"] == "sklearn"
    assert adata.uns[K.NEIGHBORS]["params"]["use_rep"] == K.PCA


@pytest.mark.slow
def test_approximate_neighbors_on_20000_cells():
    # pynndescent >= 0.7 broke scanpy 1.11 above 4,096 cells; the path large cohorts take
    adata = _clustered_embedding(20_000)
    rp.pp.neighbors(adata, n_neighbors=15, transformer="pynndescent")
    found = _neighbour_sets(adata.obsp["distances"])
    assert min(len(f) for f in found) >= 14
    exact = NearestNeighbors(n_neighbors=14).fit(adata.obsm[K.PCA]).kneighbors(
        return_distance=False)
    recall = np.mean([len(f & set(e)) / 14 for f, e in zip(found, exact, strict=True)])
    print(f"approximate neighbour recall against exact: {recall:.3f}")
    assert recall > 0.9
    assert adata.uns[K.NEIGHBORS]["params"]["transformer"] == "pynndescent"
    reference = sc.pp.neighbors(adata, use_rep=K.PCA, transformer="pynndescent", copy=True)
    assert (adata.obsp["distances"] != reference.obsp["distances"]).nnz == 0
    _assert_same_graph(adata.obsp["connectivities"], reference.obsp["connectivities"])


def _assert_same_graph(ours: sp.spmatrix, reference: sp.spmatrix) -> None:
    """Same edges, weights equal to float32 rounding (umap-learn's exponentials are C's)."""
    ours, reference = sp.csr_matrix(ours), sp.csr_matrix(reference)
    assert ours.dtype == reference.dtype == np.float32
    assert ((ours != 0) != (reference != 0)).nnz == 0
    assert abs(ours - reference).max() < 1e-5


def test_neighbors_prefers_harmony_and_matches_scanpy(log_pbmc):
    adata = ad.AnnData(obs=log_pbmc.obs[[K.SAMPLE]].copy())
    rng = np.random.default_rng(0)
    adata.obsm[K.PCA] = rng.normal(size=(adata.n_obs, 10)).astype(np.float32)
    adata.obsm[K.INTEGRATED] = rng.normal(size=(adata.n_obs, 10)).astype(np.float32)
    # two copies of one cell: distances of 0 between different cells
    adata.obsm[K.INTEGRATED][1] = adata.obsm[K.INTEGRATED][0]
    before = adata.copy()
    connectivities, distances = rp.pp.neighbors(adata, inplace=False)
    assert_equal(adata, before)
    reference = sc.pp.neighbors(adata, use_rep=K.INTEGRATED, copy=True)
    _assert_same_graph(connectivities, reference.obsp["connectivities"])
    assert (distances != reference.obsp["distances"]).nnz == 0
    rp.pp.neighbors(adata, key_added="graph")
    assert adata.uns["graph"]["params"] == {
        **reference.uns[K.NEIGHBORS]["params"], "transformer": "sklearn"}
    assert adata.uns["graph"]["connectivities_key"] == "graph_connectivities"
    with pytest.raises(rp.InputError, match="X_missing"):
        rp.pp.neighbors(adata, use_rep="X_missing")


def test_connectivities_match_umap_on_the_same_neighbours():
    from umap.umap_ import fuzzy_simplicial_set

    from repertoire.pp._neighbors import knn, umap_connectivities

    def peer(indices, distances, n_neighbors):
        # umap-learn's fuzzy simplicial set with scanpy's arguments (scanpy's _connectivity.umap)
        graph, _, _ = fuzzy_simplicial_set(
            sp.coo_matrix((indices.shape[0], 1)), n_neighbors, None, None,
            knn_indices=indices, knn_dists=distances, set_op_mix_ratio=1.0,
            local_connectivity=1.0)
        return graph.tocsr()

    embedding = _clustered_embedding(3000).obsm[K.PCA]
    embedding[10:14] = embedding[9]  # five copies of one cell
    embedding[20] = embedding[21] * 1e-6  # one cell at the origin, far from the rest
    for n_neighbors in (15, 5, 2):
        indices, distances, _ = knn(embedding, n_neighbors)
        _assert_same_graph(umap_connectivities(indices, distances, n_neighbors=n_neighbors),
                           peer(indices, distances, n_neighbors))
    # neighbours an approximate search did not find (-1), and fewer cells than neighbours
    indices, distances, _ = knn(embedding, 15)
    indices[::7, -3:] = -1
    _assert_same_graph(umap_connectivities(indices, distances, n_neighbors=15),
                       peer(indices, distances, 15))
    indices, distances, _ = knn(embedding[:9], 15)
    assert indices.shape == (9, 9)
    _assert_same_graph(umap_connectivities(indices, distances, n_neighbors=15),
                       peer(indices, distances, 15))


# the pipeline --------------------------------------------------------------------------------


def test_preprocess_handles_aplasia_and_tiny_samples(cohort):
    samples = cohort.obs[K.SAMPLE].cat.categories[:4]
    adata = cohort[cohort.obs[K.SAMPLE].isin(samples).to_numpy()].copy()
    lineage = adata.obs[K.TRUE_LINEAGE].astype(str)
    # one sample loses every B and plasma cell (aplasia), another keeps 12 cells
    aplastic = (adata.obs[K.SAMPLE] == samples[0]) & lineage.isin(["B", "plasma"])
    tiny = (adata.obs[K.SAMPLE] == samples[1]) & (adata.obs.groupby(K.SAMPLE, observed=True)
                                                   .cumcount() >= 12)
    adata = adata[~(aplastic | tiny).to_numpy()].copy()
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata, n_comps=20)
    rp.tl.cluster(adata)
    assert adata.obsm[K.UMAP].shape == (adata.n_obs, 2)
    assert np.isfinite(adata.obsm[K.INTEGRATED]).all()
    assert adata.obs[K.LEIDEN].notna().all()
    assert (adata.obs[K.SAMPLE] == samples[1]).sum() <= 12


def test_preprocess_inplace_false_does_not_mutate(cohort_qc):
    adata = cohort_qc[:600].copy()
    before = copy.deepcopy(adata)
    result = rp.pp.preprocess(adata, n_comps=10, inplace=False)
    assert_equal(adata, before)
    for key in (K.PCA, K.INTEGRATED, K.UMAP):
        assert key in result.obsm
    assert result.uns["preprocess"]["params"]["n_comps"] == 10


def test_preprocess_is_deterministic(small_cohort):
    processed, again = small_cohort.copy(), small_cohort.copy()
    rp.pp.preprocess(processed)
    rp.pp.preprocess(again)
    for key in (K.PCA, K.INTEGRATED, K.UMAP):
        np.testing.assert_array_equal(again.obsm[key], processed.obsm[key])
    assert (again.obsp["connectivities"] != processed.obsp["connectivities"]).nnz == 0
