"""Every public function follows the function contract of the design notes (scanpy's)."""

from __future__ import annotations

import inspect
import re

import pytest
from numpydoc.docscrape import FunctionDoc

import repertoire as rp
from repertoire._docs import SNIPPETS

MODULES = {"io": rp.io, "pp": rp.pp, "tl": rp.tl, "pl": rp.pl, "datasets": rp.datasets,
           "resources": rp.resources}
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


@pytest.mark.parametrize("function", [p for p in PUBLIC if p.id.startswith(("pp.", "tl."))])
def test_analysis_functions_take_adata_first(function):
    assert next(iter(inspect.signature(function).parameters)) == "adata"
