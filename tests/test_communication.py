"""Ligand-receptor resource and the CellPhoneDB permutation test of repertoire.tl.communication."""

from __future__ import annotations

import importlib.util
import itertools
import logging
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import scipy.sparse as sp

import repertoire as rp
from repertoire import _keys as K
from repertoire._errors import InputError
from repertoire.resources._interactions import AXES

GENES_FILE = Path(rp.__file__).parent / "datasets" / "data" / "genes.tsv"
CELL_TYPES = {
    "B_transitional", "B_naive", "B_memory_unswitched", "B_memory_switched", "B_DN",
    "plasmablast", "plasma_LLPC", "T_CD4_naive", "T_CD4_memory", "Tfh", "Tph", "Treg",
    "T_CD8_naive", "T_CD8_effector", "NK", "monocyte", "monocyte_nonclassical", "DC", "pDC",
    "eosinophil", "megakaryocyte", "stroma", "erythroid",
}
# ligand -> receptor pairs the biology notes name (a receptor may be a complex holding it)
REQUIRED_PAIRS = [
    ("CD40LG", "CD40"), ("ICOSLG", "ICOS"), ("IL21", "IL21R"), ("CXCL13", "CXCR5"),
    ("IL4", "IL4R"), ("IL10", "IL10RA"), ("IFNG", "IFNGR1"), ("SEMA4D", "CD72"),
    ("CD70", "CD27"), ("TNFSF4", "TNFRSF4"), ("CD274", "PDCD1"), ("PDCD1LG2", "PDCD1"),
    ("CD80", "CD28"), ("CD86", "CD28"), ("CD80", "CTLA4"), ("CD86", "CTLA4"),
    ("BTLA", "TNFRSF14"), ("LGALS9", "HAVCR2"), ("TNFSF13", "TNFRSF17"),
    ("TNFSF13", "TNFRSF13B"), ("TNFSF13B", "TNFRSF13C"), ("TNFSF13B", "TNFRSF13B"),
    ("TNFSF13B", "TNFRSF17"), ("IL6", "IL6R"), ("CXCL12", "CXCR4"), ("VCAM1", "ITGA4"),
    ("MIF", "CD74"), ("CXCL9", "CXCR3"), ("CXCL10", "CXCR3"), ("CCL19", "CCR7"),
    ("CCL21", "CCR7"), ("IL7", "IL7R"), ("IL15", "IL15RA"), ("CXCL16", "CXCR6"),
    ("FASLG", "FAS"),
]
TSV_HEADER = "interaction\tligand\treceptor\taxis\tsender\treceiver\tcitation\n"
GOOD_ROW = "CD40LG_CD40\tCD40LG\tCD40\tT-B help\tTfh\tB_naive\tArmitage et al., Nature 1992\n"


# ---------------------------------------------------------------- resource


def test_shipped_table_is_valid_and_covers_the_biology():
    table = rp.resources.interactions()
    assert list(table.columns) == ["interaction", "ligand", "receptor", "axis", "sender",
                                   "receiver", "citation"]
    assert table["interaction"].is_unique
    assert set(table["axis"]) == set(AXES)
    assert table.notna().all().all()
    for column in ("sender", "receiver"):
        cells = {c for value in table[column] for c in value.split(",")}
        assert cells <= CELL_TYPES, cells - CELL_TYPES
    pairs = {(lig, gene) for lig, rec in zip(table["ligand"], table["receptor"], strict=True)
             for gene in rp.resources.subunits(rec)}
    missing = [pair for pair in REQUIRED_PAIRS if pair not in pairs]
    assert not missing
    assert rp.resources.subunits("IL6R_IL6ST") == ["IL6R", "IL6ST"]
    genes = set(pd.read_csv(GENES_FILE, sep="\t", comment="#")["gene"])
    used = {g for side in ("ligand", "receptor") for name in table[side]
            for g in rp.resources.subunits(name)}
    assert used <= genes, used - genes  # the simulator measures every gene of the table
    survival = rp.resources.interactions(axis="plasma-cell survival")
    assert set(survival["axis"]) == {"plasma-cell survival"}
    assert "IL6_IL6R_IL6ST" in set(survival["interaction"])


