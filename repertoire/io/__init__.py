"""Reading and writing: sample sheets, 10x gene expression, receptor contigs, cohorts."""

from ._airr import concat_airr
from ._read import concat_samples, read_cohort, read_gex, read_spatial, read_vdj
from ._samplesheet import read_samplesheet
from ._write import write_h5ad, write_table

__all__ = [
    "concat_airr",
    "concat_samples",
    "read_cohort",
    "read_gex",
    "read_samplesheet",
    "read_spatial",
    "read_vdj",
    "write_h5ad",
    "write_table",
]
