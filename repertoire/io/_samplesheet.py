"""The sample sheet: one row per sample, validated with one clear sentence per problem."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pandas as pd

from .. import _keys as K
from .._errors import InputError

REQUIRED_COLUMNS = (K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE, K.OUTCOME, "gex")
#: Sample-sheet columns that name files, read relative to the sheet.
FILE_COLUMNS = ("gex", "bcr", "tcr", "spatial")
#: The file columns a sample may leave empty.
OPTIONAL_COLUMNS = ("bcr", "tcr", "spatial")
TISSUES = (
    "blood",
    "bone_marrow",
    "lymph_node",
    "spleen",
    "tonsil",
    "synovium",
    "kidney",
    "skin",
    "infusion_product",
    "other",
)
# .obs columns that reading or a later step writes: a sheet column of the same name would be
# overwritten (a sheet's "barcode" would replace the cells' barcodes)
RESERVED_COLUMNS = (
    K.BARCODE, K.LOW_QUALITY, K.DOUBLET, K.LEIDEN, K.LINEAGE, K.CELL_TYPE, K.CAR_DETECTED,
    K.ISOTYPE, K.SHM_RATE, K.SHM_SOURCE, K.SHM_RATE_LIGHT, K.SHM_SOURCE_LIGHT, K.BCR_STATE,
    K.RECEPTOR_TYPE, K.CLONE, K.PREEXISTING,
)
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
IDENTIFIER_COLUMNS = (K.SAMPLE, K.PATIENT, K.TIMEPOINT)

# accepted file types per column: the suffixes (or directory contents) each reader understands
GEX_SUFFIXES = (".h5", ".h5ad")
VDJ_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".json")
SPATIAL_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
MTX_NAMES = ("matrix.mtx", "matrix.mtx.gz")
#: Receptor files of a Cell Ranger ``vdj_b``/``vdj_t`` folder, in order of preference: the
#: AIRR table carries the contig sequences and germlines SHM needs, the contig CSV neither.
VDJ_FOLDER_FILES = (
    "airr_rearrangement.tsv", "airr_rearrangement.tsv.gz",
    "filtered_contig_annotations.csv", "filtered_contig_annotations.csv.gz",
)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_samplesheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a cohort sample sheet.

    The sheet is tab-separated with one row per sample. Required columns are
    ``sample_id, patient_id, timepoint, day, tissue, outcome, gex``; ``bcr``, ``tcr`` and
    ``spatial`` are optional, and any further column is kept as sample metadata (except a
    name repertoire writes for every cell, such as ``barcode`` or ``cell_type``). File paths
    are relative to the sheet's directory (absolute paths are allowed).

    ``day`` is an integer relative to CAR-T infusion (negative before it), ``outcome`` one of
    ``remission``, ``relapse``, ``unknown`` (the same for every sample of a patient) and
    ``tissue`` one of ``blood``, ``bone_marrow``, ``lymph_node``, ``spleen``, ``tonsil``,
    ``synovium``, ``kidney``, ``skin``, ``infusion_product``, ``other``. ``gex`` is a 10x
    ``filtered_feature_bc_matrix.h5``, a 10x matrix directory or an ``.h5ad``; ``bcr`` and
    ``tcr`` are 10x contig annotations (``.csv``/``.json``), AIRR rearrangement ``.tsv``
    (optionally gzipped) or a Cell Ranger ``vdj_b``/``vdj_t`` output folder (see
    :func:`vdj_folder_file`); ``spatial`` is a table of ``barcode, x, y``.

    Parameters
    ----------
    path
        The sample sheet.

    Returns
    -------
    One row per sample, indexed by ``sample_id`` in sheet order, with ``day`` as integer and
    every file column as an absolute path (``None`` where a sample has no such file).

    Raises
    ------
    InputError
        With one sentence naming the file, line, column or value at fault.
    """
    path = Path(path)
    header, rows = _read_rows(path)
    _check_header(path, header)
    base = path.resolve().parent
    records = [_check_row(path, header, lineno, values, base) for lineno, values in rows]
    if not records:
        raise InputError(f"sample sheet {path} has a header but no samples.")
    _check_across_rows(path, records)
    table = pd.DataFrame([r for _, r in records]).set_index(K.SAMPLE, drop=False)
    table.index.name = None
    table[K.DAY] = table[K.DAY].astype(int)
    for column in OPTIONAL_COLUMNS:
        if column not in table:
            table[column] = None
    return table


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    if not path.exists():
        raise InputError(f"sample sheet {path} does not exist.")
    if path.is_dir():
        raise InputError(f"sample sheet {path} is a directory, not a tab-separated file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except PermissionError:
        raise InputError(f"sample sheet {path} cannot be read (permission denied).") from None
    except UnicodeDecodeError:
        raise InputError(f"sample sheet {path} is not UTF-8 text.") from None
    lines = [
        (i, line) for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise InputError(f"sample sheet {path} is empty.")
    parsed = list(csv.reader((line for _, line in lines), delimiter="\t"))
    header = [h.strip() for h in parsed[0]]
    if len(header) == 1 and "," in header[0]:
        raise InputError(
            f"sample sheet {path} has a single column '{header[0][:40]}...'; "
            "it must be tab-separated, not comma-separated."
        )
    rows = []
    for (lineno, _), values in zip(lines[1:], parsed[1:], strict=True):
        if len(values) != len(header):
            raise InputError(
                f"sample sheet {path} line {lineno} has {len(values)} fields "
                f"but the header has {len(header)}."
            )
        rows.append((lineno, [v.strip() for v in values]))
    return header, rows


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"sample sheet {path} has an empty column name at column {position}.")
        if name in seen:
            raise InputError(
                f"sample sheet {path} has column '{name}' twice "
                f"(columns {seen[name]} and {position})."
            )
        seen[name] = position
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            raise InputError(
                f"sample sheet {path} is missing the required column '{column}' "
                f"(required: {', '.join(REQUIRED_COLUMNS)})."
            )
    for column in RESERVED_COLUMNS:
        if column in seen:
            raise InputError(
                f"sample sheet {path} has column '{column}' (column {seen[column]}), a name "
                "repertoire writes for every cell; rename it."
            )


def _check_row(
    path: Path, header: list[str], lineno: int, values: list[str], base: Path
) -> tuple[int, dict[str, object]]:
    row = dict(zip(header, values, strict=True))
    where = f"sample sheet {path} line {lineno}"
    for column in REQUIRED_COLUMNS:
        if not row[column]:
            raise InputError(f"{where}: column '{column}' is empty.")
    where = f"{where} (sample '{row[K.SAMPLE]}')"
    for column in IDENTIFIER_COLUMNS:
        if not IDENTIFIER.match(row[column]):
            raise InputError(
                f"{where}: {column} '{row[column]}' may contain only letters, digits, '_', '.' "
                "and '-', and must start with a letter or digit."
            )
    try:
        row[K.DAY] = int(row[K.DAY])
    except ValueError:
        raise InputError(
            f"{where}: day '{row[K.DAY]}' is not a whole number of days relative to infusion."
        ) from None
    if row[K.OUTCOME] not in K.OUTCOMES:
        raise InputError(
            f"{where}: outcome '{row[K.OUTCOME]}' is not one of {', '.join(K.OUTCOMES)}."
        )
    if row[K.TISSUE] not in TISSUES:
        raise InputError(f"{where}: tissue '{row[K.TISSUE]}' is not one of {', '.join(TISSUES)}.")
    for column in FILE_COLUMNS:
        if column in row:
            row[column] = _check_file(where, column, row[column], base)
    return lineno, row


def _check_file(where: str, column: str, value: str, base: Path) -> str | None:
    if not value or value.upper() in {"NA", "NAN", "NONE", "-"}:
        if column == "gex":
            raise InputError(f"{where}: column 'gex' is empty.")
        return None
    file = Path(value)
    if not file.is_absolute():
        file = base / file
    if not file.exists():
        raise InputError(f"{where}: {column} file {file} does not exist.")
    if column == "gex" and file.is_dir():
        if not any((file / name).exists() for name in MTX_NAMES):
            raise InputError(
                f"{where}: gex directory {file} holds no matrix.mtx or matrix.mtx.gz."
            )
        return str(file)
    if column in ("bcr", "tcr") and file.is_dir():
        vdj_folder_file(file, where=f"{where}: {column} path")
        return str(file)
    if file.is_dir():
        raise InputError(f"{where}: {column} path {file} is a directory, not a file.")
    if not os.access(file, os.R_OK):
        raise InputError(f"{where}: {column} file {file} cannot be read (permission denied).")
    suffixes = {"gex": GEX_SUFFIXES, "spatial": SPATIAL_SUFFIXES}.get(column, VDJ_SUFFIXES)
    if not file.name.endswith(suffixes):
        raise InputError(
            f"{where}: {column} file {file} is not of a supported type ({', '.join(suffixes)})."
        )
    if file.suffix in {".h5", ".h5ad"}:
        with open(file, "rb") as handle:
            if handle.read(8) != HDF5_SIGNATURE:
                raise InputError(f"{where}: {column} file {file} is not an HDF5 file.")
    elif file.stat().st_size == 0:
        raise InputError(f"{where}: {column} file {file} is empty.")
    return str(file)


def _check_across_rows(path: Path, records: list[tuple[int, dict[str, object]]]) -> None:
    first_line: dict[str, int] = {}
    outcome_of: dict[str, tuple[str, int]] = {}
    # a row copied and renamed but still naming its source's files would count cells twice
    file_of: dict[str, tuple[str, int]] = {}
    for lineno, row in records:
        sample = row[K.SAMPLE]
        if sample in first_line:
            raise InputError(
                f"sample sheet {path} line {lineno}: sample_id '{sample}' is already used "
                f"on line {first_line[sample]}."
            )
        first_line[sample] = lineno
        patient, outcome = row[K.PATIENT], row[K.OUTCOME]
        if patient in outcome_of and outcome_of[patient][0] != outcome:
            earlier, earlier_line = outcome_of[patient]
            raise InputError(
                f"sample sheet {path} line {lineno}: patient '{patient}' has outcome '{outcome}' "
                f"but '{earlier}' on line {earlier_line}; a patient has one outcome."
            )
        outcome_of.setdefault(patient, (outcome, lineno))
        for column in FILE_COLUMNS:
            file = row.get(column)
            if not file:
                continue
            key = os.path.realpath(file)
            if key in file_of:
                other, other_line = file_of[key]
                raise InputError(
                    f"sample sheet {path} line {lineno}: {column} file {file} is already "
                    f"named for sample '{other}' on line {other_line}; each sample needs its "
                    "own files."
                )
            file_of[key] = (sample, lineno)


def vdj_folder_file(folder: str | os.PathLike, *, where: str | None = None) -> Path:
    """Return the receptor file to read in a Cell Ranger ``vdj_b``/``vdj_t`` output folder.

    Parameters
    ----------
    folder
        The folder (Cell Ranger's ``outs/`` or ``per_sample_outs/<sample>/vdj_b``).
    where
        How error messages name the folder (default: its path).

    Returns
    -------
    Its ``airr_rearrangement.tsv`` when present (it holds the contig sequences and germlines
    somatic hypermutation needs), else its ``filtered_contig_annotations.csv`` (each also
    gzipped).
    """
    folder = Path(folder)
    for name in VDJ_FOLDER_FILES:
        if (folder / name).is_file():
            return folder / name
    raise InputError(
        f"{where or 'receptor path'} {folder} is a directory without airr_rearrangement.tsv or "
        "filtered_contig_annotations.csv, so not a Cell Ranger vdj_b/vdj_t folder."
    )
