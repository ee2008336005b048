"""The cart_reconstitution Snakemake workflow: schemas, lint, report captions, the SLURM
profile, and a run end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import anndata as ad
import jinja2
import numpy as np
import pandas as pd
import pytest
import yaml
from docutils.core import publish_parts
from jsonschema import Draft202012Validator

import repertoire
from repertoire import _keys as K
from repertoire.cli import (
    FIGURE_FORMATS,
    INTERACTION_FIGURES,
    NICHE_FIGURES,
    PATIENT_FIGURES,
    SPATIAL_FIGURES,
    STEPS,
    build_parser,
)
from repertoire.io._samplesheet import (
    IDENTIFIER,
    IDENTIFIER_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    TISSUES,
)

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows" / "cart_reconstitution"
SNAKEFILE = WORKFLOW / "workflow" / "Snakefile"
SCHEMAS = WORKFLOW / "workflow" / "schemas"
CAPTIONS = WORKFLOW / "workflow" / "report"
SLURM_PROFILE = WORKFLOW / "workflow" / "profiles" / "slurm"
BUNDLED_CONFIG = WORKFLOW / "config" / "config.yaml"
EXAMPLE_SHEET = ROOT / "example_data" / "samples.tsv"
# The lints left on purpose, by title, each with the words that the comment answering it starts
# with; that comment must stand in every rule the lint names. Any other lint fails the test.
ACCEPTED_LINTS = {
    # Every rule runs `repertoire` with the interpreter Snakemake runs under, which has the
    # package and its pinned dependencies installed (the Snakefile's docstring says why): a
    # conda environment or container per rule would only install the same package again.
    "Specify a conda environment or container for each rule.":
        '# lint "Specify a conda environment or container"',
}
# the steps whose figures the workflow writes, and its folders of one figure per item
FIGURE_STEPS = ("merge", "preprocess", "annotate", "bcr", "niches")
FIGURE_FOLDERS = (PATIENT_FIGURES, NICHE_FIGURES, INTERACTION_FIGURES, SPATIAL_FIGURES)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _snakemake(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def _write_config(path: Path, sheet: Path, **sections: object) -> Path:
    path.write_text(yaml.safe_dump({"samples": str(sheet), "outdir": "results", **sections}))
    return path


# schemas and configuration -------------------------------------------------------------------


def test_samples_schema_agrees_with_the_reader() -> None:
    schema = _load(SCHEMAS / "samples.schema.yaml")
    properties = schema["properties"]
    assert schema["required"] == list(REQUIRED_COLUMNS)
    assert properties[K.OUTCOME]["enum"] == list(K.OUTCOMES)
    assert properties[K.TISSUE]["enum"] == list(TISSUES)
    assert properties[K.DAY]["type"] == "integer"
    for column in IDENTIFIER_COLUMNS:
        assert properties[column]["pattern"] == IDENTIFIER.pattern
    assert set(properties) == {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}


# the subcommands that each config section's keys are options of, with their required arguments
SECTIONS = {
    "qc": {"qc": ["--samplesheet", "s.tsv", "--sample", "s", "--output", "o.h5ad"],
           "merge": ["--output", "o.h5ad", "in.h5ad"]},
    "preprocess": {"preprocess": ["in.h5ad", "out.h5ad"]},
    "annotate": {"annotate": ["in.h5ad", "out.h5ad"]},
    "bcr": {"bcr": ["in.h5ad", "out.h5ad"]},
    "communication": {"communication": ["in.h5ad", "--sample", "s", "--output", "o.h5ad"]},
    "niches": {"niches": ["in.h5ad", "c.h5ad", "--output", "o.h5ad"]},
    "report": {"report": ["in.h5ad", "--output", "o.html"]},
}


def test_config_schema_agrees_with_the_cli() -> None:
    schema = _load(SCHEMAS / "config.schema.yaml")["properties"]
    config = _load(BUNDLED_CONFIG)
    parser = build_parser()
    assert set(SECTIONS) == set(schema) - {"samples", "outdir", "figure_format"}
    for section, commands in SECTIONS.items():
        defaults = {}
        for command, required in commands.items():
            defaults.update(vars(parser.parse_args([command, *required])))
        options = schema[section]["properties"]
        for option, spec in options.items():
            if (section, option) == ("report", "flags"):  # --flag NAME=VALUE, repeated
                assert set(spec["properties"]) == set(repertoire.report.FLAG_THRESHOLDS)
                assert spec["default"] == {}
                assert defaults["flag"] == []
                continue
            assert spec["default"] == defaults[option], f"{section}.{option}"
        # the bundled config spells out every option (the example asks for two resolutions)
        assert set(config[section]) == set(options), section
    assert schema["figure_format"]["enum"] == list(FIGURE_FORMATS)
    figure_format = vars(parser.parse_args(["preprocess", "in.h5ad", "out.h5ad"]))
    assert schema["figure_format"]["default"] == figure_format["figure_format"]
    assert config["figure_format"] == schema["figure_format"]["default"]


def test_bundled_config_is_valid_and_uses_the_example_cohort() -> None:
    config = _load(BUNDLED_CONFIG)
    Draft202012Validator(_load(SCHEMAS / "config.schema.yaml")).validate(config)
    assert config["samples"] == "example_data/samples.tsv"
    assert config["outdir"] == "results"


# lint, report captions, bad configs and the cluster profile: seconds each -------------------


def _lints(output: str) -> list[tuple[str, str | None, Path, int | None]]:
    """(title, rule or None, file, line) of every lint in the output of `snakemake --lint`."""
    header = re.compile(r"^Lints for (?:rule (\w+) \(line (\d+), (.+)\)|snakefile (.+)):$")
    lints, where = [], None
    for line in output.splitlines():
        if match := header.match(line):
            rule, lineno, snakefile, other = match.groups()
            where = (rule, Path(snakefile or other), int(lineno) if lineno else None)
        elif (item := re.match(r"^    \* (.+):$", line)) and where is not None:
            lints.append((item[1], *where))
    return lints


def _rule_source(snakefile: Path, lineno: int) -> str:
    """The lines of the rule that starts at ``lineno``, up to the next rule."""
    lines = snakefile.read_text().splitlines()[lineno - 1:]
    end = next((i for i, line in enumerate(lines[1:], 1) if line.startswith("rule ")), None)
    return "\n".join(lines[:end])


def test_lint_leaves_only_answered_lints(tmp_path: Path) -> None:
    # the workflow as shipped: its Snakefile and its config, on the example cohort
    result = _snakemake("--lint", "--config", f"samples={EXAMPLE_SHEET}", "-d", tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "Error" not in output, output[-3000:]
    lints = _lints(output)
    # `--lint` exits 1 when it has something to say: then it must have said it as lints
    assert (result.returncode == 0) == (not lints), output[-3000:]
    for title, rule, snakefile, lineno in lints:
        assert title in ACCEPTED_LINTS, f"new lint on {rule or snakefile}: {title}"
        assert rule is not None, f"lint on the Snakefile {snakefile}: {title}"
        assert ACCEPTED_LINTS[title] in _rule_source(snakefile, lineno), (
            f"rule {rule} ({snakefile.name}) does not answer the lint '{title}' in a comment")


def test_every_figure_has_a_report_caption() -> None:
    # captions render as Snakemake renders them (Jinja, then reStructuredText); any warning of
    # docutils fails, so a broken caption is found here rather than by `snakemake --report`
    names = [name for step in FIGURE_STEPS for name in STEPS[step].figures]
    assert sorted(p.stem for p in CAPTIONS.glob("*.rst")) == sorted(
        [*names, *FIGURE_FOLDERS, "workflow"])
    config = _load(BUNDLED_CONFIG)
    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(
        patient="P01", niche="T_B_help", sample="P01_baseline_BM"))
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    for caption in CAPTIONS.glob("*.rst"):
        text = env.from_string(caption.read_text()).render(snakemake=snakemake)
        assert "{{" not in text, caption.name
        publish_parts(text, writer="html",
                      settings_overrides={"halt_level": 2, "report_level": 5})


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"bcr": {"n_boot": -1}}, "config key 'bcr.n_boot': -1 is less than the minimum of 1."),
        ({"bcr": {"n_boot": "many"}}, "config key 'bcr.n_boot': 'many' is not of type 'integer'."),
        ({"bcr": {"nboot": 10}},
         "config key 'bcr.nboot' is unknown; 'bcr' takes naive_max_shm, memory_min_shm, "
         "bcr_cutoff, aplasia_below, reference_timepoint, n_boot, seed."),
        ({"figure_format": "jpeg"},
         "config key 'figure_format': 'jpeg' is not one of ['png', 'pdf', 'svg']."),
        ({"out_dir": "elsewhere"}, "config key 'out_dir' is unknown; the config takes "),
    ],
    ids=["minimum", "type", "unknown-key", "allowed-values", "unknown-top-level-key"],
)
def test_a_bad_config_stops_with_one_line(tmp_path: Path, section: dict, error: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"samples": str(EXAMPLE_SHEET), **section}))
    result = _snakemake("-n", "--configfile", config, "-d", tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Failed validating" not in result.stderr  # no schema dump
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {error}"), result.stderr


@pytest.mark.parametrize(("section", "key", "content", "error"), [
    ("annotate", "markers", "B:\n  lineage: B\n  positive: []\n", "markers.yaml"),
    ("niches", "niches", "../x:\n  senders: [Tfh]\n  receivers: [B_naive]\n"
     "  interactions: [[CD40LG, CD40]]\n", "niche name '../x'"),
    ("communication", "resource", "ligand\treceptor\nCD40LG\n", "resource.tsv"),
], ids=["marker panel", "niche", "interaction table"])
def test_a_bad_user_file_stops_before_the_first_job(tmp_path: Path, section: str, key: str,
                                                    content: str, error: str) -> None:
    name = {"markers": "markers.yaml", "niches": "niches.yaml", "resource": "resource.tsv"}[key]
    (tmp_path / name).write_text(content)
    config = _write_config(tmp_path / "config.yaml", EXAMPLE_SHEET,
                           **{section: {key: str(tmp_path / name)}})
    result = _snakemake("-n", "--configfile", config, "-d", tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: config key '{section}.{key}': ")
    assert error in errors[0]


def test_every_config_section_forbids_unknown_keys() -> None:
    schema = _load(SCHEMAS / "config.schema.yaml")
    assert schema["additionalProperties"] is False
    for name, spec in schema["properties"].items():
        if spec.get("type") == "object":
            assert spec["additionalProperties"] is False, name


def test_slurm_profile_plans_the_example_cohort(tmp_path: Path) -> None:
    # the README's cluster command as a dry run: it plans every job and submits none, so it
    # needs the executor plugin but no cluster
    profile = _load(SLURM_PROFILE / "config.yaml")
    assert profile["executor"] == "slurm"
    result = _snakemake("-n", "--profile", SLURM_PROFILE, "-d", tmp_path,
                        "--config", f"samples={EXAMPLE_SHEET}")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert f"Using profiles {SLURM_PROFILE}" in output
    n_patients = repertoire.io.read_samplesheet(EXAMPLE_SHEET)[K.PATIENT].nunique()
    # per-sample work runs one job per patient
    assert re.search(rf"^qc\s+{n_patients}$", output, re.MULTILINE), output[-3000:]
    assert re.search(rf"^communication\s+{n_patients}$", output, re.MULTILINE)
    # the jobs carry the resources a SLURM submission asks for: the rules' own memory and
    # time, and the profile's partition
    resources = re.findall(r"^\s+resources: (.+)$", output, re.MULTILINE)
    assert resources
    for line in resources:
        if "mem_mb=" in line:  # every job but the target rule `all`
            assert "runtime=" in line, line
            assert "slurm_partition=" in line, line
    # a QC job asks for memory by the size of its patient's files: 2000 MB + 10 per MB
    qc_jobs = re.findall(
        r"^rule qc:\n\s+input: (.+)\n(?:\s+\w+: .+\n)*?\s+resources: .*mem_mb=(\d+)",
        output, re.MULTILINE)
    assert len(qc_jobs) == n_patients
    for files, mem_mb in qc_jobs:
        size_mb = sum(Path(f).stat().st_size for f in files.split(", ")) / 2**20
        assert abs(int(mem_mb) - (2000 + 10 * size_mb)) <= 1, (files[:80], mem_mb)


def test_bundled_config_plans_the_example_cohort(tmp_path: Path) -> None:
    # the README's command, planned from a scratch directory (--config points at the example)
    result = _snakemake("-n", "--cores", 2, "-d", tmp_path, "--config", f"samples={EXAMPLE_SHEET}")
    assert result.returncode == 0, result.stderr
    n_patients = repertoire.io.read_samplesheet(EXAMPLE_SHEET)[K.PATIENT].nunique()
    assert n_patients == 11
    assert re.search(rf"^qc\s+{n_patients}$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(rf"^patient_report\s+{n_patients}$", result.stdout, re.MULTILINE)
    assert re.search(r"^cohort_report\s+1$", result.stdout, re.MULTILINE)


# running the workflow ------------------------------------------------------------------------


# a library that failed: none of its cells passes QC, and the sample must flow through every
# step to the reports as a sample without cells
FAILED_LIBRARY = "P01_D28_PB"


def _fail_library(adata: ad.AnnData, sample: str, *, keep: float = 0.02) -> None:
    """Keep each count of ``sample``'s cells with probability ``keep``, as in a failed library."""
    counts = adata.layers["counts"].tocsr()
    rows = np.flatnonzero((adata.obs[K.SAMPLE] == sample).to_numpy())
    start, stop = counts.indptr[rows[0]], counts.indptr[rows[-1] + 1]
    assert np.all(np.diff(rows) == 1), "a sample's cells are contiguous"
    counts.data[start:stop] = np.random.default_rng(0).binomial(
        counts.data[start:stop].astype(np.int64), keep)
    counts.eliminate_zeros()
    adata.layers["counts"] = counts


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated patients (one relapse), three samples each as Cell Ranger files, and for
    the first a fourth, ``FAILED_LIBRARY``."""
    directory = tmp_path_factory.mktemp("cohort")
    adata = repertoire.datasets.simulate_cohort(
        n_patients=2, n_relapse=1, cells_per_sample=150, seed=0
    )
    _fail_library(adata, FAILED_LIBRARY)
    repertoire.datasets.write_cellranger(adata, directory)
    sheet = pd.read_csv(directory / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    kept = sheet.groupby(K.PATIENT, sort=False).head(3).index.union(
        sheet.index[sheet[K.SAMPLE] == FAILED_LIBRARY])
    sheet.loc[kept].to_csv(directory / "samples.tsv", sep="\t", index=False)
    return directory / "samples.tsv"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory: pytest.TempPathFactory, cohort: Path) -> tuple[Path, Path]:
    """The whole workflow run once on ``cohort``: its config and its run directory."""
    tmp_path = tmp_path_factory.mktemp("workflow")
    config = _write_config(
        tmp_path / "config.yaml", cohort,
        preprocess={"n_top_genes": 500, "n_comps": 10, "resolutions": [0.5, 1.0]},
    )
    run = tmp_path / "run"
    start = time.perf_counter()
    result = _snakemake("--configfile", config, "--cores", 2, "-d", run, timeout=1800)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-5000:]
    print(f"workflow end to end: {elapsed:.0f} s")
    return config, run


# the one full run of the default suite (about 4 minutes): CI proves the workflow and its pages
@pytest.mark.xdist_group("workflow")
def test_workflow_end_to_end(workflow_run: tuple[Path, Path], cohort: Path) -> None:
    config, run = workflow_run
    results = run / "results"
    samples = pd.read_csv(cohort, sep="\t")[K.SAMPLE].tolist()
    adata = ad.read_h5ad(results / "cohort_clustered.h5ad")
    assert set(adata.obs[K.SAMPLE]) <= set(samples)
    for key in adata.uns[K.LEIDEN]["params"]["keys"]:
        assert adata.obs[key].notna().all()
    assert len(adata.uns[K.LEIDEN]["params"]["keys"]) == 2
    assert {K.LOW_QUALITY, K.DOUBLET, K.DOUBLET_SCORE} <= set(adata.obs.columns)
    assert not adata.obs[K.LOW_QUALITY].any()
    summary = pd.read_csv(results / "tables" / "qc_summary.tsv", sep="\t")
    assert sorted(summary[K.SAMPLE]) == sorted(samples)
    failed = summary.set_index(K.SAMPLE).loc[FAILED_LIBRARY]
    assert failed["n_cells"] > 100
    assert failed["n_low_quality"] == failed["n_cells"]
    assert failed[K.PATIENT] == "P01"
    assert FAILED_LIBRARY not in set(adata.obs[K.SAMPLE])
    with_cells = set(samples) - {FAILED_LIBRARY}
    clusters = pd.read_csv(results / "tables" / "clusters_by_sample.tsv", sep="\t")
    assert clusters["n_cells"].sum() == 2 * adata.n_obs
    for step in ("merge", "preprocess", "annotate", "bcr", "niches"):
        for name in STEPS[step].tables:
            assert (results / "tables" / f"{name}.tsv").exists(), name
        for name in STEPS[step].figures:
            assert (results / "figures" / f"{name}.png").stat().st_size > 0, name
    annotated = ad.read_h5ad(results / "cohort_annotated.h5ad")
    assert annotated.obs[K.LINEAGE].notna().all()
    assert K.CAR_DETECTED in annotated.obs
    for table in STEPS["annotate"].tables:
        assert len(pd.read_csv(results / "tables" / f"{table}.tsv", sep="\t")) > 0, table
    final = ad.read_h5ad(results / "cohort.h5ad")
    assert final.n_obs == adata.n_obs
    assert {K.BCR_STATE, K.CLONE, K.PREEXISTING} <= set(final.obs.columns)
    for key in (K.COMMUNICATION, K.NICHE_SCORES, K.PROGRAMMES, K.SPATIAL_NICHES,
                K.NICHE_OUTCOMES):
        assert K.PARAMS in final.uns[key], key
    scores = pd.read_csv(results / "tables" / "niche_scores.tsv", sep="\t")
    # every sample holds every niche its tissue allows, aplastic ones included (score 0)
    assert set(scores[K.SAMPLE]) == with_cells
    assert scores["score"].notna().all()
    interactions = pd.read_csv(results / "tables" / "communication.tsv", sep="\t")
    assert set(interactions[K.SAMPLE]) <= with_cells
    assert f"sample {FAILED_LIBRARY}: no cell passed QC" in (
        results / "logs" / "communication" / "P01.log").read_text()
    assert len(list((results / "figures" / NICHE_FIGURES).glob("*.png"))) == scores[
        "niche"].nunique()
    reconstitution = pd.read_csv(results / "tables" / "reconstitution.tsv", sep="\t")
    assert sorted(reconstitution[K.SAMPLE]) == sorted(set(adata.obs[K.SAMPLE]))
    assert reconstitution.loc[reconstitution["n_B"] == 0, "aplasia"].all()
    assert len(list((results / "figures" / PATIENT_FIGURES).glob("*.png"))) == 2
    patients = sorted(set(adata.obs[K.PATIENT]))
    for log in ("merge.log", "preprocess.log", "annotate.log", "bcr.log", "niches.log",
                f"qc/{patients[0]}.log", f"communication/{patients[0]}.log"):
        assert (results / "logs" / log).exists()

    reports = results / "reports"
    assert sorted(p.name for p in reports.glob("*.html")) == sorted(
        [f"{p}.html" for p in patients] + ["cohort.html"])
    for patient in patients:
        summary = pd.read_csv(reports / f"{patient}.summary.tsv", sep="\t")
        assert set(summary[K.PATIENT]) == {patient}
        assert set(summary[K.SAMPLE].dropna()) == {
            s for s in samples if s.startswith(f"{patient}_")}
        assert (results / "logs" / "report" / f"{patient}.log").exists()
    # the failed library is listed with no cells, and said to be left out, on both pages
    kept = pd.read_csv(reports / "P01.summary.tsv", sep="\t").query("metric == 'cells_kept'")
    assert kept.set_index(K.SAMPLE).loc[FAILED_LIBRARY, "value"] == 0
    for page in ("P01.html", "cohort.html"):
        text = (reports / page).read_text()
        assert FAILED_LIBRARY in text, page
        assert "left out of every measure" in text, page
    flags = pd.read_csv(reports / "flags.tsv", sep="\t")
    assert set(flags[K.PATIENT]) <= set(patients)
    for step in ("qc", "communication"):
        assert (results / "benchmarks" / step / f"{patients[0]}.tsv").exists(), step
    for step in ("merge", "preprocess", "annotate", "bcr", "niches"):
        assert (results / "benchmarks" / f"{step}.tsv").exists(), step

    again = _snakemake("--configfile", config, "--cores", 2, "-d", run, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr

    # the report of the run: every figure, the folders' figures one by one, with captions
    report = run / "report.zip"
    made = _snakemake("--configfile", config, "-d", run, "--report", report)
    assert made.returncode == 0, made.stderr[-5000:]
    with zipfile.ZipFile(report) as archive:
        names = archive.namelist()
        page = next(archive.read(n).decode() for n in names if n.endswith("report.html"))
    figures = {Path(name).name for name in names if "/data/raw/" in name}
    for step in FIGURE_STEPS:
        assert {f"{name}.png" for name in STEPS[step].figures} <= figures, step
    for folder in (PATIENT_FIGURES, NICHE_FIGURES):
        assert {p.name for p in (results / "figures" / folder).glob("*.png")} <= figures
    for category in ("Quality control", "Cells", "B-cell reconstitution", "Niches"):
        assert category in page, category


@pytest.mark.xdist_group("workflow")
def test_every_report_opens_cleanly_in_a_browser(workflow_run: tuple[Path, Path], browser,
                                                 test_output: Path) -> None:
    _, run = workflow_run
    pages = sorted((run / "results" / "reports").glob("*.html"))
    assert len(pages) == 3  # two patients and the cohort
    shots = test_output / "screenshots"
    for page in pages:
        seen = browser(page, shots / f"{page.stem}.png")
        assert seen.console_errors == [], page.name
        assert seen.failed_requests == [], page.name
        assert seen.broken_images == [], page.name
        assert seen.n_images >= 3, page.name
        print(f"{page.name}: {page.stat().st_size / 1024:.0f} kB, {seen.n_images} figures, "
              f"screenshot {seen.screenshot}")


# interrupted and repeated runs -----------------------------------------------------------------

# the one line of a page that differs between two runs of the same inputs
STAMP = re.compile(r'<p class="stamp">Generated [^<]*</p>')


def _job_counts(output: str) -> dict[str, int]:
    """The rules and job counts of Snakemake's "Job stats" table in ``output``."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)
            if rule not in ("job", "total")}


