from __future__ import annotations

import re
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

import repertoire as rp
from repertoire import _keys as K
from repertoire.datasets._expression import transcriptome

# genes named in the project's biology notes (markers and ligand-receptor axes)
BIOLOGY_GENES = [
    "MS4A1", "CD79A", "CD79B", "CD19", "CD22", "BANK1", "PAX5", "MME", "TCL1A", "CD38", "VPREB3",
    "SOX4", "CD9", "IGHM", "CD27", "IGHD", "FCER2", "IL4R", "YBX3", "BACH2", "AIM2", "TNFRSF13B",
    "CD1C", "COCH", "SSPN", "RALGPS2", "IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2",
    "ITGAX", "TBX21", "FCRL5", "FCRL3", "ZEB2", "CXCR3", "CR2", "CXCR5", "MZB1", "JCHAIN", "XBP1",
    "PRDM1", "IRF4", "TNFRSF17", "TXNDC5", "MKI67", "TOP2A", "SDC1", "CD28", "BCL2", "SLAMF7",
    "HLA-DRA", "CCR7", "SELL", "LEF1", "TCF7", "IL7R", "ANXA1", "GPR183", "S100A4", "KLRB1",
    "PDCD1", "ICOS", "IL21", "MAF", "CD200", "TOX2", "BTLA", "CXCL13", "TOX", "BCL6", "FOXP3",
    "IL2RA", "CTLA4", "IKZF2", "RTKN2", "TIGIT", "CD8A", "CD8B", "GZMK", "GZMB", "GZMH", "PRF1",
    "NKG7", "GNLY", "CCL5", "KLRD1", "KLRF1", "NCAM1", "FCGR3A", "CD14", "LYZ", "S100A8", "S100A9",
    "FCN1", "MS4A7", "FCER1A", "CLEC10A", "LILRA4", "CLEC4C", "CXCL12", "LEPR", "VCAM1", "PF4",
    "PPBP", "CD40LG", "CD40", "ICOSLG", "IL21R", "IL2RG", "IL4", "IL10", "IL10RA", "IFNG", "IFNGR1",
    "SEMA4D", "CD72", "CD70", "TNFSF4", "TNFRSF4", "CD274", "PDCD1LG2", "CD80", "CD86", "TNFRSF14",
    "LGALS9", "HAVCR2", "TNFSF13", "TNFSF13B", "TNFRSF13C", "IL6", "IL6R", "IL6ST", "CXCR4",
    "ITGA4", "ITGB1", "MIF", "CD74", "CXCL9", "CXCL10", "CCL19", "CCL21", "IL7", "IL15", "IL15RA",
    "CXCL16", "CXCR6", "FASLG", "FAS",
]


def test_gene_universe():
    genes = transcriptome().genes
    assert len(genes) >= 2000
    assert genes.is_unique
    assert not [g for g in BIOLOGY_GENES if g not in genes]
    assert K.CAR_FEATURE in genes
    assert genes.str.startswith("MT-").sum() == 13
    assert genes.str.match(r"^RP[LS]\d").sum() > 70


def test_same_seed_same_cohort_other_seed_differs():
    first = rp.datasets.simulate_cohort(2, 1, cells_per_sample=40, seed=5)
    again = rp.datasets.simulate_cohort(2, 1, cells_per_sample=40, seed=5)
    other = rp.datasets.simulate_cohort(2, 1, cells_per_sample=40, seed=6)
    assert (first.layers[K.COUNTS] != again.layers[K.COUNTS]).nnz == 0
    pd.testing.assert_frame_equal(first.obs, again.obs)
    assert ak.to_list(first.obsm[K.AIRR]) == ak.to_list(again.obsm[K.AIRR])
    assert first.n_obs != other.n_obs or (first.layers[K.COUNTS] != other.layers[K.COUNTS]).nnz > 0


def test_streamed_samples_equal_the_cohort(small_cohort):
    streamed = list(rp.datasets.simulate_samples(3, 1, cells_per_sample=150, seed=11))
    assert sum(s.n_obs for s in streamed) == small_cohort.n_obs
    last = streamed[-1]
    in_cohort = small_cohort[last.obs_names]
    assert (in_cohort.layers[K.COUNTS] != last.layers[K.COUNTS]).nnz == 0