@pytest.mark.parametrize(
    ("row", "line", "column"),
    [
        ("X\t\tCD40\tT-B help\tTfh\tB_naive\tcite\n", 3, "ligand"),
        ("X\tCD80\tCD28\tB help\tTfh\tB_naive\tcite\n", 3, "axis"),
        ("CD40LG_CD40\tCD80\tCD28\tT-B help\tTfh\tB_naive\tcite\n", 3, "interaction"),
        ("X\tCD80\tCD 28\tT-B help\tTfh\tB_naive\tcite\n", 3, "receptor"),
        ("X\tIL6\tIL6R__IL6ST\tT-B help\tTfh\tB_naive\tcite\n", 3, "receptor"),
        ("X\tCD80\tCD28\tT-B help\tTfh\tB_cells\tcite\n", 3, "receiver"),
        ("X\tCD80\tCD28\tT-B help\tTfh\tB_naive\t\n", 3, "citation"),
    ],
)
def test_bad_rows_name_line_and_column(tmp_path, monkeypatch, row, line, column):
    # checked as strictly as the shipped table: point the loader at a bad copy of it
    from repertoire.resources import _interactions

    text = "# comment\n" + TSV_HEADER + GOOD_ROW + row
    line += 1  # the good row sits before the bad one
    monkeypatch.setattr(_interactions.resources, "files",
                        _FakeFiles(text, _interactions.resources.files))
    with pytest.raises(InputError, match=rf"line {line}: column '{column}'") as error:
        rp.resources.interactions()
    assert str(error.value).count(".") >= 1
    assert "\n" not in str(error.value)


class _FakeFiles:
    """importlib.resources.files whose interactions.tsv holds ``text``."""

    def __init__(self, text, files):
        self.text, self.files = text, files

    def __call__(self, package):
        return _FakePackage(self, self.files(package))


class _FakePackage:
    def __init__(self, fake, real):
        self.fake, self.real = fake, real

    def __truediv__(self, name):
        return self if name == "interactions.tsv" else self.real / name

    def read_text(self):
        return self.fake.text


def test_user_tables_from_dataframe_and_paths(tmp_path):
    frame = pd.DataFrame({"ligand": ["CD40LG", "IL6"], "receptor": ["CD40", "IL6R_IL6ST"]})
    table = rp.resources.interactions(frame)
    assert list(table["interaction"]) == ["CD40LG_CD40", "IL6_IL6R_IL6ST"]
    assert table["axis"].isna().all()
    assert table["citation"].isna().all()
    with pytest.raises(InputError, match="no column 'receptor'"):
        rp.resources.interactions(frame.rename(columns={"receptor": "target"}))
    repeat = r"row 2: columns 'ligand' and 'receptor' repeat CD40LG-CD40 of row 0"
    with pytest.raises(InputError, match=repeat):
        rp.resources.interactions(pd.concat([frame, frame.iloc[:1]], ignore_index=True))
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    assert rp.resources.interactions(tmp_path / "pairs.csv").equals(table)
    (tmp_path / "pairs.tsv").write_text("# mine\nligand\treceptor\taxis\nCXCL13\tCXCR5\tnope\n")
    with pytest.raises(InputError, match=r"pairs.tsv line 3: column 'axis' is 'nope'"):
        rp.resources.interactions(tmp_path / "pairs.tsv")
    with pytest.raises(InputError, match="does not exist"):
        rp.resources.interactions(tmp_path / "absent.tsv")
    with pytest.raises(InputError, match="axis 'B help'"):
        rp.resources.interactions(axis="B help")


def test_liana_consensus_when_installed():
    if importlib.util.find_spec("liana") is None:  # found, not imported (liana imports slowly)
        pytest.skip("liana is an optional extra and is not installed")
    table = rp.resources.interactions("liana:consensus")
    assert len(table) > 1000
    assert table["interaction"].is_unique
    assert table["ligand"].str.len().gt(0).all()
    with pytest.raises(InputError, match="no resource 'nonsense'"):
        rp.resources.interactions("liana:nonsense")


def test_liana_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "liana", None)
    with pytest.raises(InputError, match="pip install liana"):
        rp.resources.interactions("liana:consensus")


# ---------------------------------------------------------------- engine: hand-worked


