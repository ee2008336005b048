"""Clones, diversity, clone tracking, reconstitution and their plots, against the truth.

The cohort (``bcr_cohort`` in conftest) went through the whole analysis: QC, preprocessing,
annotation, CAR detection and the BCR steps; the simulator's truth is used only to score it.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scirpy as ir
from sklearn.metrics import adjusted_rand_score

import repertoire as rp
from repertoire import _keys as K
from repertoire.tl._diversity import hill_numbers, rarefied_richness
from repertoire.tl._labels import TX_STATE

SCIRPY_DATA = Path(ir.__file__).parent / "tests" / "data"

# clones ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("receptor", ["BCR", "TCR"])
def test_clones_recover_the_true_clones(bcr_cohort: ad.AnnData, receptor: str) -> None:
    obs = bcr_cohort.obs
    # singlets: a doublet QC kept carries its partner's chains but its host's true clone
    cells = (obs[K.RECEPTOR_TYPE] == receptor) & obs[K.CLONE].notna() & ~obs[K.TRUE_DOUBLET]
    truth, found = obs.loc[cells, K.TRUE_CLONE], obs.loc[cells, K.CLONE].astype(str)
    ari = adjusted_rand_score(truth, found)
    purity = pd.crosstab(found, truth).max(axis=1).sum() / cells.sum()
    expanded = found.map(found.value_counts()) > 1
    ari_expanded = adjusted_rand_score(truth[expanded], found[expanded])
    print(f"{receptor} clones: ARI {ari:.4f}, purity {purity:.4f} over {cells.sum()} cells "
          f"({(obs[K.RECEPTOR_TYPE] == receptor).sum()} with a {receptor}); ARI among cells of "
          f"expanded clones {ari_expanded:.4f}; {found.nunique()} clones, {truth.nunique()} true")
    if receptor == "BCR":
        assert ari >= 0.98
        assert purity >= 0.99
    else:  # scirpy's default: both arms must match, so a lost TRA splits a clone
        assert purity >= 0.99


def test_clones_stay_within_patients(bcr_cohort: ad.AnnData) -> None:
    obs = bcr_cohort.obs[bcr_cohort.obs[K.CLONE].notna()]
    patients = obs.groupby(K.CLONE, observed=True)[K.PATIENT].nunique()
    assert (patients == 1).all()
    assert (obs[K.CLONE].astype(str).str.split("_").str[0] == obs[K.PATIENT].astype(str)).all()
    clones = bcr_cohort.uns[K.CLONE]["clones"]
    sizes = obs[K.CLONE].astype(str).value_counts()
    assert (clones.set_index(K.CLONE)["n_cells"] == sizes.reindex(clones[K.CLONE])).all()
    assert (obs[K.CLONE_SIZE] == obs[K.CLONE].astype(str).map(sizes)).all()
    assert set(obs[K.EXPANSION].dropna()) <= {"<= 1", "<= 2", "> 2"}


def test_clones_on_real_10x_contigs_merge_cell_rangers() -> None:
    """Cell Ranger's clonotypes (identical CDR3 nucleotides on every chain) on a real 10x BCR
    run are finer than ours (heavy-chain junctions within 15 %): each should fall inside one of
    our clones, except where a cell holds two heavy chains and the primary one differs."""
    path = SCIRPY_DATA / "10x" / "sc5p_v2_hs_melanoma_10k_b_filtered_contig_annotations.csv.gz"
    contigs = pd.read_csv(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = rp.io.read_vdj(path)
    adata.obs[K.PATIENT], adata.obs[K.SAMPLE] = "P01", "P01_melanoma"
    ours = rp.tl.clonotypes(adata, inplace=False)[K.CLONE].dropna().astype(str)
    cell_ranger = contigs.groupby("barcode")["raw_clonotype_id"].first().reindex(ours.index)
    assert cell_ranger.notna().all()
    ours_per_theirs = ours.groupby(cell_ranger).nunique()
    split = ours_per_theirs.index[ours_per_theirs > 1]
    heavy = contigs[(contigs["chain"] == "IGH") & contigs["productive"].astype(str).eq("True")]
    two_heavy = set(heavy.groupby("barcode").size().loc[lambda n: n > 1].index)
    print(f"10x melanoma BCR: {len(ours)} cells, {ours.nunique()} clones against Cell Ranger's "
          f"{cell_ranger.nunique()}; ARI {adjusted_rand_score(cell_ranger, ours):.3f}; "
          f"{len(split)} Cell Ranger clonotypes split")
    assert ours.nunique() < cell_ranger.nunique()
    for clonotype in split:
        assert two_heavy & set(cell_ranger.index[cell_ranger == clonotype])
    assert len(split) <= 0.001 * len(ours_per_theirs)


def test_hill_numbers_by_hand() -> None:
    # clone counts 2, 1, 1: p = 1/2, 1/4, 1/4
    values = hill_numbers([2, 1, 1])
    assert values[0] == 3
    assert values[1] == pytest.approx(math.exp(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25))))
    assert values[1] == pytest.approx(2 * math.sqrt(2))
    assert values[2] == pytest.approx(1 / (0.25 + 0.0625 + 0.0625))
    assert np.isnan(hill_numbers([0, 0])).all()
    # rarefying 4 cells (2, 1, 1) to 2: clone 1 is missed with chance C(2,2)/C(4,2) = 1/6,
    # each singleton with chance C(3,2)/C(4,2) = 1/2: expected 5/6 + 1/2 + 1/2
    assert rarefied_richness([2, 1, 1], 2) == pytest.approx(11 / 6)


def test_diversity_rarefies_and_averages(bcr_cohort: ad.AnnData) -> None:
    table = rp.tl.diversity(bcr_cohort, depth=15, n_draws=400, inplace=False)
    obs = bcr_cohort.obs
    chosen = (obs[K.RECEPTOR_TYPE] == "BCR") & obs[K.CLONE].notna()
    rows = table[(table["q"] == 0) & table["hill"].notna()]
    gaps = []
    for _, row in rows.iterrows():
        counts = obs.loc[chosen & (obs[K.SAMPLE] == row[K.SAMPLE]), K.CLONE].value_counts()
        gaps.append(abs(row["hill"] - rarefied_richness(counts[counts > 0].to_numpy(), 15)))
    print(f"q=0 after rarefying to 15 cells: mean of 400 draws within {max(gaps):.3f} of "
          f"Hurlbert's expected richness on {len(gaps)} samples")
    assert max(gaps) < 0.1
    small = table[table["n_cells"] < 15]
    assert small["hill"].isna().all()
    assert (small["n_cells"] == 0).any()
    again = rp.tl.diversity(bcr_cohort, depth=15, n_draws=400, inplace=False)
    pd.testing.assert_frame_equal(table, again)
    stored = bcr_cohort.uns[K.DIVERSITY]
    assert stored["params"]["depth"] >= stored["params"]["min_cells"]


# clone tracking --------------------------------------------------------------------------------


def test_preexisting_is_rare_in_remission_and_common_in_relapse(bcr_cohort: ad.AnnData) -> None:
    samples = bcr_cohort.uns[K.CLONE_TRACKING]["samples"]
    after = samples[(samples["phase"] == "after") & (samples["n_cells"] >= 10)]
    truth = bcr_cohort.obs.groupby(K.SAMPLE, observed=True)[K.TRUE_PREEXISTING].mean()
    shown = after[[K.SAMPLE, K.OUTCOME, "n_cells", "frac_preexisting", "frac_preexisting_lo",
                   "frac_preexisting_hi"]].assign(
        true_preexisting_all_cells=after[K.SAMPLE].map(truth))
    print(shown.to_string())
    remission = after.loc[after[K.OUTCOME] == "remission", "frac_preexisting"]
    relapse = after.loc[after[K.OUTCOME] == "relapse", "frac_preexisting"]
    print(f"frac_preexisting after infusion: remission mean {remission.mean():.3f} "
          f"(max {remission.max():.3f}), relapse mean {relapse.mean():.3f}")
    assert remission.mean() < 0.05
    assert relapse.mean() > 0.15
    assert relapse.mean() > 4 * remission.mean()


def test_tracked_clones_come_from_baseline(bcr_cohort: ad.AnnData) -> None:
    tracking = bcr_cohort.uns[K.CLONE_TRACKING]
    obs = bcr_cohort.obs
    flagged = obs[K.PREEXISTING].astype("boolean")
    assert flagged[obs[K.DAY] < 0].isna().all()
    returned = tracking["clones"][tracking["clones"]["returned"]]
    assert (returned["first_day_after"] > 0).all()
    assert (returned["n_cells_baseline"] > 0).all()
    # every pre-existing call is a clone the truth also calls pre-existing
    assert obs.loc[flagged.fillna(False).astype(bool), K.TRUE_PREEXISTING].all()
    occurrences = tracking["occurrences"]
    assert set(occurrences[K.CLONE]) == set(tracking["clones"][K.CLONE])
    assert occurrences["n_cells"].sum() == (
        tracking["clones"]["n_cells_baseline"] + tracking["clones"]["n_cells_after"]
    ).sum()
    print(f"{len(tracking['clones'])} baseline B-cell clones, {len(returned)} seen again; "
          "cell types of returning cells:")
    print(occurrences[occurrences["phase"] == "after"].groupby(K.CELL_TYPE, observed=True)[
        "n_cells"].sum().to_string())


# reconstitution --------------------------------------------------------------------------------


SUBSETS = {"naive": ("naive_transitional",),
           "memory": ("memory_unswitched", "memory_switched", "DN"),
           "switched": ("memory_switched",), "DN": ("DN",)}


def _true_fractions(obs: pd.DataFrame, cells: pd.Series) -> pd.DataFrame:
    """Per sample, the true B-cell subset fractions among ``cells`` (true B cells only)."""
    state = obs.loc[cells & (obs[K.TRUE_LINEAGE] == "B"), [K.SAMPLE, K.TRUE_BCR_STATE]]
    groups = state.groupby(K.SAMPLE, observed=True)[K.TRUE_BCR_STATE]
    table = pd.DataFrame({name: groups.apply(lambda s, m=members: s.isin(m).mean())
                          for name, members in SUBSETS.items()})
    table["n"] = groups.size()
    return table


def _largest_gaps(samples: pd.DataFrame, truth: pd.DataFrame, source: str) -> pd.Series:
    """Per subset, the largest |estimate - truth| over samples with at least 50 true B cells."""
    big = truth.index[truth["n"] >= 50]
    assert len(big) >= 5
    return pd.Series({
        name: (samples.loc[big, f"frac_{name}_{source}"] - truth.loc[big, name]).abs().max()
        for name in SUBSETS
    })


def test_reconstitution_fractions_match_the_truth(bcr_cohort: ad.AnnData) -> None:
    """Each sample's fractions against the truth of its true B cells.

    The transcriptome side against every true B cell of the sample, the BCR side against the
    true B cells whose heavy chain the library recovered (the cells it can measure). On the
    singlets the estimate is the annotation's and the BCR's own; the whole cohort adds the
    doublets that QC kept (a B cell with a monocyte looks like a double-negative B cell).
    """
    singlets = ~bcr_cohort.obs[K.TRUE_DOUBLET]
    clean = bcr_cohort[singlets.to_numpy()].copy()
    worst = {}
    for name, adata in (("singlets", clean), ("all cells QC kept", bcr_cohort)):
        obs = adata.obs
        samples = rp.tl.reconstitution(adata, n_boot=10, inplace=False)["samples"]
        samples = samples.set_index(K.SAMPLE)
        true_singlet = ~obs[K.TRUE_DOUBLET]
        with_heavy = true_singlet & (obs[K.ISOTYPE].notna() | obs[K.SHM_RATE].notna())
        gaps = pd.DataFrame({
            "tx": _largest_gaps(samples, _true_fractions(obs, true_singlet), "tx"),
            "bcr": _largest_gaps(samples, _true_fractions(obs, with_heavy), "bcr"),
        })
        print(f"{name}: largest gap to the truth per subset, percentage points, over samples "
              f"with >= 50 true B cells\n{(100 * gaps).round(2).to_string()}")
        worst[name] = gaps.max()
    assert worst["singlets"].max() <= 0.03
    # doublets pairing a B cell with a monocyte pass for double-negative B cells
    assert worst["all cells QC kept"].max() <= 0.05


@pytest.fixture(scope="module")
def example_analysed() -> ad.AnnData:
    """The example cohort read from its files (BCR through Cell Ranger's airr_rearrangement.tsv),
    after QC, preprocessing, annotation, CAR detection, BCR states and reconstitution."""
    adata = rp.datasets.example()
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata)
    rp.tl.annotate(adata)
    rp.tl.detect_car(adata)
    rp.tl.bcr_state(adata)
    rp.tl.reconstitution(adata, n_boot=10)
    return adata


def _pooled_gaps(adata: ad.AnnData) -> pd.DataFrame:
    """BCR-side subset fractions pooled per timepoint and tissue against the truth of the same
    cells (true B-cell singlets with a heavy chain), where they number at least 50."""
    samples = rp.get.reconstitution(adata)
    obs = adata.obs
    cells = (~obs[K.TRUE_DOUBLET] & (obs[K.TRUE_LINEAGE] == "B")
             & (obs[K.ISOTYPE].notna() | obs[K.SHM_RATE].notna()))
    strata = [K.TIMEPOINT, K.TISSUE]
    rows = []
    for key, group in obs[cells].groupby(strata, observed=True):
        if len(group) < 50:
            continue
        pooled = samples.set_index(strata).sort_index().loc[key]
        for name, members in SUBSETS.items():
            estimate = pooled[f"n_{name}_bcr"].sum() / pooled["n_B_bcr"].sum()
            truth = group[K.TRUE_BCR_STATE].isin(members).mean()
            rows.append({**dict(zip(strata, key, strict=True)), "n": len(group),
                         "subset": name, "gap": estimate - truth})
    return pd.DataFrame(rows)


def test_reconstitution_of_the_example_through_cell_ranger_airr(example_analysed) -> None:
    """Read as a user's Cell Ranger output: SHM from its germline, the BCR side as the truth.

    The peer is the same cells with the simulator's IMGT-gapped alignments (scirpy's rate).
    """
    adata = example_analysed
    obs = adata.obs
    heavy = obs[K.ISOTYPE].notna()
    assert heavy.sum() > 500
    assert (obs.loc[heavy, K.SHM_SOURCE] == "cellranger_germline").all()
    medians = 100 * obs[heavy].groupby(K.ISOTYPE, observed=True)[K.SHM_RATE].median()
    print(f"example, Cell Ranger AIRR: median heavy-chain SHM per isotype, %\n"
          f"{medians.round(2).to_string()}")
    assert medians[["IGHM", "IGHD"]].max() < 0.5
    assert medians.drop(["IGHM", "IGHD"]).min() > 3
    gaps = _pooled_gaps(adata)
    table = gaps.pivot_table(index=[K.TIMEPOINT, K.TISSUE, "n"], columns="subset",
                             values="gap", observed=True)
    print("BCR-side fractions against the truth, pooled per timepoint and tissue, percentage "
          f"points:\n{(100 * table).round(2).to_string()}")
    assert len(gaps) >= 4 * len(SUBSETS)
    assert gaps["gap"].abs().max() <= 0.03
    # the same cells with IMGT-gapped alignments, as the simulator holds them
    gapped = adata.copy()
    simulated = rp.datasets.simulate_cohort(11, 2, cells_per_sample=180, seed=0)
    gapped.obsm[K.AIRR] = simulated[adata.obs_names].obsm[K.AIRR]
    del gapped.obsm[K.CHAIN_INDICES]
    rp.tl.bcr_state(gapped)
    rp.tl.reconstitution(gapped, n_boot=10)
    assert (gapped.obs.loc[heavy, K.SHM_SOURCE] == "alignment").all()
    differ = obs[K.BCR_STATE].astype(str) != gapped.obs[K.BCR_STATE].astype(str)
    calls = pd.DataFrame({"cellranger": obs[K.SHM_RATE], "imgt": gapped.obs[K.SHM_RATE],
                          "truth": obs[K.TRUE_BCR_STATE]})[differ]
    print(f"{differ.sum()} cells called differently from the IMGT-gapped path:\n{calls}")
    assert differ.mean() < 0.002
    gapped_gaps = _pooled_gaps(gapped)
    print(f"largest pooled gap: Cell Ranger {100 * gaps['gap'].abs().max():.2f}, IMGT-gapped "
          f"{100 * gapped_gaps['gap'].abs().max():.2f} percentage points")
    assert gapped_gaps["gap"].abs().max() <= 0.03


def test_reconstitution_car_and_aplasia(bcr_cohort: ad.AnnData) -> None:
    samples = bcr_cohort.uns[K.RECONSTITUTION]["samples"].set_index(K.SAMPLE)
    obs = bcr_cohort.obs
    # the CAR-detected fraction of the T cells the annotation found
    t_cells = obs[obs[K.LINEAGE] == "T"]
    detected = t_cells.groupby(K.SAMPLE, observed=True)[K.CAR_DETECTED].mean()
    np.testing.assert_allclose(samples.loc[detected.index, "frac_car"], detected)
    # against the truth it undercounts by the CAR-T cells with one CAR read or none
    true_t = obs[(obs[K.TRUE_LINEAGE] == "T") & ~obs[K.TRUE_DOUBLET]]
    car = true_t.groupby(K.SAMPLE, observed=True)[K.TRUE_CAR].mean()
    gap = samples.loc[car.index, "frac_car"] - car
    correlation = np.corrcoef(samples.loc[car.index, "frac_car"], car)[0, 1]
    print(f"CAR-detected fraction of T cells against the true CAR-T fraction: largest gap "
          f"{100 * gap.abs().max():.2f} percentage points, mean {100 * gap.mean():.2f}, "
          f"correlation {correlation:.4f} over {len(gap)} samples")
    assert correlation >= 0.98
    print(samples.groupby(K.TIMEPOINT, observed=True)[["frac_car", "B_per_1000"]].median()
          .round(3).to_string())
    empty = samples[samples["n_B"] == 0]
    assert len(empty) >= 4
    assert empty["aplasia"].all()
    fractions = [c for c in samples.columns
                 if c.startswith("frac_") and ("_tx" in c or "_bcr" in c)]
    assert empty[fractions].isna().all().all()
    assert empty["mean_shm"].isna().all()
    baseline = samples[samples[K.TIMEPOINT] == "baseline"]
    assert not baseline["aplasia"].any()


def test_patient_level_comparisons(bcr_cohort: ad.AnnData) -> None:
    outcomes = bcr_cohort.uns[K.RECONSTITUTION]["outcomes"]
    naive = outcomes[(outcomes["metric"] == "frac_naive_bcr") & (outcomes[K.TISSUE] == "blood")
                     & (outcomes[K.TIMEPOINT] == "M12")].iloc[0]
    print(outcomes[outcomes[K.TIMEPOINT] == "M12"].round(3).to_string())
    # 2 relapses among 4 patients: C(4, 2) = 6 relabelings, two-sided p >= 2/6
    assert naive["n_relabelings"] == 6
    assert naive["p_min"] == pytest.approx(2 / 6)
    assert naive["p"] >= naive["p_min"]
    assert naive["effect"] < 0
    assert naive["effect_lo"] <= naive["effect"] <= naive["effect_hi"]
    timepoints = bcr_cohort.uns[K.RECONSTITUTION]["timepoints"]
    aplasia = timepoints[(timepoints["metric"] == "B_per_1000") & (timepoints[K.TIMEPOINT] == "D14")
                         & (timepoints["group"] == "all") & (timepoints[K.TISSUE] == "blood")]
    print(aplasia.round(4).to_string())
    assert aplasia["n_sign_patterns"].iloc[0] == 2**4
    assert aplasia["change_logit"].iloc[0] < 0
    assert aplasia["p"].iloc[0] == pytest.approx(2 / 16)


def test_inplace_false_returns_what_inplace_stores(bcr_cohort: ad.AnnData) -> None:
    tables = rp.tl.reconstitution(bcr_cohort, n_boot=500, inplace=False)
    stored = bcr_cohort.uns[K.RECONSTITUTION]
    for name in ("samples", "outcomes", "timepoints"):
        pd.testing.assert_frame_equal(tables[name], stored[name])
    tracking = rp.tl.track_clones(bcr_cohort, inplace=False)
    pd.testing.assert_frame_equal(tracking["samples"], bcr_cohort.uns[K.CLONE_TRACKING]["samples"])
    clones = rp.tl.clonotypes(bcr_cohort, inplace=False)
    assert clones[K.CLONE].astype(str).equals(bcr_cohort.obs[K.CLONE].astype(str))


# a sample without B cells, through everything ----------------------------------------------------


@pytest.fixture(scope="module")
def aplastic(bcr_cohort: ad.AnnData, analyse) -> ad.AnnData:
    """One patient's baseline and day-14 blood (no B cell), analysed on their own."""
    obs = bcr_cohort.obs
    patient = obs[K.PATIENT].iloc[0]
    keep = (obs[K.PATIENT] == patient) & obs[K.TIMEPOINT].isin(["baseline", "D14"]) & (
        obs[K.TISSUE] == "blood")
    adata = ad.AnnData(obs=obs.loc[keep, [K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE,
                                          K.OUTCOME, *[c for c in obs if c.startswith("true_")]]])
    adata.obsm[K.AIRR] = bcr_cohort[keep.to_numpy()].copy().obsm[K.AIRR]
    for column in (K.LINEAGE, K.CELL_TYPE, K.CAR_DETECTED):
        adata.obs[column] = obs.loc[keep, column]
    assert adata.obs.loc[adata.obs[K.TIMEPOINT] == "D14", K.TRUE_LINEAGE].ne("B").all()
    return analyse(adata, n_boot=100)


