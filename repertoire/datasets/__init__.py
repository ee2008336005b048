"""Simulated cohorts with ground truth, Cell Ranger-like writers and the example cohort."""

from ._cellranger import write_cellranger
from ._example import example, example_dir
from ._simulate import simulate_cohort, simulate_samples

__all__ = ["example", "example_dir", "simulate_cohort", "simulate_samples", "write_cellranger"]
