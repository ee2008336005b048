"""Per-patient HTML reports (templates shipped as package data) and their summary tables."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_flags": ("FLAG_THRESHOLDS",),
    "_patient": ("patient_report", "summary_path"),
})
