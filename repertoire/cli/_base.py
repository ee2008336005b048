"""What every subcommand shares: its parser, argument types, inputs and atomic outputs."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import _keys as K
from .._errors import InputError
from .._logging import logger

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

FIGURE_FORMATS = ("png", "pdf", "svg")
Drawing = Callable[[Path], object]


@dataclass(frozen=True)
class Step:
    """A subcommand: what it is for, what it reads and writes, and the names of its outputs.

    ``tables`` and ``figures`` name the files written into ``--tables`` (``<name>.tsv``) and
    ``--figures`` (``<name>.<format>``); the workflow's rules expand the same names.
    """

    name: str
    summary: str
    details: str
    tables: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()


def add_step(
    subparsers: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    step: Step,
    run: Callable[[argparse.Namespace], None],
) -> argparse.ArgumentParser:
    """Add the subcommand ``step`` that calls ``run`` with the parsed arguments."""
    parser = subparsers.add_parser(
        step.name,
        parents=[common],
        help=step.summary,
        description=f"{step.summary}\n\n{textwrap.dedent(step.details).strip()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def add_cohort_io(parser: argparse.ArgumentParser, step: Step, *, source: str) -> None:
    """Add the positional INPUT and OUTPUT cohorts and the table and figure options."""
    parser.add_argument("input", type=Path, metavar="INPUT", help=f"cohort .h5ad from {source}")
    parser.add_argument("output", type=Path, metavar="OUTPUT", help="where to write the cohort")
    add_output_options(parser, step)


def add_output_options(parser: argparse.ArgumentParser, step: Step) -> None:
    """Add ``--tables``, ``--figures`` and ``--figure-format`` for the outputs of ``step``."""
    if step.tables:
        parser.add_argument("--tables", type=Path, metavar="DIR",
                            help="table directory (default: 'tables' beside the cohort)")
    if step.figures:
        parser.add_argument("--figures", type=Path, metavar="DIR",
                            help="figure directory (default: 'figures' beside the cohort)")
        parser.add_argument("--figure-format", choices=FIGURE_FORMATS, default="png",
                            help="figure file format (png)")


def positive(value: str) -> int:
    """Parse a positive whole number."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def positive_float(value: str) -> float:
    """Parse a positive number."""
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def fraction(value: str) -> float:
    """Parse a number from 0 to 1."""
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction between 0 and 1")
    return number


def probability(value: str) -> float:
    """Parse a number strictly between 0 and 1."""
    number = float(value)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"{value} does not lie between 0 and 1")
    return number


def read_h5ad(path: Path, *, sample: str | None = None, matrices: bool = True) -> AnnData:
    """Read an ``.h5ad`` written by an earlier step; a missing or unreadable file is the user's.

    With ``sample``, only that sample's cells are read: the rows of ``.X``, ``.layers``,
    ``.obsm`` and ``.obsp`` are read alone from the file, so a per-sample job reads its own
    sample's share of a cohort, not the cohort. A sample whose every cell QC flagged (in the
    file's QC summary) reads as no cells; any other sample without cells is the user's error.
    With ``matrices=False`` the cell-by-gene and cell-by-cell matrices (``.X``, ``.layers``,
    ``.raw``, ``.obsp``) stay on disk, for steps that only draw and tabulate the annotation and
    results.
    """
    import anndata as ad
    import h5py

    if not path.is_file():
        raise InputError(f"input file {path} does not exist.")
    try:
        if sample is None and matrices:
            return ad.read_h5ad(path)
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"input file {path} is not a readable .h5ad file ({error}).") from None
    with handle:
        if sample is None:
            return _read_annotation(handle)
        if not matrices:
            raise ValueError("a sample is read with its matrices.")
        return _read_sample(handle, path, str(sample))


def _read_annotation(handle) -> AnnData:
    """Read everything but the matrices from the open ``handle``."""
    from anndata import AnnData
    from anndata.io import read_elem

    parts = {name: read_elem(handle[name]) for name in ("obs", "var", "obsm", "varm", "uns")
             if name in handle}
    return AnnData(**parts)


