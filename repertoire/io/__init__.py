"""Reading and writing: sample sheets, 10x gene expression, receptor contigs, cohorts.

``FILE_COLUMNS`` are the sample-sheet columns that name files (``gex`` and the optional
``OPTIONAL_FILE_COLUMNS``), read relative to the sheet.
"""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_airr": ("chain_table", "concat_airr"),
    "_probe": ("check_files",),
    "_read": (
        "concat_samples", "join_records", "read_cohort", "read_gex", "read_spatial", "read_vdj",
    ),
    "_samplesheet": ("FILE_COLUMNS", "read_samplesheet", "vdj_folder_file"),
    "_write": ("atomic_path", "write_h5ad", "write_table"),
}, renamed={"OPTIONAL_FILE_COLUMNS": ("_samplesheet", "OPTIONAL_COLUMNS")})
