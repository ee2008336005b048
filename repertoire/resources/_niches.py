"""Named niches: the shipped YAML file or a user's own, checked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from .._errors import InputError, reason
from ..io._samplesheet import IDENTIFIER
from ._interactions import COMPLEX_SEPARATOR

NICHES_FILE = "niches.yaml"
REQUIRED_KEYS = ("senders", "receivers", "interactions")
OPTIONAL_KEYS = ("tissues", "description", "citation")


def niches(definitions: Mapping | str | os.PathLike | None = None) -> dict[str, dict]:
    """Load and check the definitions of named cell-cell interaction niches.

    The shipped file (``repertoire/resources/niches.yaml``) defines ``T_B_help`` (Tfh and Tph
    cells helping B cells: CD40L, IL-21, CXCL13, ...), ``plasma_survival`` (stromal, myeloid,
    eosinophil and megakaryocyte senders of APRIL, BAFF, IL-6, CXCL12 and VCAM-1 to plasma
    cells, in bone marrow), ``plasma_cell_partners`` (T and B cells engaging long-lived plasma
    cells: IL-21, CD80/CD86-CD28), ``B_T_costimulation``, ``checkpoint``, ``homing`` and
    ``B_cell_killing``, each with the literature it rests on.

    Parameters
    ----------
    definitions
        Niches to check instead of the shipped ones: a mapping shaped like the shipped file
        (niche name -> ``senders``, ``receivers``: lists of cell types; ``interactions``: a list
        of ``[ligand, receptor]`` pairs, complexes as subunits joined by ``_``; optional
        ``tissues``, ``description``, ``citation``), or the path of such a YAML file.

    Returns
    -------
    A new mapping from niche name to its checked definition: ``senders``, ``receivers`` and
    ``tissues`` (lists of strings; ``tissues`` empty when the niche may exist anywhere),
    ``interactions`` (a list of ``(ligand, receptor)`` tuples, symbols upper-cased),
    ``description`` and ``citation``.

    Raises
    ------
    InputError
        If the file cannot be read, a niche name is not an identifier (letters, digits,
        ``_.-``: it names files), or a niche, key or entry is missing or malformed; the
        message names the niche and key at fault.
    """
    if definitions is None:
        text = (resources.files(__package__) / NICHES_FILE).read_text()
        return _check(yaml.safe_load(text), NICHES_FILE)
    if not isinstance(definitions, str | os.PathLike):
        return _check(definitions, "niche definitions")
    path = Path(definitions)
    if not path.is_file():
        raise InputError(f"niche file {path} does not exist.")
    try:
        content = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"niche file {path} is not valid YAML ({reason(error)}).") from None
    return _check(content, f"niche file {path}")


def _check(content: object, source: str) -> dict[str, dict]:
    if not isinstance(content, Mapping) or not content:
        raise InputError(f"{source} must map niche names to their definitions.")
    for name in content:
        # a niche names its figures' files, so its name is an identifier as sample ids are
        if not IDENTIFIER.match(str(name)):
            raise InputError(
                f"{source}: niche name '{name}' may contain only letters, digits, '_', '.' and "
                "'-', and must start with a letter or digit."
            )
    return {str(name): _niche(value, f"{source}: {name}") for name, value in content.items()}


def _niche(value: object, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a mapping with {', '.join(REQUIRED_KEYS)}.")
    unknown = set(value) - {*REQUIRED_KEYS, *OPTIONAL_KEYS}
    if unknown:
        raise InputError(f"{where} has unknown key '{sorted(map(str, unknown))[0]}'; expected "
                         f"{', '.join((*REQUIRED_KEYS, *OPTIONAL_KEYS))}.")
    for key in REQUIRED_KEYS:
        if key not in value:
            raise InputError(f"{where} has no '{key}'.")
    checked = {
        "senders": _names(value["senders"], f"{where}.senders", required=True),
        "receivers": _names(value["receivers"], f"{where}.receivers", required=True),
        "interactions": _pairs(value["interactions"], f"{where}.interactions"),
        "tissues": _names(value.get("tissues"), f"{where}.tissues", required=False),
    }
    for key in ("description", "citation"):
        text = value.get(key) or ""
        if not isinstance(text, str):
            raise InputError(f"{where}.{key} must be text.")
        checked[key] = " ".join(text.split())
    return checked


def _names(value: object, where: str, *, required: bool) -> list[str]:
    if value is None and not required:
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str) or not isinstance(value, list | tuple) or (required and not value):
        raise InputError(f"{where} must be a {'non-empty ' if required else ''}list of names.")
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{where} holds '{name}', which is not a name.")
    return [name.strip() for name in value]


def _pairs(value: object, where: str) -> list[tuple[str, str]]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise InputError(f"{where} must be a non-empty list of [ligand, receptor] pairs.")
    pairs = []
    for pair in value:
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if (not isinstance(pair, list | tuple) or len(pair) != 2
                or not all(isinstance(g, str) and g.strip() for g in pair)
                or any(not part for g in pair for part in g.strip().split(COMPLEX_SEPARATOR))):
            raise InputError(f"{where} holds {pair!r}, which is not a [ligand, receptor] pair "
                             "of gene symbols.")
        pairs.append((pair[0].strip().upper(), pair[1].strip().upper()))
    if len(set(pairs)) < len(pairs):
        duplicate = next(p for p in pairs if pairs.count(p) > 1)
        raise InputError(f"{where} lists {list(duplicate)} twice.")
    return pairs