def test_visit_schedule(small_cohort):
    samples = small_cohort.uns[K.TRUE_SAMPLES]
    for patient, table in samples.groupby(K.PATIENT):
        blood = set(table.loc[table[K.TISSUE] == "blood", K.TIMEPOINT])
        marrow = set(table.loc[table[K.TISSUE] == "bone_marrow", K.TIMEPOINT])
        assert {"baseline", "D14", "D28", "M3", "M6", "M12"} <= blood
        assert marrow == {"baseline", "M6"}
        relapse = table[K.OUTCOME].iloc[0] == "relapse"
        assert ("relapse" in blood) == relapse, patient
    assert (samples.loc[samples[K.TIMEPOINT] == "baseline", K.DAY] < 0).all()
    assert samples[K.OUTCOME].eq("relapse").groupby(samples[K.PATIENT]).any().sum() == 1


def _fraction_by_sample(adata, mask, within):
    obs = adata.obs.assign(hit=mask, within=within)
    table = obs[obs["within"]].groupby(K.SAMPLE, observed=True)["hit"].agg(["mean", "size"])
    meta = obs.groupby(K.SAMPLE, observed=True)[[K.TIMEPOINT, K.OUTCOME, K.TISSUE]].first()
    return table.join(meta)


def test_b_cell_aplasia_and_naive_reconstitution(small_cohort):
    obs = small_cohort.obs
    singlet = ~obs[K.TRUE_DOUBLET]
    b_share = _fraction_by_sample(small_cohort, obs[K.TRUE_LINEAGE] == "B", singlet)
    aplasia = b_share[b_share[K.TIMEPOINT].isin(["D14", "D28"])]
    assert (aplasia["mean"] <= 0.01).all()
    assert (b_share.loc[b_share[K.TIMEPOINT] == "M12", "mean"] > 0.05).all()
    is_b = singlet & (obs[K.TRUE_LINEAGE] == "B")
    naive = obs[K.TRUE_BCR_STATE] == "naive_transitional"
    naive_share = _fraction_by_sample(small_cohort, naive, is_b)
    late = naive_share[
        naive_share[K.TIMEPOINT].isin(["M6", "M12"]) & (naive_share[K.TISSUE] == "blood")
    ]
    remission = late.loc[late[K.OUTCOME] == "remission", "mean"]
    relapse = late.loc[late[K.OUTCOME] == "relapse", "mean"]
    assert remission.mean() > 0.8
    assert relapse.mean() < remission.mean() - 0.2


def test_preexisting_clones_return_only_in_relapse(small_cohort):
    obs = small_cohort.obs
    memory = obs[K.TRUE_CELL_TYPE].isin(["B_memory_unswitched", "B_memory_switched", "B_DN"])
    after = memory & (obs[K.DAY] >= 150) & ~obs[K.TRUE_DOUBLET]
    share = obs[after].groupby(K.OUTCOME, observed=True)[K.TRUE_PREEXISTING].mean()
    assert share["remission"] < 0.1
    assert share["relapse"] > 0.6
    relapse_clones = set(obs.loc[after & (obs[K.OUTCOME] == "relapse"), K.TRUE_CLONE])
    baseline_clones = set(obs.loc[obs[K.TIMEPOINT] == "baseline", K.TRUE_CLONE].dropna())
    assert len(relapse_clones & baseline_clones) > 0


def test_car_t_kinetics(small_cohort):
    obs = small_cohort.obs
    car_counts = np.asarray(small_cohort[:, K.CAR_FEATURE].layers[K.COUNTS].todense()).ravel()
    assert not obs.loc[obs[K.DAY] < 0, K.TRUE_CAR].any()
    assert set(obs.loc[obs[K.TRUE_CAR], K.TRUE_LINEAGE]) == {"T"}
    share = _fraction_by_sample(small_cohort, obs[K.TRUE_CAR], obs[K.TRUE_LINEAGE] == "T")
    peak = share.groupby(K.TIMEPOINT, observed=True)["mean"].mean()
    assert peak.idxmax() == "D14"
    healthy_car = (obs[K.TRUE_CAR] & ~obs[K.TRUE_LOW_QUALITY]).to_numpy()
    assert (car_counts[healthy_car] > 0).mean() > 0.9
    non_t = (obs[K.TRUE_LINEAGE] != "T") & ~obs[K.TRUE_DOUBLET]
    assert 0 < (car_counts[non_t.to_numpy()] > 0).mean() < 0.05  # ambient reads, as in real data