def _assert_same_anndata(left: ad.AnnData, right: ad.AnnData, where: str) -> None:
    pd.testing.assert_frame_equal(left.obs, right.obs, obj=f"{where} obs")
    pd.testing.assert_frame_equal(left.var, right.var, obj=f"{where} var")
    _assert_same_values(left.X, right.X, f"{where} X")
    for name in ("layers", "obsm", "obsp"):
        mapping, other = getattr(left, name), getattr(right, name)
        assert set(mapping) == set(other), (where, name)
        for key in mapping:
            _assert_same_values(mapping[key], other[key], f"{where} {name}[{key}]")
    _assert_same_record(left.uns, right.uns, f"{where} uns")


def _assert_same_values(left: object, right: object, where: str) -> None:
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right, obj=where)
    elif hasattr(left, "nnz"):
        assert (left != right).nnz == 0, where
    elif hasattr(left, "fields"):  # awkward records of the receptor chains
        assert left.to_list() == right.to_list(), where
    else:
        np.testing.assert_array_equal(left, right, err_msg=where)


def _assert_same_record(left: object, right: object, where: str) -> None:
    if isinstance(left, dict):
        assert isinstance(right, dict), where
        assert set(left) == set(right), where
        for key in left:
            _assert_same_record(left[key], right[key], f"{where}[{key}]")
    elif isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right, obj=where)
    else:
        np.testing.assert_array_equal(left, right, err_msg=where)