@pytest.fixture
def tiny():
    """Six cells in two groups; L is the ligand, R1_R2 a receptor complex."""
    x = np.array([
        # L  R1 R2
        [1, 0, 2],  # A
        [2, 0, 2],  # A
        [0, 4, 2],  # A
        [0, 3, 1],  # B
        [0, 0, 1],  # B
        [0, 3, 1],  # B
    ], dtype=float)
    adata = ad.AnnData(sp.csr_matrix(x), var=pd.DataFrame(index=["L", "R1", "R2"]))
    adata.obs["group"] = pd.Categorical(["A"] * 3 + ["B"] * 3)
    resource = pd.DataFrame({"ligand": ["L"], "receptor": ["R1_R2"]})
    return adata, resource


def test_hand_worked_means_fractions_and_weakest_subunit(tiny):
    adata, resource = tiny
    table = rp.tl.communication(adata, "group", resource=resource, min_cells=1, min_fraction=0.5,
                                rows="all", n_perms=0, inplace=False)
    row = table.set_index(["source", "target"])
    # A -> B: L in A mean 1, fraction 2/3; complex in B: R1 mean 2 (2/3), R2 mean 1 (3/3)
    ab = row.loc[("A", "B")]
    assert ab["ligand_mean"] == pytest.approx(1.0)
    assert ab["ligand_fraction"] == pytest.approx(2 / 3)
    assert ab["receptor_mean"] == pytest.approx(1.0)  # R2 is the weaker subunit in B
    assert ab["receptor_fraction"] == pytest.approx(2 / 3)  # R1 is expressed by fewer
    assert ab["mean"] == pytest.approx(1.0)
    # A -> A: in A, R1 (4/3) is weaker than R2 (2): the weakest subunit is chosen per group
    assert row.loc[("A", "A"), "receptor_mean"] == pytest.approx(4 / 3)
    # L is not expressed in B: mean 0 (CellPhoneDB), never tested
    assert row.loc[("B", "A"), "mean"] == 0
    assert np.isnan(row.loc[("B", "A"), "pvalue"])
    overall = rp.tl.communication(adata, "group", resource=resource, min_cells=1,
                                  min_fraction=0.5, rows="all", n_perms=0,
                                  complex_policy="min_overall", inplace=False)
    # over all cells R2 (1.5) is below R1 (10/6): squidpy uses R2 in every group
    assert overall.set_index(["source", "target"]).loc[("A", "A"), "receptor_mean"] == 2.0


def test_hand_worked_threshold_and_exact_pvalue(tiny):
    adata, resource = tiny
    kwargs = {"resource": resource, "min_cells": 1, "inplace": False}
    tested = rp.tl.communication(adata, "group", min_fraction=0.6, n_perms=0, **kwargs)
    # A -> A fails: R1 is expressed by 1 of 3 cells of A, the complex by no more
    assert set(zip(tested["source"], tested["target"], strict=True)) == {("A", "B")}
    strict = rp.tl.communication(adata, "group", min_fraction=0.7, rows="expressed", n_perms=0,
                                 **kwargs)
    assert strict["pvalue"].isna().all()
    assert len(strict) == 2
    # exact p of A -> B over the 20 ways to label three of six cells A (squidpy's rule)
    x = adata.X.toarray()
    observed = x[:3, 0].mean() + min(x[3:, 1].mean(), x[3:, 2].mean())
    exceed = 0
    for group_a in itertools.combinations(range(6), 3):
        b = [c for c in range(6) if c not in group_a]
        exceed += x[list(group_a), 0].mean() + min(x[b, 1].mean(), x[b, 2].mean()) > observed
    exact = exceed / 20
    n_perms = 4000
    table = rp.tl.communication(adata, "group", min_fraction=0.6, n_perms=n_perms, **kwargs)
    p = table.set_index(["source", "target"]).loc[("A", "B"), "pvalue"]
    assert abs(p - exact) <= 5 * np.sqrt(exact * (1 - exact) / n_perms) + 1 / n_perms


# ---------------------------------------------------------------- engine: squidpy reference


