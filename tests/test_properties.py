"""Properties that hold for every input: the sample-sheet reader, the patient-level statistics,
the reconstitution fractions and the communication engine, each over inputs hypothesis draws."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import repertoire as rp
from repertoire import _keys as K
from repertoire._errors import InputError
from repertoire.io._samplesheet import HDF5_SIGNATURE, REQUIRED_COLUMNS, TISSUES
from repertoire.tl._reconstitution import sample_table
from repertoire.tl._stats import (
    bootstrap_interval,
    label_permutation_test,
    sign_flip_test,
    wilson_interval,
)

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- the sample sheet

MAX_ROWS = 6
identifiers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,11}\Z")
sheet_rows = st.lists(
    st.tuples(identifiers, identifiers, identifiers, st.integers(-400, 4000),
              st.sampled_from(TISSUES), st.sampled_from(K.OUTCOMES)),
    min_size=1, max_size=MAX_ROWS, unique_by=lambda row: row[0],
)


@pytest.fixture(scope="module")
def sheet_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sheets")
    for number in range(MAX_ROWS):
        (directory / _matrix(number)).write_bytes(HDF5_SIGNATURE + b"\0" * 8)
    return directory


def _matrix(number: int) -> str:
    """The matrix of the sheet's ``number``-th sample: each sample has its own file."""
    return f"m{number}.h5"


def _sheet_text(rows: list[tuple], *, newline: str = "\n") -> str:
    lines = ["\t".join(REQUIRED_COLUMNS)]
    for number, (sample, patient, timepoint, day, tissue, outcome) in enumerate(rows):
        lines.append("\t".join([sample, patient, timepoint, str(day), tissue, outcome,
                                _matrix(number)]))
    return newline.join(lines) + newline


def _one_outcome_per_patient(rows: list[tuple]) -> list[tuple]:
    first = {}
    return [(*row[:5], first.setdefault(row[1], row[5])) for row in rows]


@FEW
@given(rows=sheet_rows.map(_one_outcome_per_patient),
       layout=st.sampled_from(["plain", "crlf", "bom", "padded"]))
def test_a_valid_sheet_reads_back_whatever_its_layout(sheet_directory, rows, layout):
    text = _sheet_text(rows, newline="\r\n" if layout == "crlf" else "\n")
    if layout == "bom":
        text = "\ufeff" + text
    if layout == "padded":  # spaces around every field, as a hand-edited sheet may have
        text = "\n".join("\t".join(f" {v} " for v in line.split("\t"))
                         for line in text.splitlines()) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", dir=sheet_directory,
                                     delete=False, encoding="utf-8") as handle:
        handle.write(text)
    sheet = rp.io.read_samplesheet(handle.name)
    Path(handle.name).unlink()
    assert list(sheet.index) == [row[0] for row in rows]
    for number, ((_, patient, timepoint, day, tissue, outcome), (_, read)) in enumerate(zip(
            rows, sheet.iterrows(), strict=True)):
        assert (read[K.PATIENT], read[K.TIMEPOINT], read[K.TISSUE], read[K.OUTCOME]) == (
            patient, timepoint, tissue, outcome)
        assert read[K.DAY] == day
        assert read["gex"] == str(sheet_directory / _matrix(number))


@FEW
@given(content=st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    sheet_rows.map(_sheet_text).flatmap(
        lambda text: st.tuples(st.just(text), st.integers(0, len(text)), st.text(max_size=8))
    ).map(lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:]),
))
def test_any_sheet_reads_or_fails_with_one_sentence(sheet_directory, content):
    path = sheet_directory / "sheet.tsv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    try:
        rp.io.read_samplesheet(path)
    except InputError as error:
        message = str(error)
        assert str(path) in message
        assert "\n" not in message


# ---------------------------------------------------------------- statistics

values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@FEW
@given(data=st.lists(st.tuples(values, st.booleans()), min_size=2, max_size=12).filter(
    lambda rows: 0 < sum(g for _, g in rows) < len(rows)),
    alternative=st.sampled_from(["two-sided", "greater", "less"]))
def test_a_permutation_p_lies_between_the_smallest_attainable_and_one(data, alternative):
    x, group = map(np.array, zip(*data, strict=True))
    result = label_permutation_test(x, group, alternative=alternative)
    assert result.exact
    assert 1 / math.comb(len(x), int(group.sum())) <= result.p_min <= result.pvalue <= 1


@FEW
@given(differences=st.lists(values, min_size=1, max_size=12),
       alternative=st.sampled_from(["two-sided", "greater", "less"]))
def test_a_sign_flip_p_lies_between_the_smallest_attainable_and_one(differences, alternative):
    result = sign_flip_test(differences, alternative=alternative)
    assert 1 / 2 ** len(differences) <= result.p_min <= result.pvalue <= 1


@FEW
@given(case=st.lists(values, min_size=1, max_size=10),
       control=st.lists(values, min_size=1, max_size=10), seed=st.integers(0, 2**16))
def test_a_bootstrap_interval_holds_the_estimate(case, control, seed):
    estimate = np.mean(case) - np.mean(control)
    low, high = bootstrap_interval([case, control], lambda a, b: a.mean(-1) - b.mean(-1),
                                   n_boot=500, random_state=seed)
    slack = 1e-9 * max(1.0, abs(estimate))
    assert low - slack <= estimate <= high + slack


@FEW
@given(counts=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1,
                       max_size=20),
       confidence=st.floats(0.5, 0.999))