def _stop_while_computing(config: Path, run: Path, signum: signal.Signals) -> None:
    """Start the workflow and send ``signum`` to it and its jobs while the cohort step computes.

    The signal goes to Snakemake's process group, as Ctrl-C or a scheduler's time limit sends
    it. Not while the step starts up: Python may swallow an interrupt raised inside a weakref
    callback, as the imports run many, and the step would run on to its end. After integration
    the step spends seconds on the graph and the embedding, the window the signal lands in.
    Assert the step said why it stopped and left no output and no temporary file.
    """
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile",
               str(config), "--cores", "2", "-d", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    log = run / "results" / "logs" / "preprocess.log"
    deadline = time.monotonic() + 600
    while (process.poll() is None and time.monotonic() < deadline
           and "Harmony on" not in (log.read_text() if log.exists() else "")):
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before the cohort step was computing"
    os.killpg(process.pid, signum)
    assert process.wait(timeout=300) != 0
    last_line = log.read_text().strip().splitlines()[-1]
    assert last_line.startswith(f"error: step 'preprocess' was stopped by {signum.name}"), last_line
    assert not (run / "results" / "cohort_clustered.h5ad").exists()
    # the atomic writers' temporaries are named ".<output>.<random>.tmp<suffix>"
    assert not [path for path in (run / "results").rglob("*") if ".tmp" in path.name]


