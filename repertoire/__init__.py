"""Single-cell immune repertoire analysis after CD19 CAR-T therapy in autoimmune disease."""

from . import datasets, get, io, pl, pp, report, resources, tl
from ._errors import InputError

__version__ = "0.1.0"

__all__ = ["InputError", "datasets", "get", "io", "pl", "pp", "report", "resources", "tl"]
