"""Each command imports what its step needs: the package's exports are lazy.

Every workflow job is a new process, so an import a step does not need is paid by every job.
These checks run in fresh interpreters and look at which libraries got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import repertoire as rp

HEAVY = ("anndata", "scanpy", "scirpy", "squidpy", "matplotlib", "sklearn", "umap",
         "pynndescent", "numba", "harmonypy", "leidenalg", "jinja2")
SUBPACKAGES = ("datasets", "get", "io", "pl", "pp", "report", "resources", "tl")


def _imported(code: str) -> set[str]:
    """The heavy libraries a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    return {name for name in json.loads(out.splitlines()[-1]) if name in HEAVY}


def test_importing_the_package_and_its_subpackages_imports_no_library():
    modules = ", ".join(f"rp.{name}" for name in SUBPACKAGES)
    assert _imported(f"import repertoire as rp\n{modules}") == set()
    assert _imported("import repertoire.cli") == set()


@pytest.mark.parametrize(("code", "absent"), [
    # the per-sample communication job: no scanpy, scirpy, squidpy or plotting
    ("from repertoire.tl import communication\nfrom repertoire.io import write_h5ad\n"
     "from repertoire.cli._base import read_h5ad",
     {"scanpy", "scirpy", "squidpy", "matplotlib", "umap", "pynndescent", "sklearn"}),
    # the per-sample QC job: no squidpy, no UMAP, no plotting beyond scanpy's own
    ("from repertoire.io import read_cohort, write_h5ad\nfrom repertoire.pp import qc",
     {"squidpy", "umap", "pynndescent", "harmonypy"}),
    # the neighbour graph does not need umap-learn (pynndescent compiles on import)
    ("from repertoire.pp import neighbors", {"umap", "pynndescent"}),
])
def test_a_step_imports_only_what_it_needs(code, absent):
    assert not _imported(code) & absent


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_lazy_exports_behave_as_imports(name):
    package = getattr(rp, name)
    assert package.__all__ == sorted(package.__all__)
    for export in package.__all__:
        value = getattr(package, export)
        assert export in dir(package)
        assert vars(package)[export] is value  # kept after the first use
    with pytest.raises(AttributeError, match="no attribute 'absent'"):
        package.absent  # noqa: B018


def test_from_import_and_the_root_exports():
    from repertoire.io import OPTIONAL_FILE_COLUMNS
    from repertoire.io._samplesheet import OPTIONAL_COLUMNS
    from repertoire.pp import neighbors, qc
    from repertoire.pp._neighbors import neighbors as defined
    from repertoire.pp._qc import qc as qc_defined

    assert (neighbors, qc) == (defined, qc_defined)
    assert OPTIONAL_FILE_COLUMNS is OPTIONAL_COLUMNS
    assert set(rp.__all__) == {"InputError", *SUBPACKAGES}
    assert rp.InputError.__module__ == "repertoire._errors"
