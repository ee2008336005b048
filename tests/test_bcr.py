"""BCR state per cell: isotype, SHM and state against the simulator's truth, scirpy and real files.

The cohort (``bcr_cohort`` in conftest) went through QC, preprocessing, annotation and CAR
detection before the BCR steps. The truth scores singlets: a doublet that QC kept carries two
cells' chains, and its truth is one of them.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import awkward as ak
import numpy as np
import pandas as pd
import pytest
import scirpy as ir

import repertoire as rp
from repertoire import _keys as K
from repertoire.datasets._design import BCR_STATE_OF, LINEAGE_TYPES
from repertoire.tl._bcr import _decide, normalise_isotype
from repertoire.tl._labels import TX_STATE

SCIRPY_DATA = Path(ir.__file__).parent / "tests" / "data"
B_LINEAGES = ["B", "plasma"]


def _singlets(adata: ad.AnnData) -> pd.Series:
    return ~adata.obs[K.TRUE_DOUBLET].astype(bool)


def _b_cells(adata: ad.AnnData) -> pd.Series:
    return adata.obs[K.TRUE_LINEAGE].isin(B_LINEAGES) & _singlets(adata)


def test_transcriptome_states_are_the_simulators() -> None:
    assert TX_STATE is BCR_STATE_OF
    assert set(TX_STATE.values()) == set(K.BCR_STATES)
    assert set(TX_STATE) == set(LINEAGE_TYPES["B"]) | set(LINEAGE_TYPES["plasma"])


def test_isotype_agrees_with_the_truth(bcr_cohort: ad.AnnData) -> None:
    obs = bcr_cohort.obs
    heavy = obs[K.ISOTYPE].notna() & _singlets(bcr_cohort)
    agree = (obs.loc[heavy, K.ISOTYPE].astype(str) == obs.loc[heavy, K.TRUE_ISOTYPE]).mean()
    missed = (obs[K.TRUE_ISOTYPE].notna() & ~heavy).sum()
    print(f"isotype: {agree:.4f} agreement on {heavy.sum()} cells with a heavy chain; "
          f"{missed} B-lineage cells without a recovered heavy chain")
    print(obs.loc[heavy, K.ISOTYPE].value_counts().to_string())
    assert heavy.sum() > 500
    assert agree == 1.0
    outside = ~obs[K.TRUE_LINEAGE].isin(B_LINEAGES) & _singlets(bcr_cohort)
    assert not obs.loc[outside, K.ISOTYPE].notna().any()


def test_shm_matches_the_truth_and_scirpy(bcr_cohort: ad.AnnData) -> None:
    obs = bcr_cohort.obs
    heavy = obs[K.SHM_RATE].notna() & _singlets(bcr_cohort)
    truth_gap = np.abs(obs.loc[heavy, K.SHM_RATE] - obs.loc[heavy, K.TRUE_SHM_RATE]).max()
    # scirpy on the same input: its own mutational load of the primary VDJ chain
    peer = bcr_cohort.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ir.tl.mutational_load(peer, regions=["v"], germline_key="germline_alignment")
        scirpy_rate = ir.get.airr(peer, ["v_mutation_freq", "locus"], "VDJ_1")
    igh = (scirpy_rate["VDJ_1_locus"] == "IGH").to_numpy()
    scirpy_gap = np.abs(obs[K.SHM_RATE].to_numpy()[igh]
                        - scirpy_rate["VDJ_1_v_mutation_freq"].to_numpy(dtype=float)[igh]).max()
    print(f"SHM on {heavy.sum()} heavy chains: max |ours - truth| = {truth_gap:.2e}, "
          f"max |ours - scirpy mutational_load| = {scirpy_gap:.2e} on {igh.sum()} cells")
    assert (obs.loc[heavy, K.SHM_SOURCE] == "alignment").all()
    assert truth_gap < 1e-9
    assert scirpy_gap < 1e-9
    assert (obs[K.SHM_RATE].notna() == obs[K.ISOTYPE].notna()).all()


def _accuracy(adata: ad.AnnData, cells: pd.Series, calls: pd.Series) -> float:
    truth = adata.obs.loc[cells, K.TRUE_BCR_STATE]
    table = pd.crosstab(truth, calls[cells].astype(str).fillna("none"))
    print(table.to_string())
    return float((calls[cells].astype(object) == truth).mean())


def test_bcr_state_accuracy(bcr_cohort: ad.AnnData) -> None:
    cells = _b_cells(bcr_cohort)
    accuracy = _accuracy(bcr_cohort, cells, bcr_cohort.obs[K.BCR_STATE])
    evidence = rp.get.bcr_states(bcr_cohort)
    print(evidence.to_string())
    print(f"bcr_state accuracy: {accuracy:.4f} over {cells.sum()} B-lineage singlets "
          "(true_lineage B or plasma; doublets and damaged cells removed)")
    assert accuracy >= 0.95
    heavy = cells & bcr_cohort.obs[K.ISOTYPE].notna()
    receptor_decided = heavy & bcr_cohort.obs[K.BCR_EVIDENCE].astype(str).str.contains("isotype")
    accuracy = _accuracy(bcr_cohort, receptor_decided, bcr_cohort.obs[K.BCR_STATE])
    print(f"accuracy where the receptor decided: {accuracy:.4f} ({receptor_decided.sum()} cells)")
    assert accuracy >= 0.95


def test_receptor_only_calls(bcr_cohort: ad.AnnData) -> None:
    plain = ad.AnnData(obs=pd.DataFrame(index=bcr_cohort.obs_names))
    plain.obsm[K.AIRR] = bcr_cohort.obsm[K.AIRR]
    table = rp.tl.bcr_state(plain, inplace=False)
    with_heavy = table[K.ISOTYPE].notna()
    assert set(table[K.BCR_STATE].dropna()) <= {"naive_transitional", "memory_unswitched",
                                                "memory_switched"}
    assert table.loc[~with_heavy, K.BCR_STATE].isna().all()
    # the receptor tells naive from memory for B cells outside DN and plasma
    truth = bcr_cohort.obs[K.TRUE_BCR_STATE]
    cells = (with_heavy & _singlets(bcr_cohort)
             & truth.isin(["naive_transitional", "memory_unswitched", "memory_switched"]))
    accuracy = _accuracy(bcr_cohort, cells, table[K.BCR_STATE])
    print(f"receptor-only accuracy (non-DN, non-plasma B cells with a heavy chain): {accuracy:.4f}")
    assert accuracy >= 0.95


def test_inplace_false_leaves_adata_unchanged(bcr_cohort: ad.AnnData) -> None:
    plain = ad.AnnData(obs=bcr_cohort.obs[[K.SAMPLE]].copy())
    plain.obsm[K.AIRR] = bcr_cohort.obsm[K.AIRR]
    table = rp.tl.bcr_state(plain, inplace=False)
    assert list(plain.obs.columns) == [K.SAMPLE]
    assert dict(plain.uns) == {}
    assert set(plain.obsm) == {K.AIRR}
    assert K.SHM_RATE not in ak.fields(plain.obsm[K.AIRR])
    assert list(table.columns) == [K.ISOTYPE, K.SHM_RATE, K.SHM_SOURCE, K.SHM_RATE_LIGHT,
                                   K.SHM_SOURCE_LIGHT, K.BCR_STATE, K.BCR_EVIDENCE]


def test_normalise_isotype() -> None:
    calls = pd.Series(["IGHG1*01", "IGHG1", None, "", "None", "IGHA1*01,IGHA2*01", "IGKC",
                       " ighm*02 ", np.nan])
    expected = ["IGHG1", "IGHG1", None, None, None, "IGHA1", None, "IGHM", None]
    result = normalise_isotype(calls)
    assert [None if pd.isna(v) else v for v in result] == expected


def test_decision_rules() -> None:
    # one cell per rule of bcr_state, in its order
    obs = pd.DataFrame({
        K.LINEAGE: ["T", "plasma", "B", "B", "B", "B", "B", "B", "B", None, None, None],
        K.CELL_TYPE: ["T_CD4_naive", "plasma_LLPC", "B_DN", "B_naive", "B_memory_switched",
                      "B_naive", "B_memory_unswitched", "B_naive", "B_memory_switched",
                      None, None, None],
    })
    isotype = pd.Series(["IGHM", "IGHG1", "IGHM", "IGHA1", "IGHM", "IGHD", "IGHM", None,
                         None, "IGHM", None, None])
    shm = np.array([0.0, 0.1, 0.0, 0.0, 0.0, 0.05, np.nan, 0.2, np.nan, np.nan, 0.001, 0.05])
    state, evidence = _decide(obs, isotype, shm, naive_max_shm=0.01, memory_min_shm=0.01)
    assert list(state) == [None, "plasma", "DN", "memory_switched", "naive_transitional",
                           "memory_unswitched", "memory_unswitched", "naive_transitional",
                           "memory_switched", None, "naive_transitional", None]
    assert list(evidence) == [None, "transcriptome", "transcriptome", "isotype", "isotype+shm",
                              "isotype+shm", "isotype+transcriptome", "transcriptome",
                              "transcriptome", None, "shm", None]


def test_thresholds_are_checked(bcr_cohort: ad.AnnData) -> None:
    with pytest.raises(rp.InputError, match="naive_max_shm"):
        rp.tl.bcr_state(bcr_cohort, naive_max_shm=0.02, memory_min_shm=0.01, inplace=False)
    with pytest.raises(rp.InputError, match="obsm"):
        rp.tl.bcr_state(ad.AnnData(obs=pd.DataFrame(index=["a"])))


def _airr_table(path: Path, rows: list[dict]) -> Path:
    base = {"cell_id": "AAAC-1", "sequence_id": "c1", "locus": "IGH", "productive": "T",
            "v_call": "IGHV3-23*01", "j_call": "IGHJ4*02", "c_call": "IGHG1*01",
            "junction": "TGTGCGAGATGG", "junction_aa": "CARW", "umi_count": "5"}
    pd.DataFrame([{**base, **row} for row in rows]).to_csv(path, sep="\t", index=False)
    return path


def test_v_identity_as_fraction_or_percentage(tmp_path: Path) -> None:
    path = _airr_table(tmp_path / "airr.tsv", [
        {"cell_id": "A-1", "v_identity": "0.95"},
        {"cell_id": "B-1", "v_identity": "95.0"},
        {"cell_id": "C-1", "v_identity": "100"},
        {"cell_id": "D-1", "v_identity": ""},
    ])
    table = rp.tl.bcr_state(rp.io.read_vdj(path), inplace=False)
    np.testing.assert_allclose(table[K.SHM_RATE].to_numpy(), [0.05, 0.05, 0.0, np.nan],
                               atol=1e-12)
    assert list(table[K.SHM_SOURCE].astype(object).fillna("-")) == [
        "v_identity", "v_identity", "v_identity", "-"]
    assert (table[K.ISOTYPE] == "IGHG1").all()


def _read(relative: str) -> ad.AnnData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rp.io.read_vdj(SCIRPY_DATA / relative)


def test_real_10x_contigs() -> None:
    adata = _read("10x/sc5p_v2_hs_melanoma_10k_b_filtered_contig_annotations.csv.gz")
    table = rp.tl.bcr_state(adata, inplace=False)
    counts = table[K.ISOTYPE].value_counts()
    print(f"10x melanoma BCR ({adata.n_obs} cells): isotypes {counts[counts > 0].to_dict()}, "
          f"{table[K.ISOTYPE].isna().sum()} without a heavy chain or constant call; "
          f"states {table[K.BCR_STATE].value_counts().to_dict()}")
    assert counts.index[0] == "IGHM"
    assert counts["IGHM"] > 0.5 * counts.sum()
    assert {"IGHD", "IGHG1", "IGHA1"} <= set(counts[counts > 0].index)
    # 10x contig tables carry no alignment and no identity: no SHM, no naive/memory split of IgM
    assert table[K.SHM_RATE].isna().all()
    assert table.loc[table[K.ISOTYPE].isin(["IGHM", "IGHD"]), K.BCR_STATE].isna().all()
    switched = table[K.ISOTYPE].astype(str).str.match("IGH[GAE]")
    assert (table.loc[switched, K.BCR_STATE] == "memory_switched").all()


def test_real_cell_ranger_json() -> None:
    # Cell Ranger's AIRR table: tests/test_shm.py
    json = rp.tl.bcr_state(_read("10x/all_contig_annotations.json"), inplace=False)
    assert json[K.ISOTYPE].notna().sum() >= 1


def test_real_igblast_isotypes() -> None:
    # its SHM (ungapped alignments): tests/test_shm.py
    table = rp.tl.bcr_state(_read("airr/issue_625.tsv"), inplace=False)
    assert table[K.SHM_RATE].notna().sum() == table[K.ISOTYPE].notna().sum()
    assert (table[K.ISOTYPE].dropna().astype(str).str.match(r"^IGH[MDGAE]\d?$")).all()


def test_real_tcr_only_file_has_no_bcr_state() -> None:
    table = rp.tl.bcr_state(
        _read("10x/vdj_nextgem_hs_pbmc3_t_filtered_contig_annotations.csv.gz"), inplace=False
    )
    assert table[K.ISOTYPE].isna().all()
    assert table[K.BCR_STATE].isna().all()
