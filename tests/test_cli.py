"""The ``repertoire`` command line: validation errors, help, and each step on a tiny cohort."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import repertoire
from repertoire import _keys as K
from repertoire.cli import EXIT_NO_RESOURCES, PATIENT_FIGURES, STEPS, build_parser, main
from repertoire.io._samplesheet import REQUIRED_COLUMNS

SUBCOMMANDS = (
    "validate", "qc", "merge", "preprocess", "annotate", "bcr",
    "communication", "niches", "report", "simulate",
)


def _run(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# validate ------------------------------------------------------------------------------------


@pytest.fixture
def sheet_dir(tmp_path: Path) -> Path:
    """Two samples' files: a 10x matrix of two cells and a 10x contig table each."""
    from repertoire.datasets._cellranger import write_10x_h5

    var = pd.DataFrame({"gene_ids": ["ENSG1", "ENSG2"], "feature_types": "Gene Expression",
                        "genome": "GRCh38"}, index=["CD19", "CD3E"])
    for sample in ("S1", "S2"):
        write_10x_h5(sp.csr_matrix(np.array([[1, 0], [0, 2]])), np.array(["A-1", "B-1"]), var,
                     tmp_path / f"{sample}.h5")
        (tmp_path / f"{sample}_bcr.csv").write_text("barcode,chain,cdr3,v_gene,c_gene\n")
    return tmp_path


HEADER = [*REQUIRED_COLUMNS, "bcr"]
ROWS = [
    ["S1", "P1", "baseline", "-7", "blood", "relapse", "S1.h5", "S1_bcr.csv"],
    ["S2", "P1", "month3", "90", "bone_marrow", "relapse", "S2.h5", "S2_bcr.csv"],
]


def _write_sheet(directory: Path, header: list[str], rows: list[list[str]]) -> Path:
    path = directory / "samples.tsv"
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    return path


def _set(row: int, column: str, value: str):
    def change(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        rows[row][header.index(column)] = value
        return header, rows

    return change


def _drop_column(column: str):
    def change(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        index = header.index(column)
        return header[:index] + header[index + 1:], [r[:index] + r[index + 1:] for r in rows]

    return change


# (id, change of header and rows, file to write in the sheet's directory, text the message holds)
SHEET_ERRORS = [
    ("missing-column", _drop_column(K.OUTCOME), None, "'outcome'"),
    ("duplicate-column", lambda h, r: ([*h, "bcr"], [[*x, "S1_bcr.csv"] for x in r]), None,
     "'bcr' twice"),
    ("empty-column-name", lambda h, r: ([*h, ""], [[*x, "x"] for x in r]), None,
     "empty column name"),
    ("field-count", lambda h, r: (h, [r[0][:-1], r[1]]), None, "fields"),
    ("no-samples", lambda h, r: (h, []), None, "no samples"),
    ("empty-value", _set(0, K.PATIENT, ""), None, "'patient_id' is empty"),
    ("bad-identifier", _set(0, K.SAMPLE, "S 1"), None, "sample_id 'S 1'"),
    ("bad-day", _set(0, K.DAY, "day7"), None, "day 'day7'"),
    ("bad-outcome", _set(0, K.OUTCOME, "cured"), None, "outcome 'cured'"),
    ("bad-tissue", _set(0, K.TISSUE, "liver"), None, "tissue 'liver'"),
    ("missing-file", _set(0, "gex", "absent.h5"), None, "absent.h5"),
    ("unsupported-type", _set(0, "gex", "S1_bcr.csv"), None, "supported type"),
    ("not-hdf5", _set(0, "gex", "fake.h5"), ("fake.h5", b"not an HDF5 file"), "not an HDF5"),
    ("empty-receptor-file", _set(0, "bcr", "empty.csv"), ("empty.csv", b""), "is empty"),
    ("directory", _set(0, "bcr", "."), None, "directory"),
    ("duplicate-sample", _set(1, K.SAMPLE, "S1"), None, "already used"),
    ("two-outcomes", _set(1, K.OUTCOME, "remission"), None, "one outcome"),
]


def test_validate_ok(capsys: pytest.CaptureFixture, sheet_dir: Path) -> None:
    sheet = _write_sheet(sheet_dir, HEADER, [list(r) for r in ROWS])
    status, out, err = _run(capsys, "validate", sheet)
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    for fragment in ("2 samples", "1 patient ", "1 relapse", "baseline, month3",
                     "blood, bone_marrow", "bcr 2/2", "tcr 0/2"):
        assert fragment in lines[0]


@pytest.mark.parametrize(("change", "extra_file", "fragment"),
                         [e[1:] for e in SHEET_ERRORS], ids=[e[0] for e in SHEET_ERRORS])
def test_validate_reports_each_sheet_error_in_one_line(
    capsys: pytest.CaptureFixture, sheet_dir: Path, change, extra_file, fragment: str
) -> None:
    header, rows = change(list(HEADER), [list(r) for r in ROWS])
    if extra_file is not None:
        (sheet_dir / extra_file[0]).write_bytes(extra_file[1])
    sheet = _write_sheet(sheet_dir, header, rows)
    status, out, err = _run(capsys, "validate", sheet)
    _assert_one_line_error(status, err, fragment)
    assert out == ""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "does not exist"), (b"", "is empty"), (b"\xff\xfe\x00bad", "UTF-8"),
     (b"sample_id,patient_id,day\nS1,P1,0\n", "comma-separated")],
    ids=["absent", "empty", "not-utf8", "comma-separated"],
)
def test_validate_reports_unreadable_sheets(
    capsys: pytest.CaptureFixture, tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    sheet = tmp_path / "samples.tsv"
    if content is not None:
        sheet.write_bytes(content)
    status, _, err = _run(capsys, "validate", sheet)
    _assert_one_line_error(status, err, fragment)


def test_errors_exit_2_without_traceback_in_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "repertoire", "validate", str(tmp_path / "absent.tsv")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: sample sheet {tmp_path / 'absent.tsv'} does not exist."
    ]


