"""Atomic writers: a file appears whole or not at all."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from anndata import AnnData

from .._logging import logger


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    Parameters
    ----------
    path
        Final destination. Its parent directory is created if needed.

    Yields
    ------
    A temporary path in the same directory (so the final rename is atomic), with the same suffix.
    The file keeps the permissions a plain write would give (``0o666`` less the umask), not the
    owner-only ones of a temporary file, so that a lab's group can read the outputs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _umask() -> int:
    # the umask is only readable by setting it; set it back at once
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_h5ad(
    adata: AnnData, path: str | os.PathLike, *, compression: str | None = "gzip"
) -> None:
    """Write ``adata`` to ``path`` atomically.

    Parameters
    ----------
    adata
        The AnnData to write.
    path
        Destination ``.h5ad`` file.
    compression
        HDF5 compression passed to :meth:`anndata.AnnData.write_h5ad`.
    """
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression=compression)
    logger.info("wrote %s (%d cells x %d genes)", path, adata.n_obs, adata.n_vars)


def write_table(
    table: pd.DataFrame, path: str | os.PathLike, *, index: bool = False, sep: str = "\t"
) -> None:
    """Write a tidy table as delimited text, atomically.

    Parameters
    ----------
    table
        The table to write.
    path
        Destination file; a ``.gz`` suffix compresses it (without a timestamp or file name in the
        gzip header, so the same table always gives the same bytes).
    index
        Whether to write the index as the first column.
    sep
        Field delimiter.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        stream = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
            if path.suffix == ".gz" else contextlib.nullcontext(raw)
        )
        with stream as binary, io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
            table.to_csv(text, sep=sep, index=index)
    logger.info("wrote %s (%d rows)", path, len(table))