def test_zero_b_cell_sample_flows_through(aplastic: ad.AnnData) -> None:
    samples = aplastic.uns[K.RECONSTITUTION]["samples"].set_index(K.TIMEPOINT)
    row = samples.loc["D14"]
    print(row[["n_cells", "n_B", "B_per_1000", "frac_naive_tx", "frac_naive_bcr", "aplasia"]])
    assert row["n_B"] == 0
    assert row["aplasia"]
    assert np.isnan(row["frac_naive_tx"])
    assert np.isnan(row["frac_naive_bcr"])
    assert np.isnan(row["frac_naive_tx_lo"])
    tracking = aplastic.uns[K.CLONE_TRACKING]["samples"].set_index(K.TIMEPOINT)
    assert tracking.loc["D14", "n_cells"] == 0
    assert np.isnan(tracking.loc["D14", "frac_preexisting"])
    diversity = rp.get.diversity(aplastic)
    assert diversity.loc[diversity[K.SAMPLE].str.contains("D14"), "hill"].isna().all()


def test_a_cohort_without_any_b_cell(aplastic: ad.AnnData, analyse, tmp_path: Path) -> None:
    only = aplastic[(aplastic.obs[K.TIMEPOINT] == "D14").to_numpy()].copy()
    only.obsm[K.AIRR] = only.obsm[K.AIRR][:, :0]  # no receptor at all
    for key in (K.ISOTYPE, K.BCR_STATE, K.CLONE):
        del only.obs[key]
    only = analyse(only, n_boot=100)
    samples = only.uns[K.RECONSTITUTION]["samples"]
    assert samples["n_B"].tolist() == [0]
    assert samples["aplasia"].tolist() == [True]
    assert only.obs[K.BCR_STATE].isna().all()
    assert only.uns[K.CLONE]["clones"].empty
    _draw_everything(only, tmp_path, str(only.obs[K.PATIENT].iloc[0]))