def _read_sample(handle, path: Path, sample: str) -> AnnData:
    """Read the cells of ``sample`` from the open ``handle`` as ``adata[cells].copy()`` would."""
    import numpy as np
    from anndata import AnnData
    from anndata.io import read_elem, sparse_dataset

    obs = read_elem(handle["obs"])
    if K.SAMPLE not in obs:
        raise InputError(f"input file {path} has no obs column '{K.SAMPLE}'.")
    cells = np.flatnonzero((obs[K.SAMPLE].astype(str) == sample).to_numpy())
    if not cells.size and sample not in _failed_samples(handle):
        raise InputError(f"sample '{sample}' is not in {path}.")

    def rows(element):
        if element.attrs.get("encoding-type") == "csr_matrix":
            return sparse_dataset(element)[cells]
        if element.attrs.get("encoding-type") == "array":
            return element[cells]
        return read_elem(element)[cells]

    def group(name: str) -> dict:
        return dict(handle[name].items()) if name in handle else {}

    # anndata's own subset of the cell annotation (unused categories and their colours go)
    whole = AnnData(obs=obs, var=read_elem(handle["var"]),
                    uns=read_elem(handle["uns"]) if "uns" in handle else None)
    adata = whole[cells].copy()
    if "X" in handle:
        adata.X = rows(handle["X"])
    for name, element in group("layers").items():
        adata.layers[name] = rows(element)
    for name, element in group("obsm").items():
        adata.obsm[name] = rows(element)
    for name, element in group("obsp").items():
        adata.obsp[name] = rows(element)[:, cells]
    for name, element in group("varm").items():
        adata.varm[name] = read_elem(element)
    for name, element in group("varp").items():
        adata.varp[name] = read_elem(element)
    if "raw" in handle:
        raw = handle["raw"]
        adata.raw = AnnData(X=rows(raw["X"]), obs=adata.obs[[]], var=read_elem(raw["var"]),
                            varm={k: read_elem(v) for k, v in raw.get("varm", {}).items()})
    return adata


def _failed_samples(handle) -> set[str]:
    """Return the samples of a cohort file's QC summary none of whose cells passed QC."""
    from anndata.io import read_elem

    from ..pp._qc import failed_qc

    qc = handle.get(f"uns/{K.QC}/{K.TABLE_SAMPLES}")
    if qc is None:
        return set()
    table = read_elem(qc)
    if not {K.SAMPLE, "n_flagged", "n_cells"} <= set(table.columns):
        return set()
    return set(table.loc[failed_qc(table), K.SAMPLE].astype(str))


def output_dir(args: argparse.Namespace, kind: str, beside: Path) -> Path:
    """``--tables`` or ``--figures`` as given, else a folder of that name beside ``beside``."""
    return getattr(args, kind) or beside.parent / kind


def write_tables(
    args: argparse.Namespace, step: Step, tables: Mapping[str, pd.DataFrame], *, beside: Path
) -> None:
    """Write each of ``step.tables`` as ``<name>.tsv``, atomically."""
    from ..io import write_table

    _check_names(step.name, "tables", step.tables, tables)
    directory = output_dir(args, "tables", beside)
    for name in step.tables:
        write_table(tables[name], directory / f"{name}.tsv")


def write_figures(
    args: argparse.Namespace, step: Step, drawings: Mapping[str, Drawing], *, beside: Path
) -> None:
    """Draw each of ``step.figures`` into ``<name>.<format>``."""
    _check_names(step.name, "figures", step.figures, drawings)
    draw(drawings, output_dir(args, "figures", beside), args.figure_format)


def draw(drawings: Mapping[str, Drawing], directory: Path, fmt: str) -> None:
    """Call each drawing with the path of its file and close its figure.

    Parameters
    ----------
    drawings
        File names (without suffix, ``/`` for a subfolder) and the functions that draw them
        given the path to save to (the plotting functions save atomically).
    directory
        Where the files go.
    fmt
        File format, one of :data:`FIGURE_FORMATS`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, drawing in drawings.items():
        path = directory / f"{name}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        drawing(path)
        plt.close("all")
        logger.info("wrote %s", path)


def _check_names(step: str, kind: str, declared: tuple[str, ...], given: Mapping) -> None:
    if tuple(given) != declared:
        raise RuntimeError(f"step {step} makes {kind} {list(given)}, declared {list(declared)}")