def test_doublets_and_damaged_cells(small_cohort):
    obs = small_cohort.obs
    assert obs[K.TRUE_DOUBLET].mean() == pytest.approx(0.04, abs=0.015)
    assert obs[K.TRUE_LOW_QUALITY].mean() == pytest.approx(0.04, abs=0.015)
    assert not (obs[K.TRUE_DOUBLET] & obs[K.TRUE_LOW_QUALITY]).any()
    counts = small_cohort.layers[K.COUNTS]
    total = np.asarray(counts.sum(axis=1)).ravel()
    mito = (
        np.asarray(counts[:, small_cohort.var_names.str.startswith("MT-")].sum(axis=1)).ravel()
        / total
    )
    damaged = obs[K.TRUE_LOW_QUALITY].to_numpy()
    healthy = ~damaged & ~obs[K.TRUE_DOUBLET].to_numpy()
    assert np.median(mito[damaged]) > 3 * np.median(mito[healthy])
    assert np.median(total[damaged]) < 0.5 * np.median(total[healthy])
    doublets = obs[K.TRUE_DOUBLET].to_numpy()
    assert np.median(total[doublets]) > 1.4 * np.median(total[healthy])


def _heavy_chains(adata) -> pd.DataFrame:
    airr = adata.obsm[K.AIRR]
    counts = ak.to_numpy(ak.num(airr, axis=1))
    chains = pd.DataFrame(ak.to_list(ak.flatten(airr)))
    chains["cell"] = np.repeat(adata.obs_names.to_numpy(), counts)
    heavy = chains[(chains["locus"] == "IGH") & chains["productive"]]
    return heavy.drop_duplicates("cell", keep="first").set_index("cell")


def test_shm_matches_scirpy_mutational_load(small_cohort):
    import scirpy as ir

    adata = small_cohort[
        (small_cohort.obs[K.TRUE_LINEAGE].isin(["B", "plasma"])) & ~small_cohort.obs[K.TRUE_DOUBLET]
    ].copy()
    ir.pp.index_chains(adata)
    ir.tl.mutational_load(adata, regions=["v"], germline_key="germline_alignment")
    per_chain = ir.get.airr(adata, "v_mutation_freq", chain="VDJ_1")
    heavy = _heavy_chains(adata)
    has_heavy = per_chain.index.isin(heavy.index) & per_chain.notna()
    truth = adata.obs.loc[per_chain.index[has_heavy], K.TRUE_SHM_RATE]
    assert has_heavy.sum() > 150
    np.testing.assert_allclose(per_chain[has_heavy].astype(float), truth.astype(float), atol=1e-12)


def test_naive_unmutated_memory_mutated(small_cohort):
    obs = small_cohort.obs
    shm = obs.groupby(K.TRUE_BCR_STATE, observed=True)[K.TRUE_SHM_RATE]
    assert shm.max()["naive_transitional"] == 0
    assert shm.median()["memory_switched"] > 0.02
    assert shm.median()["plasma"] > shm.median()["memory_unswitched"] > 0.005


def test_isotype_truth_matches_heavy_chain_and_expression(small_cohort):
    singlets = small_cohort[~small_cohort.obs[K.TRUE_DOUBLET]]
    heavy = _heavy_chains(singlets)
    isotype = singlets.obs.loc[heavy.index, K.TRUE_ISOTYPE]
    assert (heavy["c_call"] == isotype).all()
    switched = singlets.obs[K.TRUE_CELL_TYPE] == "B_memory_switched"
    assert set(singlets.obs.loc[switched, K.TRUE_ISOTYPE]) <= {
        "IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2", "IGHE"
    }
    cells = singlets.obs_names[switched & (singlets.obs[K.TRUE_ISOTYPE] == "IGHG1")]
    expression = singlets[cells, ["IGHG1", "IGHM"]].layers[K.COUNTS].toarray()
    assert (expression[:, 0] > expression[:, 1]).mean() > 0.9


def test_clone_members_share_v_j_and_junction_length(small_cohort):
    heavy = _heavy_chains(small_cohort[~small_cohort.obs[K.TRUE_DOUBLET]])
    heavy["clone"] = small_cohort.obs.loc[heavy.index, K.TRUE_CLONE]
    heavy["v"] = heavy["v_call"].str.split("*").str[0]
    expanded = heavy.groupby("clone", observed=True).filter(lambda g: len(g) > 1)
    assert expanded["clone"].nunique() > 5
    assert (
        expanded.groupby("clone", observed=True)[["v", "j_call", "junction_length"]].nunique() == 1
    ).all().all()