def test_cohort_plot_medians_leave_out_values_on_few_cells() -> None:
    # naive fraction of B cells: patient, outcome, timepoint, day, naive cells, B cells
    rows = [("P1", "remission", "baseline", -5, 6, 10), ("P2", "remission", "baseline", -5, 4, 10),
            ("P1", "remission", "D28", 28, 0, 1), ("P2", "remission", "D28", 28, 0, 0),
            ("P1", "remission", "M3", 90, 2, 2), ("P2", "remission", "M3", 90, 18, 20),
            ("P3", "relapse", "baseline", -5, 3, 10), ("P3", "relapse", "relapse", 120, 2, 10),
            ("P3", "relapse", "M3", 90, 5, 10)]
    samples = pd.DataFrame(rows, columns=[K.PATIENT, K.OUTCOME, K.TIMEPOINT, K.DAY,
                                          "n_naive_bcr", "n_B_bcr"])
    samples[K.TISSUE] = "blood"
    samples["frac_naive_bcr"] = samples["n_naive_bcr"] / samples["n_B_bcr"].replace(0, np.nan)
    # the record as tl.reconstitution writes it: the fraction's count and denominator in params
    params = {"fractions": {"frac_naive_bcr": ["n_naive_bcr", "n_B_bcr"]}}
    adata = ad.AnnData(uns={K.RECONSTITUTION: {"samples": samples, K.PARAMS: params}})
    ax = rp.pl.reconstitution_cohort(adata, metric="frac_naive_bcr", min_cells=10, show=False)
    medians = {line.get_label(): line.get_ydata() for line in ax.lines
               if "median" in line.get_label()}
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    ylabel = ax.get_ylabel()
    plt.close("all")
    assert labels == ["baseline", "D28", "M3", "relapse"]
    assert ylabel == "naive share of B cells (BCR)"
    # remission: baseline (0.6 + 0.4) / 2; D28 one B cell of 10 needed: a gap; M3 only P2's 18/20
    np.testing.assert_allclose(medians["remission (median)"], [0.5, np.nan, 0.9])
    # relapse has no D28 visit and draws none; its relapse visit keeps its place
    np.testing.assert_allclose(medians["relapse (median)"], [0.3, 0.5, 0.2])


