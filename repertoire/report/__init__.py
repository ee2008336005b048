"""Per-patient HTML reports (templates shipped as package data) and their summary tables."""

from ._flags import FLAG_THRESHOLDS
from ._patient import patient_report, summary_path

__all__ = ["FLAG_THRESHOLDS", "patient_report", "summary_path"]