def test_a_wilson_interval_lies_in_0_1_around_the_fraction(counts, confidence):
    trials = np.array([max(a, b) for a, b in counts])
    successes = np.array([min(a, b) for a, b in counts])
    low, high = wilson_interval(successes, trials, confidence)
    seen = trials > 0
    assert np.isnan(low[~seen]).all()
    assert np.isnan(high[~seen]).all()
    fraction = successes[seen] / trials[seen]
    assert (low[seen] >= 0).all()
    assert (low[seen] <= fraction).all()
    assert (fraction <= high[seen]).all()
    assert (high[seen] <= 1).all()


# ---------------------------------------------------------------- reconstitution fractions

CELL_TYPES = [*K.BCR_STATE_OF_CELL_TYPE, "T_CD4_naive", "T_CD8_effector", "NK", "monocyte"]
BCR_STATES = ["naive_transitional", "memory_unswitched", "memory_switched", "DN", "plasma",
              None]
cells = st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(CELL_TYPES),
                           st.sampled_from(BCR_STATES), st.booleans()),
                 min_size=1, max_size=60)
SAMPLES = {"s1": ("P1", "baseline", -5), "s2": ("P1", "M3", 90), "s3": ("P2", "M3", 91)}


def _cells_obs(rows: list[tuple]) -> pd.DataFrame:
    obs = pd.DataFrame(rows, columns=[K.SAMPLE, K.CELL_TYPE, K.BCR_STATE, "has_isotype"])
    obs[K.PATIENT] = obs[K.SAMPLE].map(lambda s: SAMPLES[s][0])
    obs[K.TIMEPOINT] = obs[K.SAMPLE].map(lambda s: SAMPLES[s][1])
    obs[K.DAY] = obs[K.SAMPLE].map(lambda s: SAMPLES[s][2])
    obs[K.TISSUE] = "blood"
    obs[K.OUTCOME] = obs[K.PATIENT].map({"P1": "remission", "P2": "relapse"})
    obs[K.ISOTYPE] = np.where(obs.pop("has_isotype"), "IGHM", None)
    obs.index = [f"cell{i}" for i in range(len(obs))]
    return obs


def _reconstitution(obs: pd.DataFrame) -> pd.DataFrame:
    return sample_table(ad.AnnData(obs=obs), sample_key=K.SAMPLE, aplasia_below=5.0)


@FEW
@given(rows=cells, order=st.randoms(use_true_random=False))
def test_reconstitution_fractions_add_up_and_ignore_cell_order(rows, order):
    obs = _cells_obs(rows)
    table = _reconstitution(obs)
    for source in ("tx", "bcr"):
        known = table[f"n_B_{source}"] > 0
        total = table.loc[known, f"frac_naive_{source}"] + table.loc[known,
                                                                     f"frac_memory_{source}"]
        np.testing.assert_allclose(total, 1.0)
        parts = table.loc[known, [f"frac_switched_{source}", f"frac_DN_{source}"]].sum(axis=1)
        assert (parts <= table.loc[known, f"frac_memory_{source}"] + 1e-12).all()
        assert table.loc[~known, f"frac_naive_{source}"].isna().all()
    shuffled = list(obs.index)
    order.shuffle(shuffled)
    pd.testing.assert_frame_equal(_reconstitution(obs.loc[shuffled]), table)


# ---------------------------------------------------------------- the communication engine

GENES = ["CD40LG", "CD40", "CXCL13", "CXCR5", "TNFSF13B", "TNFRSF13B", "IL21", "IL21R",
         "ICOS", "ICOSLG", "IL2RG"]
STATISTICS = ["ligand_mean", "receptor_mean", "ligand_fraction", "receptor_fraction",
              "n_source", "n_target", "mean", "tested"]


@st.composite
def expression(draw):
    n_cells = draw(st.integers(12, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    counts = rng.poisson(draw(st.floats(0.2, 3.0)), size=(n_cells, len(GENES)))
    groups = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n_cells,
                           max_size=n_cells).filter(lambda g: len(set(g)) > 1))
    obs = pd.DataFrame({"group": pd.Categorical(groups), K.SAMPLE: "s1"},
                       index=[f"c{i}" for i in range(n_cells)])
    return ad.AnnData(X=sp.csr_matrix(np.log1p(counts).astype(np.float32)), obs=obs,
                      var=pd.DataFrame(index=GENES))


def _interactions(adata: ad.AnnData, n_perms: int) -> pd.DataFrame:
    table = rp.tl.communication(adata, "group", sample_key=K.SAMPLE, n_perms=n_perms,
                                min_cells=2, rows="all", inplace=False)
    table = table.assign(**{c: table[c].astype(str) for c in ("source", "target")})
    return table.sort_values(["source", "target", "ligand", "receptor"], ignore_index=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adata=expression(), order=st.randoms(use_true_random=False))
def test_communication_ignores_cell_order_and_group_names(adata, order):
    table = _interactions(adata, n_perms=50)
    shuffled = list(adata.obs_names)
    order.shuffle(shuffled)
    # the statistic and its parts do not depend on the order of the cells
    reordered = _interactions(adata[shuffled].copy(), n_perms=50)
    pd.testing.assert_frame_equal(reordered[STATISTICS], table[STATISTICS])
    # renaming the groups renames the rows and changes nothing else, p-values included
    names = {"A": "zeta", "B": "alpha", "C": "mid"}
    renamed = adata.copy()
    renamed.obs["group"] = renamed.obs["group"].map(names).astype("category")
    back = _interactions(renamed, n_perms=50).replace(
        {"source": {v: k for k, v in names.items()}, "target": {v: k for k, v in names.items()}})
    back = back.sort_values(["source", "target", "ligand", "receptor"], ignore_index=True)
    pd.testing.assert_frame_equal(back[[*STATISTICS, "pvalue"]], table[[*STATISTICS, "pvalue"]])