def _draw_everything(adata: ad.AnnData, directory: Path, patient: str) -> list[Path]:
    paths = {name: directory / f"{name}.png" for name in (
        "reconstitution", "cohort", "isotypes", "shm", "tracking", "tracking_one", "diversity")}
    rp.pl.reconstitution(adata, patient, save=paths["reconstitution"])
    rp.pl.reconstitution_cohort(adata, metric="frac_naive_bcr", save=paths["cohort"])
    rp.pl.isotypes(adata, save=paths["isotypes"])
    rp.pl.shm(adata, save=paths["shm"])
    rp.pl.clone_tracking(adata, save=paths["tracking"])
    rp.pl.clone_tracking(adata, patient, save=paths["tracking_one"])
    rp.pl.diversity(adata, save=paths["diversity"])
    plt.close("all")
    for path in paths.values():
        assert path.stat().st_size > 0
    return list(paths.values())


def test_plots_of_the_cohort_and_of_aplasia(
    bcr_cohort: ad.AnnData, aplastic: ad.AnnData, tmp_path: Path
) -> None:
    relapse = bcr_cohort.obs.loc[bcr_cohort.obs[K.OUTCOME] == "relapse", K.PATIENT].iloc[0]
    written = _draw_everything(bcr_cohort, tmp_path / "cohort", str(relapse))
    written += _draw_everything(aplastic, tmp_path / "aplastic",
                                str(aplastic.obs[K.PATIENT].iloc[0]))
    print(f"drew {len(written)} figures")