def _synthetic(n_cells=360, seed=0, crossing=False):
    """Log-normalised counts of a few groups; complex subunits B are half of A in every cell,
    so the weakest subunit is the same in every group and permutation (squidpy comparable)."""
    rng = np.random.default_rng(seed)
    groups = np.array(["g0", "g1", "g2", "g3"])[rng.integers(0, 4, n_cells)]
    genes = [f"G{i}" for i in range(10)]
    level = rng.gamma(1.0, 1.0, size=(4, len(genes)))
    code = pd.Categorical(groups).codes
    counts = rng.poisson(level[code] * rng.uniform(0.3, 2.0, size=(n_cells, 1)))
    x = np.log1p(counts.astype(float))
    x = np.hstack([x, 0.5 * x[:, [7]], 0.5 * x[:, [8]]])
    genes += ["G7B", "G8B"]
    adata = ad.AnnData(sp.csr_matrix(x), var=pd.DataFrame(index=genes))
    adata.obs["group"] = pd.Categorical(groups)
    pairs = [(f"G{i}", f"G{j}") for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6),
                                             (6, 0), (1, 1), (2, 5), (9, 3)]]
    pairs += [("G0", "G7_G7B"), ("G8_G8B", "G2"), ("G8_G8B", "G7_G7B")]
    if crossing:  # complexes whose weakest subunit differs between groups
        pairs += [("G9", "G4_G5"), ("G5_G6", "G1")]
    return adata, pd.DataFrame(pairs, columns=["ligand", "receptor"])


