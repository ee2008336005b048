"""A corpus of bad and unusual inputs, each made from the example cohort's own files.

Every bad case must stop the command that can first see it (``validate`` for what a sheet and
a first look into each file can show, ``qc`` for what only reading a sample shows) with one
sentence naming the file, sample, line or column, exit status 2, no traceback and no output.
Every unusual case (a byte-order mark, CRLF line ends, a symlink, ...) must run.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scirpy

from repertoire import _keys as K
from repertoire.cli import EXIT_INPUT_ERROR, main
from repertoire.datasets._cellranger import write_10x_h5

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example_data"
SAMPLE = "P01_M6_BM"
SHEET_COLUMNS = ["sample_id", "patient_id", "timepoint", "day", "tissue", "outcome", "gex",
                 "bcr", "tcr", "spatial"]
# Cell Ranger 6 contigs as all_contig_annotations.json, as scirpy ships them for its tests
TENX_JSON = (Path(scirpy.__file__).parent / "tests" / "data" / "10x"
             / "10k_BMMNC_5pv2_nextgem_Multiplex_vdj_t_all_contig_annotations_small.json")
FILES = {"gex": "gex/filtered_feature_bc_matrix.h5", "bcr": "vdj_b/airr_rearrangement.tsv.gz",
         "tcr": "vdj_t/filtered_contig_annotations.csv.gz", "spatial": "spatial/cells.csv"}


@dataclass
class Cohort:
    """A one-sample cohort in its own folder: the sheet and the sample's files, to break."""

    folder: Path

    @property
    def sheet(self) -> Path:
        return self.folder / "samples.tsv"

    def file(self, column: str) -> Path:
        return self.folder / SAMPLE / FILES[column]

    def rows(self) -> list[dict[str, str]]:
        return [{"sample_id": SAMPLE, "patient_id": "P01", "timepoint": "M6", "day": "179",
                 "tissue": "bone_marrow", "outcome": "remission",
                 **{c: f"{SAMPLE}/{path}" for c, path in FILES.items()}}]

    def write_sheet(self, rows: list[dict[str, str]] | None = None, *,
                    columns: list[str] | None = None, newline: str = "\n",
                    prefix: str = "") -> Path:
        rows = self.rows() if rows is None else rows
        columns = columns or list(rows[0])
        lines = ["\t".join(columns), *("\t".join(str(r.get(c, "")) for c in columns)
                                       for r in rows)]
        self.sheet.write_text(prefix + newline.join(lines) + newline, encoding="utf-8")
        return self.sheet

    def set(self, **values: str) -> Path:
        rows = self.rows()
        rows[0].update(values)
        return self.write_sheet(rows)


@pytest.fixture
def cohort(tmp_path: Path) -> Cohort:
    shutil.copytree(EXAMPLE / SAMPLE, tmp_path / SAMPLE)
    made = Cohort(tmp_path)
    made.write_sheet()
    return made


def _run(capsys: pytest.CaptureFixture, step: str, cohort: Cohort,
         output: Path) -> tuple[int, str]:
    if step == "validate":
        argv = ["validate", "-q", str(cohort.sheet)]
    else:
        argv = ["qc", "-q", "--samplesheet", str(cohort.sheet), "--sample", SAMPLE,
                "--output", str(output)]
    status = main(argv)
    return status, capsys.readouterr().err


# ---------------------------------------------------------------- breaking files


def _h5ad(path: Path, matrix: np.ndarray | sp.spmatrix, genes: list[str],
          barcodes: list[str]) -> None:
    ad.AnnData(X=sp.csr_matrix(matrix, dtype=np.float32),
               obs=pd.DataFrame(index=barcodes), var=pd.DataFrame(index=genes)).write_h5ad(path)


def _as_h5ad(cohort: Cohort, change: Callable[[ad.AnnData], ad.AnnData]) -> Path:
    """Write the sample's counts as an .h5ad after ``change`` and point the sheet at it."""
    import scanpy as sc

    adata = sc.read_10x_h5(cohort.file("gex"))
    adata.var_names_make_unique()
    adata = change(adata)
    path = cohort.folder / SAMPLE / "counts.h5ad"
    adata.write_h5ad(path)
    cohort.set(gex=f"{SAMPLE}/counts.h5ad")
    return path


