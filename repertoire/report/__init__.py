"""HTML reports, one per patient and one for the cohort (templates shipped as package data)."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_cohort": ("cohort_report",),
    "_flags": ("FLAG_THRESHOLDS",),
    "_names": ("page_name",),
    "_patient": ("patient_report", "summary_path"),
})
