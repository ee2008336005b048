"""Every public function follows the function contract of the design notes (scanpy's)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping

import anndata as ad
import awkward as ak
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpydoc.docscrape import FunctionDoc

import repertoire as rp
from repertoire import _keys as K
from repertoire._docs import SNIPPETS

MODULES = {"io": rp.io, "pp": rp.pp, "tl": rp.tl, "pl": rp.pl, "get": rp.get,
           "datasets": rp.datasets, "resources": rp.resources}
PUBLIC = [
    pytest.param(getattr(module, name), id=f"{prefix}.{name}")
    for prefix, module in MODULES.items()
    for name in module.__all__
    if inspect.isfunction(getattr(module, name))
]
SEED_NAMES = ("random_state", "seed")


def test_every_module_exports_something():
    for prefix, module in MODULES.items():
        assert module.__all__, prefix
        for name in module.__all__:
            assert hasattr(module, name), f"{prefix}.{name}"


@pytest.mark.parametrize("function", PUBLIC)
def test_docstring_documents_every_parameter_and_the_result(function):
    placeholders = re.findall(r"^\s*\{(\w+)\}\s*$", function.__doc__ or "", re.MULTILINE)
    assert not set(placeholders) & set(SNIPPETS), f"unfilled {placeholders}: add @doc_params"
    doc = FunctionDoc(function)
    assert doc["Summary"], "missing summary line"
    signature = inspect.signature(function)
    names = [
        p.name for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    documented = [name.strip() for p in doc["Parameters"] for name in p.name.split(",")]
    assert documented == names, f"documented {documented} but signature has {names}"
    for parameter in doc["Parameters"]:
        assert parameter.desc, f"parameter {parameter.name} has no description"
        assert not parameter.type, f"type of {parameter.name} belongs in the signature only"
    if signature.return_annotation not in (None, "None"):
        assert doc["Returns"] or doc["Yields"], "missing Returns section"


@pytest.mark.parametrize("function", PUBLIC)
def test_signature_shape(function):
    parameters = list(inspect.signature(function).parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if parameters and parameters[0].name == "adata":
        assert len(positional) <= 3, "adata and at most two essential positionals"
    else:
        assert len(positional) <= 3
    for parameter in parameters:
        if isinstance(parameter.default, bool) or parameter.annotation in ("bool", bool):
            assert parameter.kind == parameter.KEYWORD_ONLY, (
                f"boolean {parameter.name} must be keyword-only"
            )
        if parameter.name in SEED_NAMES:
            assert isinstance(parameter.default, int), (
                f"{parameter.name} needs a fixed integer default"
            )
            assert parameter.kind == parameter.KEYWORD_ONLY
        if parameter.name == "inplace":
            assert parameter.default is True
        if parameter.name in ("key_added", "layer", "batch_key"):
            assert parameter.kind == parameter.KEYWORD_ONLY, parameter.name


@pytest.mark.parametrize("function", [p for p in PUBLIC if p.id.startswith("pl.")])
def test_plot_functions_take_ax_show_save(function):
    parameters = inspect.signature(function).parameters
    assert next(iter(parameters)) == "adata"
    for name in ("ax", "show", "save"):
        assert name in parameters, name
        assert parameters[name].default is None, name
        assert parameters[name].kind == parameters[name].KEYWORD_ONLY


# Tools that work on any tidy per-sample table rather than on an AnnData (the outcome engine:
# niche scores, programme scores, reconstitution fractions...). The table comes first; they
# write nothing anywhere (no inplace, no key_added), return their result and record every
# argument and the seed in the result's .attrs["params"]. Every other pp/tl tool takes adata.
TABLE_TOOLS = ("tl.compare_outcomes", "tl.predict_outcome")


def test_table_tools_exist():
    assert set(TABLE_TOOLS) <= {p.id for p in PUBLIC}


@pytest.mark.parametrize("function", [
    p for p in PUBLIC if p.id.startswith(("pp.", "tl.")) and p.id not in TABLE_TOOLS
])
def test_analysis_functions_take_adata_first(function):
    assert next(iter(inspect.signature(function).parameters)) == "adata"


@pytest.mark.parametrize("function", [p for p in PUBLIC if p.id in TABLE_TOOLS])
def test_table_tools_take_the_table_first_change_nothing_and_record(function):
    parameters = inspect.signature(function).parameters
    assert next(iter(parameters)) == "table"
    assert "inplace" not in parameters
    assert "key_added" not in parameters
    # niche scores of four patients at one visit: a tidy per-sample table
    table = pd.DataFrame({
        K.SAMPLE: [f"S{i}" for i in range(4) for _ in range(2)],
        K.PATIENT: [f"P{i}" for i in range(4) for _ in range(2)],
        K.OUTCOME: ["relapse"] * 4 + ["remission"] * 4,
        K.TISSUE: "blood", K.TIMEPOINT: "M6", K.DAY: 180,
        "niche": ["A", "B"] * 4, "score": [3.0, 1.0, 2.5, 0.0, 1.0, 0.5, 0.0, 2.0],
    })
    reference = table.copy()
    result = function(table)
    pd.testing.assert_frame_equal(table, reference)
    assert result is not None
    tables = result.values() if isinstance(result, Mapping) else [result]
    assert all(isinstance(t, pd.DataFrame) for t in tables)
    recorded = next(iter(tables)).attrs[K.PARAMS]
    seeds = [name for name in parameters if name in SEED_NAMES]
    assert set(parameters) - {"table"} <= set(recorded)
    assert all(recorded[name] == parameters[name].default for name in seeds)


# The tools run: inplace=False changes nothing, inplace=True records its parameters -----------

TOOLS = [p for p in PUBLIC if p.id.startswith(("pp.", "tl.")) and p.id not in TABLE_TOOLS]
# quick arguments for the tiny cohort; every other argument keeps its default
ARGUMENTS = {
    "pp.preprocess": {"n_comps": 10},
    "tl.diversity": {"n_draws": 3},
    "tl.reconstitution": {"n_boot": 20},
    "tl.spatial_niches": {"n_perms": 50},
    "tl.communication": {"sample_key": K.SAMPLE, "n_perms": 20},
    "tl.communication_programmes": {"n_programmes": 2},
    "tl.niche_outcomes": {"n_boot": 20},
}
PLOT_ARGUMENTS = {
    "pl.reconstitution": ("P01",),
    "pl.reconstitution_timeline": ("P01",),
    "pl.car_kinetics": ("P01",),
    "pl.niche_patient": ("P01",),
    "pl.embedding_panels": ([K.LINEAGE, K.SAMPLE],),
    "pl.spatial_niches": ("P01_M6_BM",),
}
# records a tool writes besides .uns[key_added], as documented in its docstring
ALSO_WRITES = {"pp.qc": {K.LOW_QUALITY, K.DOUBLET}}
# the .uns record of tools whose key_added names something else (scanpy's rules)
RECORD_KEY = {"pp.umap": K.UMAP_UNS}


@pytest.fixture(scope="module")
def analysed():
    """Two patients, about 1,000 cells, after every step of the workflow."""
    adata = rp.datasets.simulate_cohort(2, 1, cells_per_sample=60, seed=5)
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata, n_comps=10)
    rp.tl.cluster(adata)
    rp.tl.annotate(adata)
    rp.tl.detect_car(adata)
    rp.tl.bcr_state(adata)
    rp.tl.clonotypes(adata)
    rp.tl.diversity(adata, n_draws=3)
    rp.tl.track_clones(adata)
    rp.tl.reconstitution(adata, n_boot=20)
    rp.tl.spatial_niches(adata, n_perms=50)
    rp.tl.communication(adata, sample_key=K.SAMPLE, n_perms=20)
    rp.tl.niche_scores(adata)
    rp.tl.communication_programmes(adata, n_programmes=2)
    rp.tl.niche_outcomes(adata, n_boot=20)
    return adata


def _assert_same(a: object, b: object, where: str) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif sp.issparse(a):
        assert sp.issparse(b), where
        assert (a.shape, a.dtype) == (b.shape, b.dtype), where
        assert (a != b).nnz == 0, where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, ak.Array):
        assert ak.to_list(a) == ak.to_list(b), where
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping), where
        assert set(a) == set(b), f"{where}: {set(a) ^ set(b)}"
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float), where
        assert np.isnan(b), where
    else:
        assert type(a) is type(b), where
        assert a == b, where


def _same(a: object, b: object) -> bool:
    try:
        _assert_same(a, b, "")
    except AssertionError:
        return False
    return True


def assert_unchanged(adata, reference) -> None:
    """Every part of ``adata`` equals ``reference``'s, values and types."""
    _assert_same(adata.obs, reference.obs, "obs")
    _assert_same(adata.var, reference.var, "var")
    _assert_same(adata.X, reference.X, "X")
    for part in ("layers", "obsm", "obsp", "varm", "uns"):
        _assert_same(dict(getattr(adata, part)), dict(getattr(reference, part)), part)