def test_unexpected_errors_keep_their_traceback(
    monkeypatch: pytest.MonkeyPatch, sheet_dir: Path
) -> None:
    def broken(path: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(repertoire.io, "read_samplesheet", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["validate", str(_write_sheet(sheet_dir, HEADER, ROWS))])


# help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_explains_its_inputs_and_outputs(
    capsys: pytest.CaptureFixture, command: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "In:" in out
    assert "Out:" in out
    assert "--verbose" in out
    assert "--quiet" in out
    # every table and figure the step writes is named in its help
    for name in (*STEPS[command].tables, *STEPS[command].figures):
        assert name in " ".join(out.split()), name


def test_every_step_is_a_subcommand() -> None:
    assert tuple(STEPS) == SUBCOMMANDS


def test_python_dash_m_lists_every_subcommand() -> None:
    result = subprocess.run([sys.executable, "-m", "repertoire", "--help"],
                            capture_output=True, text=True, check=True)
    for command in SUBCOMMANDS:
        assert command in result.stdout


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["preprocess", "in.h5ad", "out.h5ad", "--resolutions", "-1"])
    assert exit_info.value.code == 2
    assert "positive" in capsys.readouterr().err


# the steps on a tiny cohort ------------------------------------------------------------------


def _small_cohort(directory: Path, *, samples_per_patient: int = 3) -> Path:
    """Two simulated patients (one relapse), the first samples of each, as Cell Ranger files."""
    adata = repertoire.datasets.simulate_cohort(
        n_patients=2, n_relapse=1, cells_per_sample=150, seed=0
    )
    repertoire.datasets.write_cellranger(adata, directory)
    sheet = pd.read_csv(directory / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet = sheet.groupby(K.PATIENT, sort=False).head(samples_per_patient)
    sheet.to_csv(directory / "samples.tsv", sep="\t", index=False)
    return directory / "samples.tsv"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _small_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="module")
def qc_outputs(cohort: Path) -> list[Path]:
    samples = pd.read_csv(cohort, sep="\t")[K.SAMPLE]
    outputs = [cohort.parent / "qc" / f"{s}.h5ad" for s in samples]
    for sample, output in zip(samples, outputs, strict=True):
        status = main(["qc", "-q", "--samplesheet", str(cohort), "--sample", sample,
                       "--output", str(output)])
        assert status == 0
    return outputs


