"""The methods section: every recorded parameter, package versions, inputs and their checksums."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .. import get
from .._errors import InputError
from ._flags import FLAG_NICHES, FLAG_TEXT

PACKAGES = ("repertoire", "scanpy", "anndata", "scirpy", "squidpy", "numpy")
MAX_VALUE_CHARS = 160
MAX_ITEMS = 12


def versions() -> list[tuple[str, str]]:
    """Installed version of each package of :data:`PACKAGES` (``not installed`` otherwise)."""
    from .. import __version__

    found = []
    for name in PACKAGES:
        if name == "repertoire":  # the code running (the distribution is named repertoire-sc)
            found.append((name, __version__))
            continue
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed"))
    return found


def describe(value: object) -> str:
    """Return a short text for one parameter value (long lists and mappings summarised)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Mapping):
        names = [str(k) for k in value]
        shown = ", ".join(names[:MAX_ITEMS]) + (", …" if len(names) > MAX_ITEMS else "")
        return f"{len(names)} entries: {shown}"
    if isinstance(value, list | tuple):
        items = [describe(v) for v in value]
        text = "[" + ", ".join(items[:MAX_ITEMS]) + (", …" if len(items) > MAX_ITEMS else "") + "]"
    else:
        text = "None" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def parameters(adata: AnnData) -> list[dict]:
    """One table per analysis step: the ``params`` record of every ``.uns`` entry holding one."""
    steps = []
    for key in sorted(adata.uns.keys()):
        entry = adata.uns[key]
        if isinstance(entry, Mapping) and isinstance(entry.get(K.PARAMS), Mapping):
            params = entry[K.PARAMS]
            steps.append({"step": key,
                          "rows": [[name, describe(params[name])] for name in sorted(params)]})
    return steps


def inputs(adata: AnnData, samples: pd.DataFrame) -> list[list[str]]:
    """Input files of this patient's samples with their sha256, as read by ``read_cohort``.

    None when the cohort carries no input record (an AnnData built otherwise).
    """
    try:
        files = get.inputs(adata)
    except InputError:
        return []
    files = files[files[K.SAMPLE].astype(str).isin(set(samples[K.SAMPLE]))]
    return files[[K.SAMPLE, "kind", "path", "sha256"]].astype(str).to_numpy().tolist()


def flag_rules(limits: Mapping[str, float], min_cells: int) -> list[list[str]]:
    """Each flag's rule in words with its threshold."""
    rules = [["aplasia", "the last post-infusion sample whose B cells per 1000 fall below the "
                         "reconstitution's aplasia threshold"]]
    rules += [[name, FLAG_TEXT[name].format(value=value)] for name, value in limits.items()]
    rules.append(["niches flagged", ", ".join(FLAG_NICHES)])
    rules.append(["min_cells", f"fractions resting on fewer than {min_cells} cells are neither "
                               "drawn nor flagged"])
    return rules