def _matrix_dir(cohort: Cohort, *, drop_barcodes: int = 0, drop_features: int = 0) -> Path:
    """Write the sample as a 10x matrix folder, optionally with barcodes or features missing."""
    import scanpy as sc
    import scipy.io

    adata = sc.read_10x_h5(cohort.file("gex"))
    folder = cohort.folder / SAMPLE / "matrix"
    folder.mkdir()
    scipy.io.mmwrite(folder / "matrix.mtx", sp.csr_matrix(adata.X).T)
    barcodes = list(adata.obs_names)[drop_barcodes:]
    (folder / "barcodes.tsv").write_text("\n".join(barcodes) + "\n")
    features = adata.var.assign(name=adata.var_names)[["gene_ids", "name"]].iloc[drop_features:]
    features.assign(kind="Gene Expression").to_csv(folder / "features.tsv", sep="\t",
                                                   header=False, index=False)
    cohort.set(gex=f"{SAMPLE}/matrix")
    return folder


def _with_empty_droplets(cells: ad.AnnData, n_empty: int = 25_000) -> ad.AnnData:
    """``cells`` and, after them, ``n_empty`` empty droplets of one or two ambient genes each."""
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(n_empty), rng.integers(1, 3, n_empty))
    droplets = sp.csr_matrix((np.ones(len(rows), dtype=np.float32),
                              (rows, rng.integers(0, cells.n_vars, len(rows)))),
                             shape=(n_empty, cells.n_vars))
    barcodes = [*cells.obs_names, *(f"E{i:07d}-1" for i in range(n_empty))]
    return ad.AnnData(X=sp.vstack([sp.csr_matrix(cells.X), droplets]).tocsr(),
                      obs=pd.DataFrame(index=barcodes), var=cells.var)


def _unfiltered_h5(cohort: Cohort) -> None:
    """Give the sample a 10x matrix of its cells and empty droplets, not named raw."""
    import scanpy as sc

    adata = _with_empty_droplets(sc.read_10x_h5(cohort.file("gex")))
    write_10x_h5(adata.X, adata.obs_names.to_numpy(), adata.var,
                 cohort.folder / SAMPLE / "matrix.h5")
    cohort.set(gex=f"{SAMPLE}/matrix.h5")


def _ensembl_ids(n: int) -> list[str]:
    return [f"ENSG{i:011d}" for i in range(n)]


def _cellxgene(adata: ad.AnnData, *, raw_counts: bool = True) -> ad.AnnData:
    """The layout of CELLxGENE's files: Ensembl IDs with symbols in ``feature_name``,
    log-normalised ``.X`` and the raw counts (or, broken, normalised values) in ``.raw``."""
    import scanpy as sc

    var = pd.DataFrame({"feature_name": adata.var_names.to_numpy()},
                       index=_ensembl_ids(adata.n_vars))
    counts = ad.AnnData(X=adata.X, obs=adata.obs, var=var)
    normalised = counts.copy()
    sc.pp.normalize_total(normalised)
    sc.pp.log1p(normalised)
    normalised.raw = counts if raw_counts else normalised.copy()
    return normalised


def _is_counts(matrix: sp.spmatrix) -> bool:
    return bool(matrix.sum() > 0 and np.all(matrix.data == np.round(matrix.data)))