def _written(directory: Path, step: str, kind: str, suffix: str) -> None:
    """``directory`` holds exactly the tables or figures that ``step`` declares."""
    names = getattr(STEPS[step], kind)
    assert sorted(p.name for p in directory.iterdir() if p.is_file()) == sorted(
        f"{name}.{suffix}" for name in names
    )
    for name in names:
        assert (directory / f"{name}.{suffix}").stat().st_size > 0


@pytest.fixture(scope="module")
def merged(qc_outputs: list[Path]) -> tuple[Path, Path]:
    directory = qc_outputs[0].parent.parent
    output, tables = directory / "cohort_qc.h5ad", directory / "tables"
    status = main(["merge", "-q", "--output", str(output), "--tables", str(tables),
                   "--figures", str(directory / "figures"), *map(str, qc_outputs)])
    assert status == 0
    return output, tables / "qc_summary.tsv"


def test_qc_writes_every_cell_with_its_flags(cohort: Path, qc_outputs: list[Path]) -> None:
    sheet = pd.read_csv(cohort, sep="\t")
    adata = ad.read_h5ad(qc_outputs[0])
    assert set(adata.obs[K.SAMPLE]) == {sheet[K.SAMPLE].iloc[0]}
    for column in (K.LOW_QUALITY, K.DOUBLET, K.DOUBLET_SCORE, K.N_COUNTS):
        assert column in adata.obs
    assert K.COUNTS in adata.layers
    assert K.AIRR in adata.obsm
    assert K.CHAIN_INDICES not in adata.obsm  # made once, by merge
    assert list(adata.uns[K.QC]["samples"][K.SAMPLE]) == [sheet[K.SAMPLE].iloc[0]]


def test_merge_joins_samples_and_drops_flagged_cells(
    qc_outputs: list[Path], merged: tuple[Path, Path]
) -> None:
    output, summary_path = merged
    cohort = ad.read_h5ad(output)
    summary = pd.read_csv(summary_path, sep="\t")
    samples = [ad.read_h5ad(p).obs[K.SAMPLE].iloc[0] for p in qc_outputs]
    assert list(summary[K.SAMPLE]) == samples
    assert summary[K.SAMPLE].is_unique
    assert not cohort.obs[K.LOW_QUALITY].any()
    assert not cohort.obs[K.DOUBLET].any()
    kept = (summary["n_cells"] - summary["n_flagged"]).sum()
    assert cohort.n_obs == kept
    assert len(cohort.obsm[K.CHAIN_INDICES]) == cohort.n_obs
    assert list(cohort.uns[K.QC]["samples"][K.SAMPLE]) == samples
    _written(summary_path.parent, "merge", "tables", "tsv")
    _written(output.parent / "figures", "merge", "figures", "png")


def test_qc_of_several_samples_in_one_run_equals_one_run_each(
    capsys: pytest.CaptureFixture, tmp_path: Path, cohort: Path, qc_outputs: list[Path]
) -> None:
    samples = pd.read_csv(cohort, sep="\t")[K.SAMPLE].tolist()
    together = tmp_path / "together.h5ad"
    status, _, _ = _run(capsys, "qc", "--samplesheet", cohort, "--sample", *samples,
                        "--output", together)
    assert status == 0
    cohorts = []
    for inputs in ([together], qc_outputs):
        output = tmp_path / f"merged{len(cohorts)}.h5ad"
        status, _, _ = _run(capsys, "merge", "--keep-flagged", "--output", output, *inputs)
        assert status == 0
        cohorts.append(ad.read_h5ad(output))
    one_run, run_each = cohorts
    pd.testing.assert_frame_equal(one_run.obs, run_each.obs)
    assert (one_run.layers["counts"] != run_each.layers["counts"]).nnz == 0
    pd.testing.assert_frame_equal(one_run.uns[K.QC]["samples"], run_each.uns[K.QC]["samples"])


