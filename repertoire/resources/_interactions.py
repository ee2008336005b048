"""Ligand-receptor interactions: the shipped curated table, a user's own, or liana's, checked."""

from __future__ import annotations

import importlib.util
import io
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pandas as pd

from .._errors import InputError, reason
from ._markers import marker_panels

INTERACTIONS_FILE = "interactions.tsv"
COLUMNS = ("interaction", "ligand", "receptor", "axis", "sender", "receiver", "citation")
REQUIRED = ("ligand", "receptor")
AXES = (
    "T-B help",
    "checkpoint and costimulation",
    "plasma-cell survival",
    "homing and homeostasis",
    "CAR-T killing",
)
COMPLEX_SEPARATOR = "_"
LIST_SEPARATOR = ","
LIANA_PREFIX = "liana:"
LIANA_FILE = ("resource", "omni_resource.csv")
LIANA_CITATION = "Dimitrov et al., Nat Commun 2022 (LIANA, OmniPath resources)"
# one HGNC-like symbol: letters, digits, '-', '.'; no blanks, separators or quotes
SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")


def interactions(
    resource: pd.DataFrame | str | os.PathLike | None = None,
    *,
    axis: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Load and check a table of ligand-receptor interactions.

    The shipped table (``repertoire/resources/interactions.tsv``) is the project's own,
    curated from the literature cited on each row: T-B help (CD40LG-CD40, ICOSLG-ICOS,
    IL21-IL21R/IL2RG, CXCL13-CXCR5, ...), checkpoints and costimulation (PD-1, CD28/CTLA4,
    BTLA-HVEM, ...), the plasma-cell survival niche (APRIL and BAFF with BCMA, TACI and BAFF-R,
    IL-6, CXCL12, VCAM1-VLA-4, MIF; O'Connor et al., J Exp Med 2004; Cassese et al., J Immunol
    2003; Chu et al., Nat Immunol 2011; Rozanski et al., J Exp Med 2011), homing and
    homeostasis (CXCR3, CCR7, IL-7, IL-15, CXCR6 ligands) and killing of B cells by CAR-T and
    NK cells (FASLG-FAS, TRAIL). Larger public resources are read at run time only, never
    shipped: their licences differ.

    Parameters
    ----------
    resource
        What to load instead of the shipped table: a DataFrame with ``ligand`` and
        ``receptor`` columns (other columns of the shipped table are optional and filled); the
        path of such a table (``.csv`` is comma-separated, anything else tab-separated; lines
        starting with ``#`` are comments); or ``"liana:NAME"`` (for example
        ``"liana:consensus"``), the resource of that name that the ``liana`` package ships in its
        installed files, read offline.
    axis
        Keep only interactions of this axis (or these axes), one of ``T-B help``,
        ``checkpoint and costimulation``, ``plasma-cell survival``, ``homing and homeostasis``,
        ``CAR-T killing``.

    Returns
    -------
    A new table, one row per interaction, with columns ``interaction`` (unique name; made from
    the ligand and receptor as ``LIGAND_RECEPTOR`` when not given), ``ligand`` and ``receptor``
    (gene symbols, a complex's subunits joined by ``_``; split them with :func:`subunits`),
    ``axis``, ``sender`` and ``receiver`` (comma-separated cell types that typically make the
    ligand and the receptor) and ``citation``; missing values where the source has none.

    Raises
    ------
    InputError
        If the table cannot be read, a required column is missing, or a row is malformed (an
        empty or malformed symbol, an unknown axis, a duplicated interaction, ...): the message
        names the row (and the line of a file) and the column.
    """
    if resource is None:
        text = (resources.files(__package__) / INTERACTIONS_FILE).read_text()
        table = _check(*_read_text(text, "\t", INTERACTIONS_FILE), INTERACTIONS_FILE, strict=True)
    elif isinstance(resource, pd.DataFrame):
        rows = [f"row {label!r}" for label in resource.index]
        table = _check(resource, rows, "interaction table", strict=False)
    elif isinstance(resource, str) and resource.startswith(LIANA_PREFIX):
        table = _liana(resource[len(LIANA_PREFIX):])
    elif isinstance(resource, str | os.PathLike):
        path = Path(resource)
        if not path.is_file():
            raise InputError(f"interaction table {path} does not exist.")
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise InputError(f"interaction table {path} is not a text file.") from None
        sep = "," if path.suffix.lower() == ".csv" else "\t"
        table = _check(*_read_text(text, sep, str(path)), str(path), strict=False)
    else:
        kind = type(resource).__name__
        raise InputError(f"resource must be None, a DataFrame, a path or 'liana:NAME', not {kind}.")
    if axis is not None:
        wanted = [axis] if isinstance(axis, str) else list(axis)
        for name in wanted:
            if name not in AXES:
                raise InputError(f"axis '{name}' is not one of {', '.join(AXES)}.")
        table = table[table["axis"].isin(wanted)].reset_index(drop=True)
    return table


def subunits(symbol: str) -> list[str]:
    """Split a ligand or receptor into its subunits.

    Parameters
    ----------
    symbol
        A gene symbol, or a complex's subunit symbols joined by ``_`` (``IL6R_IL6ST``).

    Returns
    -------
    The subunit symbols, in order (one for a single gene).
    """
    return str(symbol).split(COMPLEX_SEPARATOR)


def _read_text(text: str, sep: str, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Parse the table in ``text`` (comments, blank lines skipped) and name each row's line."""
    kept = [
        (number, line) for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not kept:
        raise InputError(f"{source} holds no table.")
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(line for _, line in kept)), sep=sep, dtype=str,
            keep_default_na=False, na_values=[""],
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(f"{source} is not a valid table ({reason(error)}).") from None
    lines = [f"line {number}" for number, _ in kept[1:]]
    if len(lines) != len(table):  # quoted fields spanning lines: name rows instead
        lines = [f"row {i + 1}" for i in range(len(table))]
    return table, lines


def _check(table: pd.DataFrame, rows: list[str], source: str, *, strict: bool) -> pd.DataFrame:
    """Validate ``table`` row by row; ``strict`` (the shipped table) requires every column."""
    table = table.rename(columns=lambda c: str(c).strip())
    for column in COLUMNS if strict else REQUIRED:
        if column not in table.columns:
            raise InputError(f"{source} has no column '{column}'.")
    if table.empty:
        raise InputError(f"{source} holds no interaction.")
    out = []
    known = set(marker_panels()["cell_types"]) if strict else None
    names: dict[str, str] = {}
    pairs: dict[tuple[str, str], str] = {}
    for row, where in zip(table.to_dict("records"), rows, strict=True):
        place = f"{source} {where}"
        ligand = _symbol(row.get("ligand"), f"{place}: column 'ligand'")
        receptor = _symbol(row.get("receptor"), f"{place}: column 'receptor'")
        if (ligand, receptor) in pairs:
            raise InputError(f"{place}: columns 'ligand' and 'receptor' repeat {ligand}-{receptor} "
                             f"of {pairs[ligand, receptor]}.")
        pairs[ligand, receptor] = where
        name = _text(row.get("interaction"), f"{place}: column 'interaction'", required=strict)
        name = name or f"{ligand}{COMPLEX_SEPARATOR}{receptor}"
        if name in names:
            raise InputError(f"{place}: column 'interaction' repeats '{name}' of {names[name]}.")
        names[name] = where
        axis = _text(row.get("axis"), f"{place}: column 'axis'", required=strict)
        if axis is not None and axis not in AXES:
            raise InputError(f"{place}: column 'axis' is '{axis}', not one of {', '.join(AXES)}.")
        cells = {}
        for column in ("sender", "receiver"):
            value = _text(row.get(column), f"{place}: column '{column}'", required=strict)
            if value is not None:
                items = [item.strip() for item in value.split(LIST_SEPARATOR)]
                for item in items:
                    if not item or (known is not None and item not in known):
                        raise InputError(f"{place}: column '{column}' holds '{item}', which is not "
                                         "a cell type of the marker panels.")
                value = LIST_SEPARATOR.join(items)
            cells[column] = value
        citation = _text(row.get("citation"), f"{place}: column 'citation'", required=strict)
        out.append([name, ligand, receptor, axis, cells["sender"], cells["receiver"], citation])
    return pd.DataFrame(out, columns=list(COLUMNS), dtype=object)


def _text(value: object, where: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"{where} holds {value!r}, which is not text.")
    value = value.strip()
    if not value:
        if required:
            raise InputError(f"{where} is empty.")
        return None
    return value


def _symbol(value: object, where: str) -> str:
    value = _text(value, where, required=True)
    parts = value.split(COMPLEX_SEPARATOR)
    for part in parts:
        if not SYMBOL.match(part):
            raise InputError(f"{where} holds '{value}', which is not a gene symbol or a complex "
                             "of symbols joined by '_'.")
    return value


def _liana(name: str) -> pd.DataFrame:
    """Read the resource ``name`` of the table the installed liana package ships, offline."""
    try:
        spec = importlib.util.find_spec("liana")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise InputError(f"resource 'liana:{name}' needs the liana package; pip install liana "
                         "(or repertoire-sc[liana]).")
    path = Path(spec.origin).parent.joinpath(*LIANA_FILE)
    if not path.is_file():
        raise InputError(f"the installed liana package has no {'/'.join(LIANA_FILE)}; "
                         "install liana>=1.5.")
    table = pd.read_csv(path, usecols=["source_genesymbol", "target_genesymbol", "resource"],
                        dtype=str)
    available = sorted(table["resource"].dropna().unique())
    if name not in available:
        raise InputError(f"liana has no resource '{name}'; it has {', '.join(available)}.")
    table = (
        table[table["resource"] == name]
        .rename(columns={"source_genesymbol": "ligand", "target_genesymbol": "receptor"})
        .dropna(subset=["ligand", "receptor"])
        .drop_duplicates(subset=["ligand", "receptor"])
        .reset_index(drop=True)
    )
    table = table[["ligand", "receptor"]].assign(citation=f"{LIANA_CITATION}: {name}")
    rows = [f"row {i + 1}" for i in range(len(table))]
    return _check(table, rows, f"liana resource '{name}'", strict=False)