def test_clone_tracking_names_the_returning_clones(bcr_cohort: ad.AnnData) -> None:
    tracking = bcr_cohort.uns[K.CLONE_TRACKING]
    clones = tracking["clones"][tracking["clones"]["returned"].astype(bool)]
    largest = clones.sort_values(["n_cells_after", K.CLONE], ascending=[False, True]).head(3)
    figure = rp.pl.clone_tracking(bcr_cohort, n_clones=3, show=False)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    plt.close("all")
    assert [label.split(" ")[0] for label in labels] == largest[K.CLONE].tolist()
    occurrences = tracking["occurrences"]
    for label, (_, clone) in zip(labels, largest.iterrows(), strict=True):
        after = occurrences[(occurrences[K.CLONE] == clone[K.CLONE])
                            & (occurrences["phase"] == "after")]
        named = dict(part.rsplit(" ", 1) for part in label.split(": ", 1)[1].split(", "))
        assert sum(int(n) for n in named.values()) == clone["n_cells_after"]
        assert set(named) == set(after.loc[after["n_cells"] > 0, "cell_type"].astype(str))


def test_plots_return_what_they_draw_into(bcr_cohort: ad.AnnData) -> None:
    _, axes = plt.subplots(1, 3)
    assert rp.pl.isotypes(bcr_cohort, ax=axes[0], show=False) is axes[0]
    assert rp.pl.shm(bcr_cohort, ax=axes[1], show=False) is axes[1]
    assert rp.pl.diversity(bcr_cohort, ax=axes[2], show=False) is axes[2]
    patient = str(bcr_cohort.obs[K.PATIENT].iloc[0])
    three = plt.subplots(3, 1)[1]
    assert rp.pl.reconstitution(bcr_cohort, patient, ax=three, show=False) is three[0].figure
    with pytest.raises(rp.InputError, match="3 panels"):
        rp.pl.reconstitution(bcr_cohort, patient, ax=axes[:2], show=False)
    with pytest.raises(rp.InputError, match="patient 'nobody'"):
        rp.pl.reconstitution(bcr_cohort, "nobody", show=False)
    plt.close("all")