def test_merge_keep_flagged_keeps_every_cell(
    capsys: pytest.CaptureFixture, tmp_path: Path, qc_outputs: list[Path]
) -> None:
    output = tmp_path / "all.h5ad"
    status, _, _ = _run(capsys, "merge", "--keep-flagged", "--output", output, *qc_outputs)
    assert status == 0
    assert ad.read_h5ad(output).n_obs == sum(ad.read_h5ad(p).n_obs for p in qc_outputs)


def test_preprocess_clusters_and_draws(tmp_path: Path, merged: tuple[Path, Path]) -> None:
    output, tables, figures = tmp_path / "cohort.h5ad", tmp_path / "t", tmp_path / "fig"
    status = main(["preprocess", "-q", str(merged[0]), str(output), "--resolutions", "0.5", "1",
                   "--n-top-genes", "500", "--n-comps", "10", "--tables", str(tables),
                   "--figures", str(figures)])
    assert status == 0
    adata = ad.read_h5ad(output)
    keys = adata.uns[K.LEIDEN]["params"]["keys"]
    assert len(keys) == 2
    for key in keys:
        assert adata.obs[key].notna().all()
    assert K.UMAP in adata.obsm
    table = pd.read_csv(tables / "clusters_by_sample.tsv", sep="\t")
    assert set(table["clustering"]) == set(keys)
    assert set(table[K.SAMPLE]) == set(adata.obs[K.SAMPLE])
    assert table["n_cells"].sum() == 2 * adata.n_obs
    _written(tables, "preprocess", "tables", "tsv")
    _written(figures, "preprocess", "figures", "png")


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory: pytest.TempPathFactory, merged: tuple[Path, Path]) -> Path:
    output = tmp_path_factory.mktemp("preprocessed") / "cohort.h5ad"
    status = main(["preprocess", "-q", str(merged[0]), str(output), "--n-top-genes", "500",
                   "--n-comps", "10"])
    assert status == 0
    return output


def test_annotate_names_cells_and_writes_tables(
    tmp_path: Path, cohort: Path, preprocessed: Path
) -> None:
    output, tables, figures = tmp_path / "annotated.h5ad", tmp_path / "t", tmp_path / "fig"
    status = main(["annotate", "-q", str(preprocessed), str(output), "--tables", str(tables),
                   "--figures", str(figures)])
    assert status == 0
    adata = ad.read_h5ad(output)
    for column in (K.LINEAGE, K.CELL_TYPE, K.CELL_TYPE_CONFIDENCE, K.CAR_DETECTED):
        assert column in adata.obs
    truth = pd.read_csv(cohort.parent / "truth" / "cells.tsv.gz", sep="\t")
    truth.index = truth[K.SAMPLE] + "_" + truth[K.BARCODE]
    expected = truth[K.TRUE_LINEAGE].reindex(adata.obs_names)
    accuracy = (adata.obs[K.LINEAGE].astype(str) == expected).mean()
    assert accuracy > 0.95
    cell_types = pd.read_csv(tables / "cell_types_by_sample.tsv", sep="\t")
    assert cell_types["n_cells"].sum() == adata.n_obs
    assert set(cell_types[K.SAMPLE]) == set(adata.obs[K.SAMPLE])
    markers = pd.read_csv(tables / "annotation_markers.tsv", sep="\t")
    assert {"level", "cluster", "label", "top_genes"} <= set(markers.columns)
    car = pd.read_csv(tables / "car_by_sample.tsv", sep="\t")
    assert set(car[K.SAMPLE]) == set(adata.obs[K.SAMPLE])
    _written(tables, "annotate", "tables", "tsv")
    _written(figures, "annotate", "figures", "png")


def test_annotate_with_a_bad_panel_file_writes_nothing(
    capsys: pytest.CaptureFixture, tmp_path: Path, preprocessed: Path
) -> None:
    panels = tmp_path / "panels.yaml"
    panels.write_text("lineages: {}\ncell_types: {B_naive: {lineage: B}}\n")
    output = tmp_path / "annotated.h5ad"
    status, _, err = _run(capsys, "annotate", preprocessed, output, "--markers", panels)
    _assert_one_line_error(status, err, str(panels), "cell_types.B_naive.positive")
    assert list(tmp_path.iterdir()) == [panels]