@pytest.mark.xdist_group("workflow")
def test_a_run_stopped_by_a_scheduler_leaves_no_unfinished_file(
    workflow_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _stop_while_computing(workflow_run[0], tmp_path / "run", signal.SIGTERM)


@pytest.mark.xdist_group("workflow")
def test_a_killed_run_resumes_and_equals_an_uninterrupted_one(
    workflow_run: tuple[Path, Path], tmp_path: Path
) -> None:
    config, uninterrupted = workflow_run
    run = tmp_path / "run"
    _stop_while_computing(config, run, signal.SIGINT)

    resumed = _snakemake("--configfile", config, "--cores", 2, "-d", run, timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    jobs = _job_counts(resumed.stdout + resumed.stderr)
    # what finished before the signal stands; the interrupted step and all after it run
    assert {"qc", "merge"}.isdisjoint(jobs), jobs
    assert (jobs["preprocess"], jobs["cohort_report"]) == (1, 1), jobs

    # and the outputs are those of the run that was never stopped, byte for byte
    compared = _assert_same_results(uninterrupted / "results", run / "results")
    assert compared["reports"] == 6  # two pages and their summaries, the cohort page, flags


# the example cohort's workflow runs twice: about 7 minutes
@pytest.mark.slow
@pytest.mark.xdist_group("example_runs")
def test_two_runs_on_the_example_cohort_are_identical(tmp_path: Path) -> None:
    runs = [tmp_path / "first", tmp_path / "second"]
    for run in runs:
        result = _snakemake("--configfile", BUNDLED_CONFIG, "--config",
                            f"samples={EXAMPLE_SHEET}", "--cores", 2, "-d", run, timeout=2400)
        assert result.returncode == 0, result.stderr[-5000:]
    compared = _assert_same_results(*(run / "results" for run in runs))
    patients = pd.read_csv(EXAMPLE_SHEET, sep="\t")[K.PATIENT].nunique()
    assert compared["reports"] == 2 * patients + 2
    print(f"identical: {compared}")


def _assert_same_results(first: Path, second: Path) -> dict[str, int]:
    """Assert two runs' results are the same; return how many files of each kind compared.

    Tables and figures byte for byte, pages but for their one "Generated" stamp, and every
    ``.h5ad`` (the per-patient ones too) in ``.obs``, ``.var``, ``X``, layers, ``obsm``,
    ``obsp`` and ``uns``.
    """
    def files(pattern: str) -> list[Path]:
        found = [sorted(p.relative_to(root) for p in root.glob(pattern))
                 for root in (first, second)]
        assert found[0] == found[1], pattern
        return found[0]

    compared = {}
    for kind, pattern in (("tables", "tables/*.tsv"), ("figures", "figures/**/*.png")):
        paths = files(pattern)
        assert paths, kind
        for path in paths:
            assert (first / path).read_bytes() == (second / path).read_bytes(), path
        compared[kind] = len(paths)
    pages = files("reports/*")
    for path in pages:
        texts = [STAMP.sub("", (root / path).read_text()) for root in (first, second)]
        assert texts[0] == texts[1], path
    compared["reports"] = len(pages)
    names = files("**/*.h5ad")
    for name in names:
        _assert_same_anndata(ad.read_h5ad(first / name), ad.read_h5ad(second / name), str(name))
    compared["h5ad"] = len(names)
    return compared


def test_workflow_stops_on_a_bad_sheet_with_one_sentence(tmp_path: Path, cohort: Path) -> None:
    sheet = pd.read_csv(cohort, sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[1, K.TISSUE] = "liver"
    bad = cohort.parent / "bad_tissue.tsv"
    sheet.to_csv(bad, sep="\t", index=False)
    result = _snakemake("-n", "--configfile", _write_config(tmp_path / "c.yaml", bad),
                        "-d", tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert f"sample sheet {bad} line 3" in errors[0]
    assert "tissue 'liver'" in errors[0]


def test_a_failed_step_shows_its_error(tmp_path: Path, cohort: Path) -> None:
    # the sheet is valid; only reading the sample finds the receptor file's columns wrong
    receptors = tmp_path / "bcr.csv"
    receptors.write_text("cell,locus\nAAAC-1,IGH\n")
    sheet = repertoire.io.read_samplesheet(cohort).head(1).fillna("")
    sheet["bcr"] = str(receptors)
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    config = _write_config(tmp_path / "c.yaml", tmp_path / "samples.tsv")
    run = tmp_path / "run"
    result = _snakemake("--configfile", config, "--cores", 1, "-d", run)
    assert result.returncode != 0
    assert f"error: receptor file {receptors} has no column 'barcode'." in result.stderr
    assert not list((run / "results" / "qc").glob("*.h5ad"))
