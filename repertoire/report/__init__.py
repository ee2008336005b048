"""HTML reports, one per patient and one for the cohort (templates shipped as package data)."""

from ._cohort import cohort_report
from ._flags import FLAG_THRESHOLDS
from ._names import page_name
from ._patient import patient_report, summary_path

__all__ = ["FLAG_THRESHOLDS", "cohort_report", "page_name", "patient_report", "summary_path"]