def test_productive_junctions_are_well_formed(small_cohort):
    chains = pd.DataFrame(ak.to_list(ak.flatten(small_cohort.obsm[K.AIRR])))
    productive = chains[chains["productive"]]
    assert productive["junction_aa"].str.match(r"^C[A-Z]+[WF]$").all()
    assert not productive["junction_aa"].str.contains(r"\*").any()
    assert (productive["junction"].str.len() % 3 == 0).all()
    genes = pd.concat([chains["v_call"], chains["j_call"]]).str.split("*").str[0]
    assert genes.str.match(r"^(IG[HKL]|TR[AB])[VJ][0-9A-Z\-]*$").all()
    aligned = chains["sequence_alignment"].str[:312]
    assert (aligned.str[309:312] == "TGT").all()  # conserved Cys 104
    assert (
        chains["sequence_alignment"].str.replace(".", "", regex=False) == chains["sequence"]
    ).all()


def test_null_niche_strength_removes_the_niche_signal():
    def helper_cxcl13(strength: float) -> pd.Series:
        adata = rp.datasets.simulate_cohort(
            4, 2, cells_per_sample=200, niche_strength=strength, seed=3, spatial=False
        )
        keep = (
            adata.obs[K.TRUE_CELL_TYPE].isin(["Tph", "Tfh"]) & (adata.obs[K.DAY] >= 60)
            & ~adata.obs[K.TRUE_DOUBLET]
        )
        cells = adata[keep.to_numpy()]
        counts = cells.layers[K.COUNTS]
        expression = np.asarray(counts[:, cells.var_names.get_loc("CXCL13")].todense()).ravel()
        size = np.asarray(counts.sum(axis=1)).ravel()
        return pd.Series(1e4 * expression / size).groupby(cells.obs[K.OUTCOME].to_numpy()).mean()

    null, strong = helper_cxcl13(0.0), helper_cxcl13(1.0)
    assert strong["relapse"] > 2.5 * strong["remission"]
    assert null["relapse"] == pytest.approx(null["remission"], rel=0.35)


def test_relapse_marrow_niches_are_spatially_clustered(small_cohort):
    obs = small_cohort.obs
    spatial = small_cohort.obsm[K.SPATIAL]
    marrow = obs[K.TISSUE] == "bone_marrow"
    assert not np.isnan(spatial[marrow.to_numpy()]).any()
    assert np.isnan(spatial[(~marrow).to_numpy()]).all()
    relapse_m6 = obs.index[marrow & (obs[K.OUTCOME] == "relapse") & (obs[K.TIMEPOINT] == "M6")]
    cells = small_cohort[relapse_m6]
    llpc = (cells.obs[K.TRUE_CELL_TYPE] == "plasma_LLPC").to_numpy()
    tree = cKDTree(cells.obsm[K.SPATIAL])
    niche = cells.obs[K.TRUE_NICHE].to_numpy()
    assert niche.sum() > 10
    near_niche_cell = tree.query(cells.obsm[K.SPATIAL][llpc], k=2)[1][:, 1]
    assert niche[near_niche_cell].mean() > 2 * niche.mean()


def test_example_cohort():
    directory = rp.datasets.example_dir()
    size = sum(f.stat().st_size for f in Path(directory).rglob("*") if f.is_file())
    assert size < 20 * 2**20
    adata = rp.datasets.example()
    obs = adata.obs
    assert obs[K.PATIENT].nunique() == 11
    assert obs.groupby(K.PATIENT, observed=True)[K.OUTCOME].first().value_counts()["relapse"] == 2
    assert {"baseline", "D14", "D28", "M3", "M6", "M12", "relapse"} == set(
        obs[K.TIMEPOINT].astype(str)
    )
    per_sample = obs.groupby(K.SAMPLE, observed=True).size()
    assert per_sample.median() >= 150
    assert obs[K.TRUE_LINEAGE].notna().all()
    assert re.fullmatch(r"[ACGT]{16}-1", obs[K.BARCODE].iloc[0])


def test_example_cohort_is_what_the_simulator_writes():
    """The first samples of example_data/ equal a fresh simulation with the documented call."""
    directory = rp.datasets.example_dir()
    sheet = rp.io.read_samplesheet(directory / "samples.tsv")
    fresh = rp.datasets.simulate_samples(11, 2, cells_per_sample=180, seed=0)
    for (_, row), simulated in zip(sheet.head(3).iterrows(), fresh, strict=False):
        assert simulated.obs[K.SAMPLE].iloc[0] == row[K.SAMPLE]
        stored = rp.io.read_cohort(sheet.loc[[row[K.SAMPLE]]])
        assert stored.obs_names.equals(simulated.obs_names)
        assert (stored.layers[K.COUNTS] != simulated.layers[K.COUNTS]).nnz == 0
        assert ak.array_equal(
            stored.obsm[K.AIRR].junction_aa, simulated.obsm[K.AIRR].junction_aa
        )