def test_bcr_writes_tables_figures_and_the_cohort(
    tmp_path: Path, merged: tuple[Path, Path]
) -> None:
    # the merged cohort has no annotation: states come from the receptor alone, and each
    # patient's day-14 blood is in aplasia
    output, tables, figures = tmp_path / "bcr.h5ad", tmp_path / "tables", tmp_path / "figures"
    status = main(["bcr", "-q", str(merged[0]), str(output), "--tables", str(tables),
                   "--figures", str(figures), "--n-boot", "50"])
    assert status == 0
    adata = ad.read_h5ad(output)
    for column in (K.ISOTYPE, K.SHM_RATE, K.BCR_STATE, K.CLONE, K.EXPANSION, K.PREEXISTING):
        assert column in adata.obs
    _written(tables, "bcr", "tables", "tsv")
    # chains per SHM source, as the cells' own sources count them
    sources = pd.read_csv(tables / "shm_sources.tsv", sep="\t", keep_default_na=False)
    for chain, column in (("heavy", K.SHM_SOURCE), ("light", K.SHM_SOURCE_LIGHT)):
        counted = adata.obs[column].value_counts()
        assert sources[sources["chain"] == chain].set_index("shm_source")[
            "n_chains"].to_dict() == counted[counted > 0].to_dict(), chain
    samples = pd.read_csv(tables / "reconstitution.tsv", sep="\t")
    assert sorted(samples[K.SAMPLE]) == sorted(adata.obs[K.SAMPLE].unique())
    day14 = samples[samples[K.TIMEPOINT] == "D14"]
    assert len(day14) == 2
    assert (day14["n_B"] == 0).all()
    assert day14["aplasia"].all()
    assert day14["frac_naive_bcr"].isna().all()
    assert samples.loc[samples[K.TIMEPOINT] == "baseline", "frac_naive_bcr"].notna().all()
    _written(figures, "bcr", "figures", "png")
    patients = sorted(adata.obs[K.PATIENT].unique())
    assert sorted(p.name for p in (figures / PATIENT_FIGURES).iterdir()) == [
        f"{p}.png" for p in patients]


def test_report_of_an_early_cohort_says_what_is_missing(
    capsys: pytest.CaptureFixture, tmp_path: Path, merged: tuple[Path, Path]
) -> None:
    cohort = merged[0]
    patient = sorted(ad.read_h5ad(cohort).obs[K.PATIENT].astype(str).unique())[0]
    page = tmp_path / "reports" / f"{patient}.html"
    assert main(["report", "-q", str(cohort), "--patient", patient, "--output", str(page),
                 "--cohort-page", "cohort.html", "--flag", "memory_over_naive=2"]) == 0
    text = page.read_text()
    assert "Reconstitution not computed (run repertoire.tl.reconstitution)" in text
    assert "memory fraction of B cells (transcriptome) above 2 x the naive" in text
    assert (tmp_path / "reports" / f"{patient}.summary.tsv").is_file()
    assert main(["report", "-q", str(cohort), "--output", str(tmp_path / "reports" / "cohort.html")
                 ]) == 0
    text = (tmp_path / "reports" / "cohort.html").read_text()
    assert "Niche outcomes not computed" in text
    assert f'href="{patient}.html"' in text
    assert (tmp_path / "reports" / "flags.tsv").is_file()

    status, _, err = _run(capsys, "report", str(cohort), "--output", str(tmp_path / "x.html"),
                          "--flag", "memory_over_naive")
    _assert_one_line_error(status, err, "--flag 'memory_over_naive' is not NAME=NUMBER")
    status, _, err = _run(capsys, "report", str(cohort), "--output", str(tmp_path / "x.html"),
                          "--patient", "nobody")
    _assert_one_line_error(status, err, "patient 'nobody' is not in .obs['patient_id']")
    assert not (tmp_path / "x.html").exists()


