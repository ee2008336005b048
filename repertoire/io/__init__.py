"""Reading and writing: sample sheets, 10x gene expression, receptor contigs, cohorts.

``FILE_COLUMNS`` are the sample-sheet columns that name files (``gex`` and the optional
``OPTIONAL_FILE_COLUMNS``), read relative to the sheet.
"""

from ._airr import chain_table, concat_airr
from ._read import (
    concat_samples,
    join_records,
    read_cohort,
    read_gex,
    read_spatial,
    read_vdj,
)
from ._samplesheet import FILE_COLUMNS, read_samplesheet
from ._samplesheet import OPTIONAL_COLUMNS as OPTIONAL_FILE_COLUMNS
from ._write import atomic_path, write_h5ad, write_table

__all__ = [
    "FILE_COLUMNS",
    "OPTIONAL_FILE_COLUMNS",
    "atomic_path",
    "chain_table",
    "concat_airr",
    "concat_samples",
    "join_records",
    "read_cohort",
    "read_gex",
    "read_samplesheet",
    "read_spatial",
    "read_vdj",
    "write_h5ad",
    "write_table",
]
