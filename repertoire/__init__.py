"""Single-cell immune repertoire analysis after CD19 CAR-T therapy in autoimmune disease.

The subpackages (``io``, ``pp``, ``tl``, ``pl``, ``get``, ``datasets``, ``report``,
``resources``) are imported on first use, so a command imports only what its step needs.
"""

from ._errors import InputError
from ._lazy import attach as _attach

__version__ = "0.1.0"

_SUBPACKAGES = ("datasets", "get", "io", "pl", "pp", "report", "resources", "tl")
__getattr__, __dir__, _exports = _attach(__name__, dict.fromkeys(_SUBPACKAGES, ()))
__all__ = ["InputError", *_exports]
