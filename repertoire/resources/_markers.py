"""Marker panels of lineages and cell types: the shipped YAML file or a user's own, checked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from .. import _keys as K
from .._errors import InputError, reason

MARKERS_FILE = "markers.yaml"
SECTIONS = ("lineages", "cell_types")
PANEL_KEYS = {"positive", "negative", "citation"}
CELL_TYPE_KEYS = PANEL_KEYS | {"lineage", "lineage_level"}
ALTERNATIVE = "|"


def marker_panels(panels: Mapping | str | os.PathLike | None = None) -> dict:
    """Load and check marker panels of lineages and cell types.

    The shipped panels (``repertoire/resources/markers.yaml``) hold, per lineage and per cell
    type, positive and negative marker genes and the literature they come from: B-cell subsets
    (Sanz et al., Front Immunol 2019; double-negative B cells: Jenks et al., Immunity 2018),
    plasma cells (Halliley et al., Immunity 2015; Mei et al., Blood 2015), Tfh and Tph cells
    (Rao et al., Nature 2017; Bocharnikov et al., JCI Insight 2019), PBMC populations (Hao et
    al., Cell 2021) and marrow stroma (Baryawno et al., Cell 2019).

    Parameters
    ----------
    panels
        Panels to check instead of the shipped ones: a mapping shaped like the shipped file
        (``lineages`` and ``cell_types``, each panel with ``positive``, optional ``negative``
        and ``citation``; cell types also with ``lineage`` and optional ``lineage_level``), or
        the path of such a YAML file.

    Returns
    -------
    A new mapping with ``lineages`` (lineage -> panel) and ``cell_types`` (cell type ->
    panel), every panel holding ``positive`` and ``negative`` (lists of gene symbols; ``A|B``
    is one feature, the highest of its genes) and ``citation``, every cell-type panel also
    ``lineage`` (one of B, plasma, T, NK, myeloid, other) and ``lineage_level`` (whether it
    votes for its lineage directly).

    Raises
    ------
    InputError
        If the file cannot be read, or a section, panel or key is missing or malformed; the
        message names the key at fault.
    """
    if panels is None:
        text = (resources.files(__package__) / MARKERS_FILE).read_text()
        return _check(yaml.safe_load(text), MARKERS_FILE)
    if isinstance(panels, Mapping):
        return _check(panels, "marker panels")
    path = Path(panels)
    if not path.is_file():
        raise InputError(f"marker panel file {path} does not exist.")
    try:
        content = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"marker panel file {path} is not valid YAML ({reason(error)}).") from None
    return _check(content, f"marker panel file {path}")


def _check(content: object, source: str) -> dict:
    if not isinstance(content, Mapping):
        raise InputError(f"{source} must be a mapping with keys {', '.join(SECTIONS)}.")
    unknown = set(content) - set(SECTIONS)
    if unknown:
        raise InputError(f"{source} has unknown key '{sorted(map(str, unknown))[0]}'; "
                         f"expected {', '.join(SECTIONS)}.")
    checked = {}
    for section in SECTIONS:
        value = content.get(section) or {}
        if not isinstance(value, Mapping):
            raise InputError(f"{source}: '{section}' must map names to panels.")
        checked[section] = {
            str(name): _panel(panel, f"{source}: {section}.{name}", section == "cell_types")
            for name, panel in value.items()
        }
    if not checked["cell_types"]:
        raise InputError(f"{source}: 'cell_types' holds no panel.")
    for name in checked["lineages"]:
        _lineage(name, f"{source}: lineages.{name}")
    callable_lineages = set(checked["lineages"]) | {
        p["lineage"] for p in checked["cell_types"].values() if p["lineage_level"]
    }
    for name, panel in checked["cell_types"].items():
        if panel["lineage"] not in callable_lineages:
            raise InputError(
                f"{source}: cell_types.{name} belongs to lineage '{panel['lineage']}', which "
                "has no panel in 'lineages' and no cell type with lineage_level: true."
            )
    return checked


def _panel(panel: object, where: str, cell_type: bool) -> dict:
    if not isinstance(panel, Mapping):
        raise InputError(f"{where} must be a mapping with a 'positive' list of genes.")
    allowed = CELL_TYPE_KEYS if cell_type else PANEL_KEYS
    unknown = set(panel) - allowed
    if unknown:
        raise InputError(f"{where} has unknown key '{sorted(map(str, unknown))[0]}'; "
                         f"expected {', '.join(sorted(allowed))}.")
    checked = {
        "positive": _genes(panel.get("positive"), f"{where}.positive", required=True),
        "negative": _genes(panel.get("negative"), f"{where}.negative", required=False),
        "citation": panel.get("citation") or "",
    }
    if not isinstance(checked["citation"], str):
        raise InputError(f"{where}.citation must be text.")
    if cell_type:
        if "lineage" not in panel:
            raise InputError(f"{where} has no 'lineage'.")
        checked["lineage"] = _lineage(panel["lineage"], f"{where}.lineage")
        level = panel.get("lineage_level", False)
        if isinstance(level, np.bool_):
            level = bool(level)
        if not isinstance(level, bool):
            raise InputError(f"{where}.lineage_level must be true or false.")
        checked["lineage_level"] = level
    return checked


def _genes(value: object, where: str, *, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str) or not isinstance(value, list | tuple) or (required and not value):
        raise InputError(f"{where} must be a non-empty list of gene symbols." if required
                         else f"{where} must be a list of gene symbols.")
    genes = []
    for gene in value:
        if not isinstance(gene, str) or not all(part.strip() for part in gene.split(ALTERNATIVE)):
            raise InputError(f"{where} holds '{gene}', which is not a gene symbol.")
        genes.append(ALTERNATIVE.join(part.strip() for part in gene.split(ALTERNATIVE)))
    return genes


def _lineage(value: object, where: str) -> str:
    if value not in K.LINEAGES:
        raise InputError(f"{where} is '{value}', not one of {', '.join(K.LINEAGES)}.")
    return str(value)