def test_bcr_rejects_a_file_without_receptors(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.h5ad"
    ad.AnnData(obs=pd.DataFrame({K.SAMPLE: ["S1"], K.PATIENT: ["P1"]}, index=["c1"])).write_h5ad(
        plain)
    output = tmp_path / "out.h5ad"
    status, _, err = _run(capsys, "bcr", plain, output)
    _assert_one_line_error(status, err, "obsm['airr']")
    assert not output.exists()


def test_one_sample_is_read_as_its_slice_of_the_cohort(preprocessed: Path) -> None:
    import awkward as ak

    from repertoire.cli._base import read_h5ad

    cohort = ad.read_h5ad(preprocessed)
    sample = str(cohort.obs[K.SAMPLE].cat.categories[-1])
    expected = cohort[(cohort.obs[K.SAMPLE] == sample).to_numpy()].copy()
    found = read_h5ad(preprocessed, sample=sample)
    pd.testing.assert_frame_equal(found.obs, expected.obs)
    pd.testing.assert_frame_equal(found.var, expected.var)
    assert found.uns.keys() == expected.uns.keys()
    assert (found.X != expected.X).nnz == 0
    for name in ("layers", "obsm", "obsp", "varm"):
        assert getattr(found, name).keys() == getattr(expected, name).keys(), name
    assert all((found.layers[k] != v).nnz == 0 for k, v in expected.layers.items())
    assert all((found.obsp[k] != v).nnz == 0 for k, v in expected.obsp.items())
    for key, value in expected.obsm.items():
        if isinstance(value, ak.Array):
            assert ak.array_equal(found.obsm[key], value, equal_nan=True), key
        else:
            np.testing.assert_array_equal(found.obsm[key], value, err_msg=key)
    np.testing.assert_array_equal(found.varm["PCs"], expected.varm["PCs"])
    with pytest.raises(repertoire.InputError, match="'nobody'"):
        read_h5ad(preprocessed, sample="nobody")


def test_communication_scores_one_sample_as_the_library_does(
    tmp_path: Path, preprocessed: Path
) -> None:
    cohort = ad.read_h5ad(preprocessed)
    sample = str(cohort.obs[K.SAMPLE].cat.categories[0])
    output = tmp_path / "communication.h5ad"
    status = main(["communication", "-q", str(preprocessed), "--sample", sample, "--output",
                   str(output), "--groupby", K.LEIDEN, "--n-perms", "50", "--min-cells", "3"])
    assert status == 0
    expected = repertoire.tl.communication(
        cohort[(cohort.obs[K.SAMPLE] == sample).to_numpy()].copy(), K.LEIDEN,
        sample_key=K.SAMPLE, n_perms=50, min_cells=3, inplace=False)
    found = ad.read_h5ad(output).uns[K.COMMUNICATION][K.TABLE_INTERACTIONS]
    assert len(found) > 0
    pd.testing.assert_frame_equal(found.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_categorical=False)


def test_communication_of_several_samples_equals_one_run_each(
    tmp_path: Path, preprocessed: Path
) -> None:
    samples = [str(s) for s in ad.read_h5ad(preprocessed).obs[K.SAMPLE].cat.categories[:2]]
    options = ["--groupby", K.LEIDEN, "--n-perms", "50", "--min-cells", "3"]
    together = tmp_path / "together.h5ad"
    assert main(["communication", "-q", str(preprocessed), "--sample", *samples,
                 "--output", str(together), *options]) == 0
    tables = []
    for sample in samples:
        output = tmp_path / f"{sample}.h5ad"
        assert main(["communication", "-q", str(preprocessed), "--sample", sample,
                     "--output", str(output), *options]) == 0
        tables.append(ad.read_h5ad(output).uns[K.COMMUNICATION][K.TABLE_INTERACTIONS])
    found = ad.read_h5ad(together).uns[K.COMMUNICATION][K.TABLE_INTERACTIONS]
    assert set(found[K.SAMPLE]) == set(samples)
    pd.testing.assert_frame_equal(found, pd.concat(tables, ignore_index=True),
                                  check_categorical=False)


# failures leave nothing half-written ---------------------------------------------------------


def test_qc_of_an_unknown_sample_writes_nothing(
    capsys: pytest.CaptureFixture, tmp_path: Path, cohort: Path
) -> None:
    output = tmp_path / "qc" / "nobody.h5ad"
    status, _, err = _run(capsys, "qc", "--samplesheet", cohort, "--sample", "nobody",
                          "--output", output)
    _assert_one_line_error(status, err, "'nobody'")
    assert not output.exists()


def test_merge_of_a_file_without_qc_writes_nothing(
    capsys: pytest.CaptureFixture, tmp_path: Path, qc_outputs: list[Path]
) -> None:
    plain = tmp_path / "plain.h5ad"
    ad.AnnData(np.ones((2, 2), dtype=np.float32)).write_h5ad(plain)
    output = tmp_path / "cohort.h5ad"
    status, _, err = _run(capsys, "merge", "--output", output, qc_outputs[0], plain)
    _assert_one_line_error(status, err, str(plain), f"'{K.LOW_QUALITY}'")
    assert list(tmp_path.iterdir()) == [plain]


def test_missing_input_is_an_input_error(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    output = tmp_path / "out.h5ad"
    status, _, err = _run(capsys, "preprocess", tmp_path / "absent.h5ad", output)
    _assert_one_line_error(status, err, "absent.h5ad", "does not exist")
    assert not output.exists()


def test_a_crash_while_writing_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cohort: Path
) -> None:
    def crash(self: ad.AnnData, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half an h5ad")
        raise OSError("disk full")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", crash)
    sample = pd.read_csv(cohort, sep="\t")[K.SAMPLE].iloc[0]
    with pytest.raises(OSError, match="disk full"):
        main(["qc", "-q", "--samplesheet", str(cohort), "--sample", sample,
              "--output", str(tmp_path / "qc.h5ad")])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shortage", ["memory", "disk", "hdf5 disk"])
def test_a_step_short_of_memory_or_disk_says_so_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path,
    cohort: Path, shortage: str
) -> None:
    output = tmp_path / "qc.h5ad"

    def fail(self: ad.AnnData, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half an h5ad")
        if shortage == "memory":
            raise MemoryError
        if shortage == "disk":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        raise OSError("Can't write data (file write failed: errno = 28, error message = 'No "
                      "space left on device')")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", fail)
    sample = pd.read_csv(cohort, sep="\t")[K.SAMPLE].iloc[0]
    status, _, err = _run(capsys, "qc", "-q", "--samplesheet", cohort, "--sample", sample,
                          "--output", output)
    assert status == EXIT_NO_RESOURCES
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("error: step 'qc' ran out of ")
    assert ("memory" if shortage == "memory" else "disk space") in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_step_stopped_by_a_signal_removes_its_unfinished_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path,
    cohort: Path, signum: signal.Signals
) -> None:
    def stopped(self: ad.AnnData, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half an h5ad")
        os.kill(os.getpid(), signum)  # as a scheduler's time limit or Ctrl-C stops the step
        time.sleep(30)  # the signal ends the sleep; unhandled, SIGTERM would end the process

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(ad.AnnData, "write_h5ad", stopped)
    sample = pd.read_csv(cohort, sep="\t")[K.SAMPLE].iloc[0]
    status, _, err = _run(capsys, "qc", "-q", "--samplesheet", cohort, "--sample", sample,
                          "--output", tmp_path / "qc.h5ad")
    assert status == 128 + signum
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: step 'qc' was stopped by {signum.name} before it finished")
    assert list(tmp_path.iterdir()) == []
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_simulate_rejects_more_relapses_than_patients(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    status, _, err = _run(capsys, "simulate", tmp_path, "--patients", "2", "--relapses", "3")
    _assert_one_line_error(status, err, "--relapses 3")
    assert list(tmp_path.iterdir()) == []


def test_simulate_writes_a_valid_sheet(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    status, out, _ = _run(capsys, "simulate", tmp_path, "--patients", "2", "--relapses", "1",
                          "--cells-per-sample", "50", "-q")
    assert status == 0
    sheet = tmp_path / "samples.tsv"
    assert str(sheet) in out
    status, out, _ = _run(capsys, "validate", sheet)
    assert status == 0
    assert "2 patients" in out