def _rewrite_table(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    sep = "\t" if ".tsv" in path.suffixes else ","
    table = change(pd.read_csv(path, sep=sep))
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as handle:
        table.to_csv(handle, sep=sep, index=False)


def _json_contigs(cohort: Cohort, change: Callable[[list], object] = lambda contigs: contigs,
                  *, text: Callable[[str], str] = lambda text: text) -> Path:
    """Write 10x JSON contigs whose cells are the sample's, after ``change`` and ``text``."""
    contigs = json.loads(TENX_JSON.read_text())
    cells = pd.read_csv(cohort.file("tcr"))["barcode"].unique()
    renamed = dict(zip(dict.fromkeys(c["barcode"] for c in contigs), cells, strict=False))
    for contig in contigs:
        contig["barcode"] = renamed[contig["barcode"]]
    path = cohort.folder / SAMPLE / "all_contig_annotations.json"
    path.write_text(text(json.dumps(change(contigs))))
    cohort.set(tcr=f"{SAMPLE}/{path.name}")
    return path


def _without(contigs: list[dict], field: str) -> list[dict]:
    del contigs[1][field]
    return contigs


# ---------------------------------------------------------------- the bad cases


@dataclass
class Bad:
    """A broken input: how to break it, the command that must stop, the words it must say."""

    name: str
    kind: str
    step: str
    make: Callable[[Cohort], object]
    says: tuple[str, ...]


def _sheet_text(cohort: Cohort, text: str | bytes) -> None:
    if isinstance(text, bytes):
        cohort.sheet.write_bytes(text)
    else:
        cohort.sheet.write_text(text)


def _drop_column(cohort: Cohort, column: str) -> None:
    cohort.write_sheet(columns=[c for c in SHEET_COLUMNS if c != column])


def _rename_column(cohort: Cohort, old: str, new: str) -> None:
    rows = [{(new if k == old else k): v for k, v in cohort.rows()[0].items()}]
    cohort.write_sheet(rows)


def _two_rows(cohort: Cohort, **second: str) -> None:
    first = cohort.rows()[0]
    cohort.write_sheet([first, {**first, **second}])


BAD = [
    # sample sheets
    Bad("sheet missing", "sheet", "validate", lambda c: c.sheet.unlink(),
        ("sample sheet", "samples.tsv", "does not exist")),
    Bad("sheet is a directory", "sheet", "validate",
        lambda c: (c.sheet.unlink(), c.sheet.mkdir()), ("samples.tsv", "is a directory")),
    Bad("sheet empty", "sheet", "validate", lambda c: _sheet_text(c, ""),
        ("samples.tsv", "is empty")),
    Bad("sheet header only", "sheet", "validate",
        lambda c: _sheet_text(c, "\t".join(SHEET_COLUMNS) + "\n"),
        ("samples.tsv", "header but no samples")),
    Bad("column missing", "sheet", "validate", lambda c: _drop_column(c, "tissue"),
        ("samples.tsv", "missing the required column 'tissue'")),
    Bad("column misspelt", "sheet", "validate",
        lambda c: _rename_column(c, "patient_id", "patient"),
        ("samples.tsv", "missing the required column 'patient_id'")),
    Bad("column twice", "sheet", "validate",
        lambda c: c.write_sheet(columns=[*SHEET_COLUMNS, "day"]),
        ("samples.tsv", "column 'day' twice")),
    Bad("sample twice", "sheet", "validate", lambda c: _two_rows(c),
        ("samples.tsv", "line 3", f"sample_id '{SAMPLE}' is already used on line 2")),
    Bad("day not a number", "sheet", "validate", lambda c: c.set(day="six months"),
        ("samples.tsv", "line 2", "day 'six months'")),
    Bad("outcome unknown", "sheet", "validate", lambda c: c.set(outcome="cured"),
        ("samples.tsv", "outcome 'cured'", "remission")),
    Bad("tissue unknown", "sheet", "validate", lambda c: c.set(tissue="liver"),
        ("samples.tsv", "tissue 'liver'")),
    Bad("a copied row still naming its source's matrix", "sheet", "validate",
        lambda c: _two_rows(c, sample_id="P01_M12_BM", timepoint="M12", day="365"),
        ("samples.tsv", "line 3", "gex file", f"already named for sample '{SAMPLE}' on line 2")),
    Bad("two outcomes for a patient", "sheet", "validate",
        lambda c: _two_rows(c, sample_id="P01_M12_BM", outcome="relapse"),
        ("samples.tsv", "line 3", "patient 'P01'", "one outcome")),
    Bad("sample id with a path separator", "sheet", "validate",
        lambda c: c.set(sample_id="P01/M6"), ("samples.tsv", "sample_id 'P01/M6'")),
    Bad("required value empty", "sheet", "validate", lambda c: c.set(timepoint=""),
        ("samples.tsv", "line 2", "column 'timepoint' is empty")),
    Bad("row with a field too many", "sheet", "validate",
        lambda c: _sheet_text(c, c.sheet.read_text().rstrip("\n") + "\textra\n"),
        ("samples.tsv", "line 2", "fields")),
    Bad("comma-separated", "sheet", "validate",
        lambda c: _sheet_text(c, c.sheet.read_text().replace("\t", ",")),
        ("samples.tsv", "tab-separated")),
    Bad("not UTF-8", "sheet", "validate",
        lambda c: _sheet_text(c, c.sheet.read_bytes().replace(b"remission", b"r\xe9mission")),
        ("samples.tsv", "not UTF-8")),
    Bad("gex path absent", "sheet", "validate", lambda c: c.set(gex="nowhere/matrix.h5"),
        ("samples.tsv", "gex file", "nowhere/matrix.h5", "does not exist")),
    Bad("relative path from elsewhere", "sheet", "validate",
        lambda c: c.set(gex=f"../{SAMPLE}/{FILES['gex']}"), ("samples.tsv", "does not exist")),
    Bad("directory where the bcr file belongs", "sheet", "validate",
        lambda c: c.set(bcr=f"{SAMPLE}/gex"), ("samples.tsv", "bcr path", "is a directory")),
    Bad("gex directory without a matrix", "sheet", "validate",
        lambda c: c.set(gex=f"{SAMPLE}/spatial"), ("samples.tsv", "holds no matrix.mtx")),
    Bad("broken symlink", "sheet", "validate",
        lambda c: ((c.folder / "link.h5").symlink_to(c.folder / "gone.h5"),
                   c.set(gex="link.h5")), ("samples.tsv", "link.h5", "does not exist")),
    Bad("column the reader writes", "sheet", "validate",
        lambda c: c.write_sheet([{**c.rows()[0], "barcode": "x"}]),
        ("samples.tsv", "column 'barcode'")),
    # expression files
    Bad("HDF5 signature, nothing readable", "expression", "validate",
        lambda c: c.file("gex").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64),
        ("filtered_feature_bc_matrix.h5", "could not be read")),
    Bad("truncated h5", "expression", "validate",
        lambda c: c.file("gex").write_bytes(c.file("gex").read_bytes()[:5000]),
        ("filtered_feature_bc_matrix.h5", "could not be read")),
    Bad("zero-byte h5", "expression", "validate", lambda c: c.file("gex").write_bytes(b""),
        ("filtered_feature_bc_matrix.h5", "not an HDF5 file")),
    Bad("gzipped garbage as h5", "expression", "validate",
        lambda c: c.file("gex").write_bytes(gzip.compress(b"not a matrix" * 50)),
        ("filtered_feature_bc_matrix.h5", "not an HDF5 file")),
    Bad("h5 that is not a 10x matrix", "expression", "validate",
        lambda c: h5py.File(c.file("gex"), "w").create_dataset("x", data=[1, 2]),
        ("filtered_feature_bc_matrix.h5", "not a 10x matrix")),
    Bad("non-integer counts", "expression", "qc",
        lambda c: _as_h5ad(c, lambda a: ad.AnnData(X=a.X * 0.5, obs=a.obs, var=a.var)),
        ("counts.h5ad", "raw counts")),
    Bad("negative counts", "expression", "qc",
        lambda c: _as_h5ad(c, lambda a: ad.AnnData(X=-a.X, obs=a.obs, var=a.var)),
        ("counts.h5ad", "raw counts")),
    Bad("normalised .X and normalised .raw", "expression", "qc",
        lambda c: _as_h5ad(c, lambda a: _cellxgene(a, raw_counts=False)),
        ("counts.h5ad", "raw counts")),
    Bad("Cell Ranger's unfiltered matrix", "expression", "validate",
        lambda c: (shutil.copy(c.file("gex"), c.file("gex").with_name("raw_feature_bc_matrix.h5")),
                   c.set(gex=f"{SAMPLE}/gex/raw_feature_bc_matrix.h5")),
        ("raw_feature_bc_matrix.h5", "unfiltered", "filtered_feature_bc_matrix")),
    Bad("an unfiltered 10x matrix under another name", "expression", "validate",
        _unfiltered_h5,
        ("matrix.h5", "25,", "barcodes", "looks unfiltered", "filtered_feature_bc_matrix")),
    Bad("an unfiltered matrix as .h5ad", "expression", "qc",
        lambda c: _as_h5ad(c, _with_empty_droplets), ("counts.h5ad", "looks unfiltered")),
    Bad("barcodes twice", "expression", "validate",
        lambda c: _as_h5ad(c, lambda a: ad.concat([a, a[:3]])),
        ("counts.h5ad", "barcode", "more than once")),
    Bad("matrix folder with barcodes missing", "expression", "validate",
        lambda c: _matrix_dir(c, drop_barcodes=5), ("matrix", "barcodes")),
    Bad("matrix folder with features missing", "expression", "validate",
        lambda c: _matrix_dir(c, drop_features=5), ("matrix", "features")),
    Bad("Ensembl IDs without symbols", "expression", "validate",
        lambda c: _as_h5ad(c, lambda a: ad.AnnData(
            X=a.X, obs=a.obs, var=pd.DataFrame(index=_ensembl_ids(a.n_vars)))),
        ("counts.h5ad", "Ensembl ID", "symbols")),
    Bad("no gene-expression feature", "expression", "validate",
        lambda c: _as_h5ad(c, lambda a: a[:, :0].copy()), ("counts.h5ad", "no gene")),
    # receptor files
    Bad("receptor column missing", "receptor", "validate",
        lambda c: _rewrite_table(c.file("tcr"), lambda t: t.drop(columns="chain")),
        ("filtered_contig_annotations.csv.gz", "no column 'chain'")),
    Bad("AIRR table without locus or V call", "receptor", "validate",
        lambda c: _rewrite_table(c.file("bcr"), lambda t: t.drop(columns="v_call")),
        ("airr_rearrangement.tsv.gz", "no column 'locus'")),
    Bad("AIRR table without junction", "receptor", "validate",
        lambda c: _rewrite_table(c.file("bcr"), lambda t: t.drop(columns="junction_aa")),
        ("airr_rearrangement.tsv.gz", "no column 'junction_aa'")),
    Bad("receptor barcodes not in the sample", "receptor", "validate",
        lambda c: _rewrite_table(c.file("tcr"), lambda t: t.assign(barcode="ZZ" + t["barcode"])),
        (SAMPLE, "TCR file", "ZZ")),
    Bad("receptor garbage bytes", "receptor", "validate",
        lambda c: c.file("tcr").write_bytes(b"\x1f\x8b\x08garbage" * 30),
        ("filtered_contig_annotations.csv.gz", "could not be read")),
    Bad("truncated receptor table", "receptor", "validate",
        lambda c: c.file("bcr").write_bytes(c.file("bcr").read_bytes()[:200]),
        ("airr_rearrangement.tsv.gz", "could not be read")),
    Bad("JSON contigs truncated", "receptor", "validate",
        lambda c: _json_contigs(c, text=lambda t: t[:len(t) // 2]),
        ("all_contig_annotations.json", "could not be read")),
    Bad("JSON contig without a field", "receptor", "validate",
        lambda c: _json_contigs(c, lambda t: _without(t, "cdr3")),
        ("all_contig_annotations.json", "contig 2", "no field 'cdr3'")),
    Bad("JSON that is not a list of contigs", "receptor", "validate",
        lambda c: _json_contigs(c, lambda t: {"contigs": t}),
        ("all_contig_annotations.json", "not a list of 10x contigs")),
    Bad("JSON contigs of another sample", "receptor", "validate",
        lambda c: _json_contigs(c, lambda t: [{**x, "barcode": "ZZ" + x["barcode"]} for x in t]),
        (SAMPLE, "TCR file", "all_contig_annotations.json", "ZZ")),
    Bad("receptor folder of neither kind", "receptor", "validate",
        lambda c: c.set(bcr=f"{SAMPLE}/spatial"), ("spatial", "not a Cell Ranger vdj_b/vdj_t")),
    # spatial tables
    Bad("spatial column missing", "spatial", "validate",
        lambda c: _rewrite_table(c.file("spatial"), lambda t: t.drop(columns="y")),
        ("cells.csv", "column 'y'")),
    Bad("spatial barcodes not in the sample", "spatial", "validate",
        lambda c: _rewrite_table(c.file("spatial"),
                                 lambda t: t.assign(barcode="ZZ" + t["barcode"])),
        (SAMPLE, "cells.csv", "ZZ")),
    Bad("spatial coordinates not numbers", "spatial", "validate",
        lambda c: _rewrite_table(c.file("spatial"), lambda t: t.assign(x="left")),
        ("cells.csv", "column 'x'", "number")),
    Bad("spatial garbage bytes", "spatial", "validate",
        lambda c: c.file("spatial").write_bytes(b"\xff\xfe\x00garbage\x00" * 20),
        ("cells.csv",)),
]


@pytest.mark.parametrize("case", BAD, ids=[f"{b.kind}: {b.name}" for b in BAD])
def test_a_bad_input_stops_with_one_sentence(case: Bad, cohort: Cohort, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    case.make(cohort)
    output = tmp_path / "out" / "qc.h5ad"
    output.parent.mkdir()
    status, err = _run(capsys, case.step, cohort, output)
    assert status == EXIT_INPUT_ERROR, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for words in case.says:
        assert words in lines[0], (words, lines[0])
    assert list(output.parent.iterdir()) == []
    if case.step == "qc":  # what only reading shows gets past validate, and no further
        status, err = _run(capsys, "validate", cohort, output)
        assert status == 0, err


# ---------------------------------------------------------------- the unusual cases


@dataclass
class Unusual:
    """An input that looks wrong but is not: it must run, and say what it assumed."""

    name: str
    make: Callable[[Cohort], object]
    logged: str = ""
    # what the run must have read from the input, where the case could be silently dropped
    holds: Callable[[ad.AnnData], bool] = lambda adata: True


UNUSUAL = [
    Unusual("byte-order mark", lambda c: c.write_sheet(prefix="\ufeff")),
    Unusual("CRLF line ends", lambda c: c.write_sheet(newline="\r\n")),
    Unusual("trailing whitespace", lambda c: _sheet_text(
        c, "\n".join(" \t ".join(line.split("\t")) + "  "
                     for line in c.sheet.read_text().splitlines()) + "\n")),
    Unusual("absolute paths", lambda c: c.set(
        **{col: str(c.file(col)) for col in FILES})),
    Unusual("a symlink to the matrix", lambda c: (
        (c.folder / "linked.h5").symlink_to(c.file("gex")), c.set(gex="linked.h5"))),
    Unusual("comment lines and blank lines", lambda c: _sheet_text(
        c, "# cohort of the example\n\n" + c.sheet.read_text() + "\n\n")),
    Unusual("receptor and spatial columns left empty", lambda c: c.set(bcr="", tcr="",
                                                                          spatial="")),
    Unusual("a Cell Ranger vdj folder", lambda c: c.set(bcr=f"{SAMPLE}/vdj_b"),
            logged="reading airr_rearrangement.tsv.gz"),
    Unusual("10x contigs as JSON", lambda c: _json_contigs(c),
            holds=lambda a: {"TRA", "TRB"} <= _loci(a)),
    Unusual("receptor table with a header only", lambda c: _rewrite_table(
        c.file("tcr"), lambda t: t.iloc[:0])),
    Unusual("only non-productive contigs", lambda c: _rewrite_table(
        c.file("tcr"), lambda t: t.assign(productive=False))),
    Unusual("genes twice", lambda c: _as_h5ad(c, lambda a: ad.concat(
        [a, a[:, :2]], axis=1, merge="first")), logged="gene names occur more than once"),
    Unusual("a matrix folder", lambda c: _matrix_dir(c)),
    Unusual("Ensembl IDs with a symbol column", lambda c: _as_h5ad(c, lambda a: ad.AnnData(
        X=a.X, obs=a.obs, var=pd.DataFrame({"gene_symbols": a.var_names.to_numpy()},
                                           index=_ensembl_ids(a.n_vars)))),
        logged="its .var column 'gene_symbols' gives the symbols"),
    Unusual("CELLxGENE layout: normalised .X, counts in .raw", lambda c: _as_h5ad(
        c, _cellxgene), logged="the raw counts of .raw.X are read",
        holds=lambda a: _is_counts(a.layers[K.COUNTS])),
    Unusual("mouse symbols", lambda c: _as_h5ad(c, lambda a: ad.AnnData(
        X=a.X, obs=a.obs, var=pd.DataFrame(index=a.var_names.str.capitalize()))),
        logged="written the mouse way"),
]


@pytest.mark.parametrize("case", UNUSUAL, ids=[u.name for u in UNUSUAL])
def test_an_unusual_input_runs(case: Unusual, cohort: Cohort, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    case.make(cohort)
    status, err = _run(capsys, "validate", cohort, tmp_path / "unused")
    assert status == 0, err
    output = tmp_path / "qc.h5ad"
    status = main(["qc", "--samplesheet", str(cohort.sheet), "--sample", SAMPLE, "--output",
                   str(output)])
    err = capsys.readouterr().err
    assert status == 0, err
    adata = ad.read_h5ad(output)
    assert adata.obs[K.SAMPLE].eq(SAMPLE).all()
    assert case.logged in err
    assert case.holds(adata)


def _loci(adata: ad.AnnData) -> set[str]:
    import awkward as ak

    return set(ak.to_list(ak.flatten(adata.obsm[K.AIRR]["locus"])))


def test_the_corpus_covers_every_input() -> None:
    kinds = pd.Series([b.kind for b in BAD]).value_counts()
    assert len(BAD) + len(UNUSUAL) >= 40
    assert {"sheet", "expression", "receptor", "spatial"} <= set(kinds.index)
