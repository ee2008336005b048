"""Sphinx configuration of the repertoire documentation (``./run docs`` builds it)."""

from __future__ import annotations

import sys

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer

import repertoire

project = "repertoire"
author = "the repertoire developers"
copyright = "the repertoire developers"
version = release = repertoire.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "tutorial_results"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# API reference: one page per name in each public module's __all__
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"

# numpydoc docstrings. Their Returns sections are prose (the types are in the signatures), so
# they are rendered as written under a "Returns" heading instead of being parsed as types.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_custom_sections = ["Returns"]

# Markdown pages and the tutorial notebook, executed at every build
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 1200
nb_execution_in_temp = True  # what the tutorial writes goes to a temporary directory
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = f"repertoire {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_static_path: list[str] = []


def _constant_docs(app, what, name, obj, options, lines):
    """Document a public constant with the ``#:`` comment above its definition.

    A constant re-exported by a public module (``repertoire.report.FLAG_THRESHOLDS``) is defined
    in a private one; without this, autodoc would show the docstring of its type.
    """
    if what != "data":
        return
    package, _, _ = name.rpartition(".")
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith(package + "."):
            continue
        defined = [k for k, v in vars(module).items() if v is obj and not k.startswith("__")]
        if not defined:
            continue
        try:
            comments = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except PycodeError:
            continue
        for attr in defined:
            if ("", attr) in comments:
                lines[:] = list(comments["", attr])
                return
    lines.clear()


def setup(app):
    """Register the constant documentation hook."""
    app.connect("autodoc-process-docstring", _constant_docs)
