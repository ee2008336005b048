from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

import repertoire as rp
from repertoire import _keys as K
from repertoire.io._samplesheet import REQUIRED_COLUMNS


@pytest.fixture
def cohort(small_cohort_dir, tmp_path):
    """A private copy of the small cohort, so each test may break its sample sheet."""
    target = tmp_path / "cohort"
    shutil.copytree(small_cohort_dir, target)
    return target


def _sheet(cohort) -> pd.DataFrame:
    return pd.read_csv(cohort / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)


def _write(cohort, table: pd.DataFrame, name: str = "samples.tsv"):
    path = cohort / name
    table.to_csv(path, sep="\t", index=False)
    return path


def _error(path) -> str:
    with pytest.raises(rp.InputError) as caught:
        rp.io.read_samplesheet(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_valid_sheet_is_typed_and_resolved(cohort, small_cohort):
    sheet = rp.io.read_samplesheet(cohort / "samples.tsv")
    expected = pd.unique(small_cohort.obs[K.SAMPLE].astype(str))
    assert list(sheet.index) == list(expected)
    assert sheet[K.DAY].dtype.kind == "i"
    assert (sheet.loc[sheet[K.TIMEPOINT] == "baseline", K.DAY] < 0).all()
    for column in ("gex", "bcr", "tcr"):
        assert all(os.path.isabs(p) and os.path.exists(p) for p in sheet[column])
    marrow = sheet[K.TISSUE] == "bone_marrow"
    assert sheet.loc[marrow, "spatial"].notna().all()
    assert sheet.loc[~marrow, "spatial"].isna().all()


def test_extra_columns_are_kept_as_metadata(cohort):
    table = _sheet(cohort).assign(batch="run1")
    sheet = rp.io.read_samplesheet(_write(cohort, table))
    assert (sheet["batch"] == "run1").all()


def test_missing_sheet(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.tsv")


def test_directory_instead_of_sheet(tmp_path):
    assert "is a directory" in _error(tmp_path)


def test_empty_sheet(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("")
    assert "is empty" in _error(path)


def test_header_without_samples(cohort):
    path = _write(cohort, _sheet(cohort).iloc[:0])
    assert "no samples" in _error(path)


def test_comma_separated_sheet(cohort):
    path = cohort / "samples.csv"
    _sheet(cohort).to_csv(path, index=False)
    assert "tab-separated" in _error(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_bytes(b"sample_id\tday\n\xff\xfe\t1\n")
    assert "UTF-8" in _error(path)


def test_row_with_wrong_number_of_fields(cohort):
    path = cohort / "samples.tsv"
    lines = path.read_text().splitlines()
    lines[2] += "\textra"
    path.write_text("\n".join(lines) + "\n")
    message = _error(path)
    assert "line 3" in message
    assert "fields" in message


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_missing_required_column(cohort, column):
    message = _error(_write(cohort, _sheet(cohort).drop(columns=column)))
    assert f"'{column}'" in message
    assert "missing" in message


def test_duplicate_column(cohort):
    path = cohort / "samples.tsv"
    lines = path.read_text().splitlines()
    lines = [line + "\t" + line.split("\t")[3] for line in lines]
    path.write_text("\n".join(lines) + "\n")
    message = _error(path)
    assert "column 'day' twice" in message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("day", "two weeks", "day 'two weeks' is not a whole number"),
        ("day", "14.5", "day '14.5' is not a whole number"),
        ("outcome", "cured", "outcome 'cured' is not one of"),
        ("tissue", "marrow", "tissue 'marrow' is not one of"),
        ("sample_id", "P01 D14", "sample_id 'P01 D14' may contain only"),
        ("patient_id", "P/01", "patient_id 'P/01' may contain only"),
        ("timepoint", "", "column 'timepoint' is empty"),
        ("gex", "missing/matrix.h5", "does not exist"),
        ("bcr", "missing/airr.tsv", "does not exist"),
    ],
)
def test_bad_value_names_line_column_and_value(cohort, column, value, expected):
    table = _sheet(cohort)
    table.loc[1, column] = value
    message = _error(_write(cohort, table))
    assert expected in message
    assert "line 3" in message


def test_duplicate_sample_id(cohort):
    table = _sheet(cohort)
    table.loc[4, K.SAMPLE] = table.loc[1, K.SAMPLE]
    message = _error(_write(cohort, table))
    assert "line 6" in message
    assert "already used on line 3" in message


def test_patient_with_two_outcomes(cohort):
    table = _sheet(cohort)
    first = table.index[table[K.PATIENT] == table.loc[0, K.PATIENT]]
    table.loc[first[-1], K.OUTCOME] = (
        "relapse" if table.loc[0, K.OUTCOME] == "remission" else "remission"
    )
    message = _error(_write(cohort, table))
    assert f"patient '{table.loc[0, K.PATIENT]}'" in message
    assert "one outcome" in message


def test_gex_that_is_not_hdf5(cohort):
    table = _sheet(cohort)
    fake = cohort / "fake.h5"
    fake.write_text("not a matrix")
    table.loc[0, "gex"] = "fake.h5"
    assert "is not an HDF5 file" in _error(_write(cohort, table))


def test_gex_directory_without_matrix(cohort):
    table = _sheet(cohort)
    (cohort / "empty_dir").mkdir()
    table.loc[0, "gex"] = "empty_dir"
    assert "holds no matrix.mtx" in _error(_write(cohort, table))


def test_receptor_file_of_unknown_type(cohort):
    table = _sheet(cohort)
    (cohort / "contigs.xlsx").write_text("x")
    table.loc[0, "tcr"] = "contigs.xlsx"
    assert "not of a supported type" in _error(_write(cohort, table))


def test_empty_receptor_file(cohort):
    table = _sheet(cohort)
    (cohort / "empty.csv").write_text("")
    table.loc[0, "tcr"] = "empty.csv"
    assert "is empty" in _error(_write(cohort, table))


def test_unreadable_file(cohort, monkeypatch):
    table = _sheet(cohort)
    unreadable = str(cohort / table.loc[0, "tcr"])
    real_access = os.access
    monkeypatch.setattr(
        "repertoire.io._samplesheet.os.access",
        lambda path, mode: str(path) != unreadable and real_access(path, mode),
    )
    assert "permission denied" in _error(_write(cohort, table))


def test_optional_receptor_columns_may_be_empty_or_absent(cohort):
    table = _sheet(cohort)
    table.loc[0, "bcr"] = ""
    sheet = rp.io.read_samplesheet(_write(cohort, table.drop(columns=["tcr", "spatial"])))
    assert sheet["bcr"].iloc[0] is None
    assert sheet["tcr"].isna().all()