def _squidpy(adata, resource, chosen, n_perms, threshold):
    import squidpy as sq  # a dependency; imported here because it is slow to import
    renamed = resource.assign(
        source=resource["ligand"].map(lambda s: chosen.get(s, s)),
        target=resource["receptor"].map(lambda s: chosen.get(s, s)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sq.gr.ligrec(adata, "group", interactions=renamed[["source", "target"]],
                              use_raw=False, n_perms=n_perms, threshold=threshold, seed=0,
                              copy=True, show_progress_bar=False)
    means = result["means"].astype(float)
    pvalues = result["pvalues"].astype(float)
    index = pd.MultiIndex.from_frame(renamed[["source", "target"]])
    return means.loc[index].to_numpy(), pvalues.loc[index].to_numpy(), means.columns


@pytest.mark.parametrize("policy", ["min", "min_overall"])
def test_matches_squidpy(policy):
    adata, resource = _synthetic(crossing=policy == "min_overall")
    n_perms, threshold = 1000, 0.3
    ours = rp.tl.communication(adata, "group", resource=resource, n_perms=n_perms,
                               min_fraction=threshold, min_cells=1, rows="all",
                               complex_policy=policy, inplace=False)
    x = adata.X.toarray()
    overall = dict(zip(adata.var_names, x.mean(axis=0), strict=True))
    chosen = {}
    for name in pd.concat([resource["ligand"], resource["receptor"]]):
        parts = name.split("_")
        chosen[name] = min(parts, key=lambda g: overall[g])  # squidpy's overall minimum
    means, pvalues, columns = _squidpy(adata, resource, chosen, n_perms, threshold)
    names = resource["ligand"] + "_" + resource["receptor"]
    mine = ours.set_index(["interaction", "source", "target"])
    our_means = np.array([[mine.loc[(n, s, t), "mean"] for s, t in columns] for n in names])
    our_p = np.array([[mine.loc[(n, s, t), "pvalue"] for s, t in columns] for n in names])
    np.testing.assert_allclose(our_means, means, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(our_p), np.isnan(pvalues))
    tested = ~np.isnan(pvalues)
    assert tested.sum() > 40
    assert (~tested).sum() > 10
    p = (our_p[tested] + pvalues[tested]) / 2
    bound = 5 * np.sqrt(2 * p * (1 - p) / n_perms) + 2 / n_perms
    assert (np.abs(our_p[tested] - pvalues[tested]) <= bound).all()


# ---------------------------------------------------------------- engine: samples and edge cases


@pytest.fixture(scope="module")
def lognorm(small_cohort):
    adata = small_cohort[~small_cohort.obs[K.TRUE_DOUBLET].to_numpy()].copy()
    adata.X = adata.layers[K.COUNTS].copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    return adata


def test_samples_are_scored_as_if_alone(lognorm, caplog):
    kwargs = {"sample_key": K.SAMPLE, "n_perms": 200, "inplace": False}
    with caplog.at_level(logging.INFO, logger="repertoire"):
        cohort = rp.tl.communication(lognorm, K.TRUE_CELL_TYPE, **kwargs)
    assert (cohort["pvalue"].between(0, 1)).all()
    assert len(cohort)
    samples = lognorm.obs[K.SAMPLE].astype(str)
    aplastic = next(s for s in samples.unique() if "_D14_" in s)
    day14 = cohort[cohort[K.SAMPLE] == aplastic]
    b_types = {"B_transitional", "B_naive", "B_memory_unswitched", "B_memory_switched", "B_DN"}
    assert len(day14)
    assert not (set(day14["source"]) | set(day14["target"])) & b_types
    blood = cohort[cohort[K.SAMPLE].astype(str).str.endswith("_PB")]
    assert not {"plasma_LLPC"} & set(blood["source"])  # no plasma niche in blood: no rows
    for sample in (aplastic, samples.iloc[-1]):
        alone = rp.tl.communication(lognorm[samples == sample].copy(), K.TRUE_CELL_TYPE,
                                    **kwargs)
        expected = cohort[cohort[K.SAMPLE] == sample].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            alone.drop(columns=K.SAMPLE), expected.drop(columns=K.SAMPLE),
            check_categorical=False,
        )


def _light(adata, mask, sample=None):
    part = ad.AnnData(adata.X[np.asarray(mask)], var=adata.var[[]].copy(),
                      obs=adata.obs.loc[np.asarray(mask), [K.SAMPLE, K.TRUE_CELL_TYPE]].copy())
    part.obs = part.obs.astype(str)
    if sample is not None:
        part.obs[K.SAMPLE] = sample
    return part


def test_edge_samples_flow_through(lognorm, caplog):
    samples = lognorm.obs[K.SAMPLE].astype(str).to_numpy()
    first = samples[0]
    monocytes = (samples == first) & (lognorm.obs[K.TRUE_CELL_TYPE] == "monocyte").to_numpy()
    five = np.flatnonzero(samples == samples[-1])[:5]
    tiny = np.zeros(len(samples), dtype=bool)
    tiny[five] = True
    mixed = ad.concat([_light(lognorm, samples == first), _light(lognorm, monocytes, "one_group"),
                       _light(lognorm, tiny, "five_cells")], index_unique="-")
    mixed.obs[K.TRUE_CELL_TYPE] = mixed.obs[K.TRUE_CELL_TYPE].astype("category")
    half_fake = pd.DataFrame({
        "ligand": ["CXCL12", "TNFSF13", "MIF", "FAKE1", "FAKE2", "FAKE3_CD74"],
        "receptor": ["CXCR4", "TNFRSF17", "CD74_CXCR4", "CXCR4", "FAKE4", "CXCR4"],
    })
    with caplog.at_level(logging.INFO, logger="repertoire"):
        table = rp.tl.communication(mixed, K.TRUE_CELL_TYPE, sample_key=K.SAMPLE,
                                    resource=half_fake, n_perms=50, rows="expressed",
                                    inplace=False)
    text = caplog.text
    assert "3 of 6 interactions dropped; genes not in the data: FAKE1, FAKE2, FAKE3, FAKE4" in text
    assert "five_cells has no group of at least 10 cells" in text
    assert "one_group holds one group only" in text
    assert set(table["interaction"]) <= {"CXCL12_CXCR4", "TNFSF13_TNFRSF17", "MIF_CD74_CXCR4"}
    assert "five_cells" not in set(table[K.SAMPLE])
    lone = table[table[K.SAMPLE] == "one_group"]
    assert len(lone)
    assert lone["pvalue"].isna().all()
    assert (lone["source"] == "monocyte").all()
    with pytest.raises(InputError, match="no interaction of the resource"):
        rp.tl.communication(mixed, K.TRUE_CELL_TYPE, resource=half_fake.iloc[3:])


def test_a_sample_without_cells_adds_no_rows(lognorm):
    """A sample whose every cell failed QC is scored as no cells: empty tables that join."""
    samples = lognorm.obs[K.SAMPLE].astype(str).to_numpy()
    one = _light(lognorm, samples == samples[0])
    one.obs[K.TRUE_CELL_TYPE] = one.obs[K.TRUE_CELL_TYPE].astype("category")
    none = one[:0].copy()
    options = {"sample_key": K.SAMPLE, "n_perms": 20}
    rp.tl.communication(one, K.TRUE_CELL_TYPE, **options)
    rp.tl.communication(none, K.TRUE_CELL_TYPE, **options)
    scored, empty = one.uns[K.COMMUNICATION], none.uns[K.COMMUNICATION]
    for name in (K.TABLE_INTERACTIONS, K.TABLE_GROUPS):
        assert len(empty[name]) == 0, name
        assert list(empty[name].columns) == list(scored[name].columns), name
        for records in ([scored, empty], [empty, scored]):
            joined = rp.io.join_records(records)[name]
            pd.testing.assert_frame_equal(joined, scored[name].reset_index(drop=True),
                                          check_categorical=False)


def test_determinism_inplace_and_store(lognorm, tmp_path):
    adata = lognorm[lognorm.obs[K.SAMPLE] == lognorm.obs[K.SAMPLE].iloc[0]].copy()
    before = (adata.obs.copy(), set(adata.uns))
    first = rp.tl.communication(adata, K.TRUE_CELL_TYPE, n_perms=100, seed=3, inplace=False)
    second = rp.tl.communication(adata, K.TRUE_CELL_TYPE, n_perms=100, seed=3, inplace=False)
    pd.testing.assert_frame_equal(first, second)
    threads = rp.tl.communication(adata, K.TRUE_CELL_TYPE, n_perms=100, seed=3, n_jobs=2,
                                  inplace=False)
    pd.testing.assert_frame_equal(first, threads)  # threads share out genes and pairs only
    other = rp.tl.communication(adata, K.TRUE_CELL_TYPE, n_perms=100, seed=4, inplace=False)
    assert not np.array_equal(first["pvalue"], other["pvalue"])
    pd.testing.assert_frame_equal(adata.obs, before[0])
    assert set(adata.uns) == before[1]
    assert rp.tl.communication(adata, K.TRUE_CELL_TYPE, n_perms=100, seed=3) is None
    record = adata.uns[K.COMMUNICATION]
    pd.testing.assert_frame_equal(record[K.TABLE_INTERACTIONS], first)
    assert record[K.PARAMS]["seed"] == 3
    assert record[K.PARAMS]["n_perms"] == 100
    assert record[K.PARAMS]["resource"] == "repertoire"
    groups = record[K.TABLE_GROUPS]
    assert groups["n_cells"].sum() == adata.n_obs
    adata.write_h5ad(tmp_path / "scored.h5ad")
    back = ad.read_h5ad(tmp_path / "scored.h5ad").uns[K.COMMUNICATION]
    assert len(back[K.TABLE_INTERACTIONS]) == len(first)


def test_symbols_match_case_insensitively_and_from_a_column(tiny):
    adata, resource = tiny
    kwargs = {"resource": resource, "min_cells": 1, "n_perms": 20, "inplace": False}
    reference = rp.tl.communication(adata, "group", **kwargs)
    lower = adata.copy()
    lower.var_names = ["l", "r1", "r2"]
    pd.testing.assert_frame_equal(rp.tl.communication(lower, "group", **kwargs), reference)
    ensembl = adata.copy()
    ensembl.var["symbol"] = ensembl.var_names
    ensembl.var_names = ["ENSG1", "ENSG2", "ENSG3"]
    pd.testing.assert_frame_equal(
        rp.tl.communication(ensembl, "group", gene_symbols="symbol", **kwargs), reference)
    dense = adata.copy()
    dense.X = dense.X.toarray()
    pd.testing.assert_frame_equal(rp.tl.communication(dense, "group", **kwargs), reference)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groupby": "nope"}, "column 'nope'"),
        ({"sample_key": "nope"}, "column 'nope'"),
        ({"layer": "nope"}, "layer 'nope'"),
        ({"complex_policy": "mean"}, "complex_policy"),
        ({"rows": "some"}, "rows must be"),
        ({"min_fraction": 1.5}, "min_fraction"),
        ({"n_perms": -1}, "n_perms"),
        ({"gene_symbols": "nope"}, "gene_symbols column 'nope'"),
    ],
)
def test_user_errors_name_the_argument(tiny, kwargs, message):
    adata, resource = tiny
    kwargs = {"groupby": "group", "resource": resource, **kwargs}
    with pytest.raises(InputError, match=message):
        rp.tl.communication(adata, **kwargs)
