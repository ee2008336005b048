"""Named niches: the definitions, the scores per sample against hand-worked numbers and the
simulator's relapse niches, the communication programmes and the plots."""

from __future__ import annotations

import logging

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import repertoire as rp
from repertoire import _keys as K

NICHE_TYPES_CITED = ("T_B_help", "plasma_survival", "B_T_costimulation", "checkpoint")


# ---------------------------------------------------------------- definitions


def test_shipped_niches_name_known_cell_types_and_shipped_interactions():
    niches = rp.resources.niches()
    assert set(NICHE_TYPES_CITED) <= set(niches)
    cell_types = set(rp.resources.marker_panels()["cell_types"])
    resource = rp.resources.interactions()
    shipped = set(zip(resource["ligand"].str.upper(), resource["receptor"].str.upper(),
                      strict=True))
    for name, niche in niches.items():
        assert set(niche["senders"]) <= cell_types, name
        assert set(niche["receivers"]) <= cell_types, name
        assert set(niche["interactions"]) <= shipped, name
        assert niche["citation"], name
        assert niche["description"], name
    assert niches["plasma_survival"]["tissues"] == ["bone_marrow"]
    assert niches["T_B_help"]["tissues"] == []


@pytest.mark.parametrize(("definition", "message"), [
    ({"x": {"senders": ["Tfh"], "receivers": ["B_naive"]}}, "x has no 'interactions'"),
    ({"x": {"senders": [], "receivers": ["B_naive"], "interactions": [["A", "B"]]}},
     "x.senders must be a non-empty list"),
    ({"x": {"senders": "Tfh", "receivers": ["B_naive"], "interactions": [["A", "B"]]}},
     "x.senders must be a non-empty list"),
    ({"x": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A"]]}},
     "x.interactions holds"),
    ({"x": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A", "B_"]]}},
     "x.interactions holds"),
    ({"x": {"senders": ["Tfh"], "receivers": ["B_naive"],
            "interactions": [["A", "B"], ["a", "b"]]}}, "lists \\['A', 'B'\\] twice"),
    ({"x": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A", "B"]],
            "tissue": ["blood"]}}, "x has unknown key 'tissue'"),
    ([1, 2], "must map niche names"),
    # niche names become file names: no path, no markup, no spaces
    ({"../../evil": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A", "B"]]}},
     "niche name '../../evil' may contain only"),
    ({"<b>x</b>": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A", "B"]]}},
     "niche name '<b>x</b>' may contain only"),
    ({"T B help": {"senders": ["Tfh"], "receivers": ["B_naive"], "interactions": [["A", "B"]]}},
     "niche name 'T B help' may contain only"),
])
def test_bad_definitions_name_the_niche_and_key(definition, message):
    with pytest.raises(rp.InputError, match=message):
        rp.resources.niches(definition)


def test_definitions_from_a_yaml_file(tmp_path):
    path = tmp_path / "niches.yaml"
    path.write_text("help:\n  senders: [Tfh]\n  receivers: [B_naive]\n"
                    "  interactions:\n    - [cd40lg, cd40]\n")
    assert rp.resources.niches(path)["help"]["interactions"] == [("CD40LG", "CD40")]
    path.write_text("help: [unclosed\n")
    with pytest.raises(rp.InputError, match=r"niches\.yaml is not valid YAML"):
        rp.resources.niches(path)
    with pytest.raises(rp.InputError, match="does not exist"):
        rp.resources.niches(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- scores by hand

GENES = ["CD40LG", "CD40", "IL21", "IL21R", "IL2RG", "OTHER"]
HAND_NICHES = {
    "help": {"senders": ["Tfh", "Tph"], "receivers": ["B_naive"],
             "interactions": [["CD40LG", "CD40"], ["IL21", "IL21R_IL2RG"]]},
    "marrow": {"senders": ["Tfh"], "receivers": ["B_naive"],
               "interactions": [["CD40LG", "CD40"]], "tissues": ["bone_marrow"]},
}


def _hand_made() -> ad.AnnData:
    """Two samples of ten cells. S1: Tfh x2, Tph x1, B_naive x3, monocyte x4; S2 has no B cell.

    Tfh CD40LG 1 and 3 (mean 2), IL21 2 and 2; Tph CD40LG 5, IL21 0; B_naive CD40 2, 2, 2,
    IL21R 1, 1, 1, IL2RG 4, 4, 4 (the complex: min(1, 4) = 1).
    """
    rows, cell_types = [], []
    for sample in ("S1", "S2"):
        layout = [("Tfh", [1, 0, 2, 0, 0, 0]), ("Tfh", [3, 0, 2, 0, 0, 0]),
                  ("Tph", [5, 0, 0, 0, 0, 0])]
        layout += [("B_naive", [0, 2, 0, 1, 4, 0])] * 3 if sample == "S1" \
            else [("monocyte", [0, 0, 0, 0, 0, 1])] * 3
        layout += [("monocyte", [0, 0, 0, 0, 0, 1])] * 4
        for cell_type, values in layout:
            rows.append(values)
            cell_types.append(cell_type)
    obs = pd.DataFrame({
        K.SAMPLE: pd.Categorical(["S1"] * 10 + ["S2"] * 10),
        K.PATIENT: ["P1"] * 10 + ["P2"] * 10,
        K.TISSUE: ["blood"] * 10 + ["bone_marrow"] * 10,
        K.CELL_TYPE: pd.Categorical(cell_types),
    }, index=[f"c{i}" for i in range(20)])
    adata = ad.AnnData(X=sp.csr_matrix(np.asarray(rows, dtype=float)), obs=obs,
                       var=pd.DataFrame(index=GENES))
    resource = pd.DataFrame({"ligand": ["CD40LG", "IL21"], "receptor": ["CD40", "IL21R_IL2RG"]})
    rp.tl.communication(adata, sample_key=K.SAMPLE, resource=resource, n_perms=0, min_cells=1)
    return adata


def test_scores_match_hand_worked_numbers():
    adata = _hand_made()
    table = rp.tl.niche_scores(adata, niches=HAND_NICHES, inplace=False)
    help_s1 = table[(table["niche"] == "help") & (table[K.SAMPLE] == "S1")].iloc[0]
    # senders: Tfh 2 cells + Tph 1 cell = 0.3 of 10; receivers: 3 B cells = 0.3
    assert help_s1["sender_fraction"] == pytest.approx(0.3)
    assert help_s1["receiver_fraction"] == pytest.approx(0.3)
    # CD40LG over the senders, weighted by cells: (2 * 2 + 1 * 5) / 3 = 3; CD40 2
    # IL21: (2 * 2 + 1 * 0) / 3 = 4/3; IL21R_IL2RG: min(1, 4) = 1
    expression = (np.sqrt(3 * 2) + np.sqrt(4 / 3 * 1)) / 2
    assert help_s1["expression"] == pytest.approx(expression)
    assert help_s1["score"] == pytest.approx(np.sqrt(0.3 * 0.3) * expression)
    assert help_s1["n_interactions"] == 2
    # CellPhoneDB means of tested pairs: Tfh->B CD40LG (2+2)/2, IL21 (2+1)/2; Tph->B CD40LG
    # (5+2)/2 (Tph makes no IL21: untested)
    assert help_s1["n_pairs_scored"] == 4
    assert help_s1["n_pairs_expressed"] == 3
    assert help_s1["strength"] == pytest.approx((2.0 + 1.5 + 3.5) / 3)


def test_a_sample_without_receivers_scores_zero_and_says_why():
    table = rp.tl.niche_scores(_hand_made(), niches=HAND_NICHES, inplace=False)
    help_s2 = table[(table["niche"] == "help") & (table[K.SAMPLE] == "S2")].iloc[0]
    assert help_s2["score"] == 0.0
    assert help_s2["receiver_fraction"] == 0.0
    assert np.isnan(help_s2["expression"])
    assert help_s2["expression_reason"] == "no receiver cell in the sample"
    assert np.isnan(help_s2["strength"])
    assert help_s2["strength_reason"] == "no receiver cell type with at least 1 cells"


def test_a_sample_of_another_tissue_cannot_hold_the_niche():
    table = rp.tl.niche_scores(_hand_made(), niches=HAND_NICHES, inplace=False)
    marrow = table[table["niche"] == "marrow"]
    assert marrow[K.SAMPLE].tolist() == ["S2"]


def test_niches_whose_cell_types_are_absent_are_left_out(caplog):
    niches = {**HAND_NICHES, "stroma": {"senders": ["stroma"], "receivers": ["B_naive"],
                                        "interactions": [["CD40LG", "CD40"]]}}
    with caplog.at_level(logging.WARNING, logger="repertoire"):
        table = rp.tl.niche_scores(_hand_made(), niches=niches, inplace=False)
    assert "stroma" not in set(table["niche"])
    assert "niche stroma left out: none of its senders (stroma)" in caplog.text


def test_niche_scores_need_communication_per_sample():
    adata = _hand_made()
    with pytest.raises(rp.InputError, match=r"repertoire\.tl\.communication"):
        rp.tl.niche_scores(adata, communication_key="absent")
    rp.tl.communication(adata, n_perms=0, min_cells=1, key_added="pooled",
                        resource=pd.DataFrame({"ligand": ["CD40LG"], "receptor": ["CD40"]}))
    with pytest.raises(rp.InputError, match="scored with sample_key None"):
        rp.tl.niche_scores(adata, communication_key="pooled")


def test_inplace_stores_the_table_and_the_definitions():
    adata = _hand_made()
    table = rp.tl.niche_scores(adata, niches=HAND_NICHES, inplace=False)
    assert rp.tl.niche_scores(adata, niches=HAND_NICHES) is None
    pd.testing.assert_frame_equal(rp.get.niche_scores(adata), table)
    assert set(adata.uns[K.NICHE_SCORES][K.PARAMS]["niches"]) == set(HAND_NICHES)


# ---------------------------------------------------------------- the simulator's niches


@pytest.fixture(scope="module")
def scored(small_cohort):
    """The three-patient cohort (one relapsing), log-normalised, scored on its true types."""
    adata = small_cohort[~small_cohort.obs[K.TRUE_DOUBLET].to_numpy()].copy()
    rp.pp.normalize(adata)
    rp.tl.communication(adata, K.TRUE_CELL_TYPE, sample_key=K.SAMPLE, n_perms=100)
    rp.tl.niche_scores(adata)
    rp.tl.communication_programmes(adata)
    return adata


def test_relapse_niches_score_higher_after_b_cells_return(scored):
    table = rp.get.niche_scores(scored)
    late = table[table[K.DAY] >= 90]
    means = late.groupby(["niche", K.TISSUE, K.OUTCOME], observed=True)["score"].mean()
    # Tfh/Tph expand and make more CXCL13, IL-21 and CD40L in relapse (simulator's programme)
    assert means["T_B_help", "blood", "relapse"] > 1.5 * means["T_B_help", "blood", "remission"]
    # long-lived plasma cells persist with APRIL/BAFF/IL-6 senders in relapse marrow
    assert (means["plasma_survival", "bone_marrow", "relapse"]
            > 2 * means["plasma_survival", "bone_marrow", "remission"])
    # the parts say why: more plasma cells, each niche cell signalling more
    parts = late[late["niche"] == "plasma_survival"].groupby(K.OUTCOME, observed=True)[
        ["receiver_fraction", "expression"]].mean()
    assert parts.loc["relapse", "receiver_fraction"] > parts.loc["remission", "receiver_fraction"]
    assert parts.loc["relapse", "expression"] > parts.loc["remission", "expression"]


def test_every_sample_that_can_hold_a_niche_has_a_score(scored):
    table = rp.get.niche_scores(scored)
    samples = scored.obs[[K.SAMPLE, K.TISSUE]].drop_duplicates()
    for niche, rows in table.groupby("niche", observed=True):
        tissues = rp.resources.niches()[niche]["tissues"]
        expected = samples[samples[K.TISSUE].isin(tissues)] if tissues else samples
        assert set(rows[K.SAMPLE]) == set(expected[K.SAMPLE].astype(str)), niche
        assert rows["score"].notna().all(), niche
        # aplastic samples (no B cell at day 14 and 28) score 0 on B-cell niches, with a reason
        empty = rows[rows["receiver_fraction"] == 0]
        assert (empty["score"] == 0).all()
        assert (empty["expression_reason"] != "").all()


def test_programmes_are_deterministic_and_made_of_tested_interactions(scored):
    tables = rp.tl.communication_programmes(scored, inplace=False)
    pd.testing.assert_frame_equal(tables["samples"], rp.get.communication_programmes(scored))
    pd.testing.assert_frame_equal(tables["programmes"],
                                  rp.get.communication_programmes(scored, "programmes"))
    programmes, scores = tables["programmes"], tables["samples"]
    assert (scores["score"] >= 0).all()
    assert set(scores[K.SAMPLE]) == set(scored.obs[K.SAMPLE].astype(str))
    for _, rows in programmes.groupby("programme"):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["weight"].is_monotonic_decreasing
        assert rows["share"].sum() <= 1 + 1e-9
    tested = rp.get.communication(scored)
    tested = tested[tested["tested"]]
    features = set(zip(tested["source"].astype(str), tested["target"].astype(str),
                       tested["interaction"].astype(str), strict=True))
    assert set(zip(programmes["source"], programmes["target"], programmes["interaction"],
                   strict=True)) <= features
    # a sample without any tested pair holds no programme
    silent = set(scored.obs[K.SAMPLE].astype(str)) - set(tested[K.SAMPLE].astype(str))
    assert (scores.loc[scores[K.SAMPLE].isin(silent), "score"] == 0).all()


def test_niche_plots(scored, tmp_path):
    ax = rp.pl.niche_heatmap(scored, save=tmp_path / "heatmap.png")
    assert len(ax.get_yticklabels()) == len(set(rp.get.niche_scores(scored)["niche"]))
    ax = rp.pl.interactions(scored, niche="homing", save=tmp_path / "dots.png")
    labels = {t.get_text() for t in ax.get_xticklabels()}
    assert labels
    senders = set(rp.resources.niches()["homing"]["senders"])
    assert {label.split(" \u2192 ")[0] for label in labels} <= senders
    # a niche without a tested pair (few plasma cells in 150-cell samples) says so
    ax = rp.pl.interactions(scored, sample="P01_D14_PB", niche="plasma_cell_partners")
    assert ax.texts[0].get_text().startswith("no ligand-receptor pair was tested")
    assert "at least 10 cells each" in ax.texts[0].get_text()
    with pytest.raises(rp.InputError, match="niche 'nowhere' is not one of"):
        rp.pl.interactions(scored, niche="nowhere")
    plt.close("all")
    assert (tmp_path / "heatmap.png").stat().st_size > 0


def test_a_one_patient_cohort_flows_through_with_nothing_to_compare(scored, caplog):
    patient = scored.obs[K.PATIENT].astype(str) == "P01"
    one = scored[patient.to_numpy()].copy()
    for key in (K.COMMUNICATION, K.NICHE_SCORES, K.PROGRAMMES):
        del one.uns[key]
    rp.tl.communication(one, K.TRUE_CELL_TYPE, sample_key=K.SAMPLE, n_perms=10)
    rp.tl.niche_scores(one)
    rp.tl.communication_programmes(one, n_programmes=3)
    with caplog.at_level(logging.INFO, logger="repertoire"):
        tables = rp.tl.niche_outcomes(one, n_boot=10, inplace=False)
    assert tables["outcomes"].empty
    assert "without both a 'relapse' and a 'remission' patient left out" in caplog.text
    assert set(tables["patients"][K.PATIENT]) == {"P01"}
    assert rp.get.niche_scores(one)["score"].notna().all()


# ---------------------------------------------------------------- the statistics end to end


@pytest.mark.slow
def test_eleven_patients_find_the_relapse_niches_and_a_null_cohort_does_not():
    """The scoring of benchmarks/niches_validation.py on one cohort with the simulator's niche
    signal (seed 4, default strength) and one without (seed 104, strength 0): 11 patients, 2
    relapsing, 300 cells per sample, true cell types."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from niches_validation import analyse

    signal = analyse(4, 1.0, 300)
    scores = signal[(signal["family"] == "niche") & (signal["measure"] == "score")]
    blood = scores[(scores[K.TISSUE] == "blood") & scores[K.TIMEPOINT].isin(["M6", "M12"])]
    help_rows = blood[blood["feature"] == "T_B_help"]
    # T-B help leads the niches in month-6 or month-12 blood (equal p share the first place)
    assert (help_rows["rank"] == 1).any()
    assert (help_rows["effect"] > 0).all()
    assert help_rows["p"].min() <= 0.1
    marrow = signal[(signal[K.TISSUE] == "bone_marrow") & (signal[K.TIMEPOINT] == "M6")
                    & signal["feature"].isin(["plasma_survival", "plasma_cells_near_senders"])]
    assert marrow["p"].min() <= 0.05
    assert marrow["p_min"].min() == pytest.approx(1 / 55)

    null = analyse(104, 0.0, 300)
    tests = null[(null["family"] == "niche") & (null["measure"] == "score")
                 & ~null[K.TIMEPOINT].isin(["baseline"])]
    # exact 2-against-9 tests give p <= 0.05 to 2 of 55 labelings: about 1 in 28 tests by chance
    assert (tests["p"] <= 0.05).sum() <= 4