@pytest.mark.parametrize("function", TOOLS)
def test_inplace_false_returns_the_result_and_changes_nothing(function, analysed, request):
    name = request.node.callspec.id
    adata = analysed.copy()
    if "inplace" in inspect.signature(function).parameters:
        result = function(adata, **ARGUMENTS.get(name, {}), inplace=False)
    else:
        result = function(adata, **ARGUMENTS.get(name, {}))
    assert result is not None
    assert_unchanged(adata, analysed)


@pytest.mark.parametrize("function", [
    p for p in TOOLS if "inplace" in inspect.signature(p.values[0]).parameters
])
def test_inplace_true_writes_and_records_the_parameters(function, analysed, request, tmp_path):
    name = request.node.callspec.id
    adata = analysed.copy()
    assert function(adata, **ARGUMENTS.get(name, {})) is None
    written = {key for key, value in adata.uns.items()
               if key not in analysed.uns or not _same(value, analysed.uns[key])}
    parameters = inspect.signature(function).parameters
    if "key_added" in parameters:
        key = RECORD_KEY.get(name, parameters["key_added"].default)
        assert key in adata.uns
        assert isinstance(adata.uns[key][K.PARAMS], dict)
        assert adata.uns[key][K.PARAMS]
    # what a tool writes is stored: the record survives a round trip through .h5ad
    rp.io.write_h5ad(adata, tmp_path / "written.h5ad")
    back = ad.read_h5ad(tmp_path / "written.h5ad")
    assert set(back.uns) == set(adata.uns)
    with_tables = {key for key in written if isinstance(adata.uns[key], Mapping)
                   and any(isinstance(v, pd.DataFrame) for v in adata.uns[key].values())}
    if with_tables:
        assert "key_added" in parameters, f"writes tables {with_tables} without key_added"
        assert with_tables <= {parameters["key_added"].default, *ALSO_WRITES.get(name, ())}


@pytest.mark.parametrize("function", [p for p in PUBLIC if p.id.startswith("pl.")])
def test_plots_change_nothing(function, analysed, request):
    adata = analysed.copy()
    result = function(adata, *PLOT_ARGUMENTS.get(request.node.callspec.id, ()), show=False)
    assert result is not None
    plt.close("all")
    assert_unchanged(adata, analysed)