def test_functions_name_what_is_missing() -> None:
    bare = ad.AnnData(obs=pd.DataFrame({K.SAMPLE: ["a"]}, index=["c1"]))
    with pytest.raises(rp.InputError, match="clonotypes"):
        rp.tl.track_clones(bare)
    with pytest.raises(rp.InputError, match="clonotypes"):
        rp.tl.diversity(bare)
    with pytest.raises(rp.InputError, match="reconstitution"):
        rp.pl.reconstitution(bare, "P01")
    assert set(TX_STATE) <= set(rp.datasets._design.CELL_TYPES)


# the full-size cohort ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("full_cohort")
def test_full_cohort_of_eleven_patients(full_cohort: ad.AnnData) -> None:
    import time

    adata = full_cohort.copy()
    timings = {}
    for name, run in (("bcr_state", rp.tl.bcr_state), ("clonotypes", rp.tl.clonotypes),
                      ("diversity", rp.tl.diversity), ("track_clones", rp.tl.track_clones),
                      ("reconstitution", rp.tl.reconstitution)):
        start = time.perf_counter()
        run(adata)
        timings[name] = round(time.perf_counter() - start, 1)
    obs = adata.obs
    print(f"{adata.n_obs} cells; seconds: {timings}")
    singlets = ~obs[K.TRUE_DOUBLET]
    heavy = obs[K.ISOTYPE].notna() & singlets
    assert (obs.loc[heavy, K.ISOTYPE].astype(str) == obs.loc[heavy, K.TRUE_ISOTYPE]).all()
    assert np.abs(obs.loc[heavy, K.SHM_RATE] - obs.loc[heavy, K.TRUE_SHM_RATE]).max() < 1e-9
    b = obs[K.TRUE_LINEAGE].isin(["B", "plasma"]) & singlets
    accuracy = (obs.loc[b, K.BCR_STATE].astype(object) == obs.loc[b, K.TRUE_BCR_STATE]).mean()
    cells = (obs[K.RECEPTOR_TYPE] == "BCR") & obs[K.CLONE].notna() & singlets
    ari = adjusted_rand_score(obs.loc[cells, K.TRUE_CLONE], obs.loc[cells, K.CLONE].astype(str))
    samples = adata.uns[K.CLONE_TRACKING]["samples"]
    after = samples[(samples["phase"] == "after") & (samples["n_cells"] >= 10)]
    pre = after.groupby(K.OUTCOME)["frac_preexisting"].mean()
    outcomes = adata.uns[K.RECONSTITUTION]["outcomes"]
    naive = outcomes[(outcomes["metric"] == "frac_naive_bcr") & (outcomes[K.TISSUE] == "blood")]
    print(f"{heavy.sum()} heavy chains; bcr_state accuracy {accuracy:.4f} on {b.sum()} "
          f"B-lineage cells; BCR clone ARI {ari:.4f}; frac_preexisting after infusion "
          f"{pre.round(3).to_dict()}")
    print(naive[[K.TIMEPOINT, "mean_case", "mean_control", "effect", "effect_lo", "effect_hi",
                 "p", "p_min", "q", "n_relabelings"]].round(4).to_string())
    assert accuracy >= 0.95
    assert ari >= 0.98
    assert pre["remission"] < 0.05
    assert pre["relapse"] > 0.15
    late = naive[naive[K.TIMEPOINT] == "M12"].iloc[0]
    assert late["n_relabelings"] == 55
    assert late["p"] == pytest.approx(1 / 55)
    assert late["effect"] < 0
