"""Simulated cohorts with ground truth, Cell Ranger-like writers and the example cohort."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_cellranger": ("write_cellranger",),
    "_example": ("example", "example_dir"),
    "_simulate": ("simulate_cohort", "simulate_samples"),
})
