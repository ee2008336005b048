"""File names of the report pages: ids are not paths."""

from __future__ import annotations

import re


def safe_name(identifier: str) -> str:
    """Return ``identifier`` with each character but letters, digits, ``._-`` as ``_``.

    A leading ``.`` gets a ``_`` before it, so that no name is hidden or relative.
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(identifier))
    return "_" + name if name.startswith(".") or not name else name


def page_name(patient: str) -> str:
    """Return the file name of a patient's report page, ``{patient_id}.html`` made safe."""
    return f"{safe_name(patient)}.html"
