"""Configuration, the sample sheet, path helpers and report entries shared by every rule."""

import re
import shlex
import sys
from pathlib import Path

from jsonschema.exceptions import ValidationError
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def schema_problem(error, what):
    """One sentence for a schema violation: the key, its value and what the schema allows.

    ``what`` names the document (``config key``, or the sample sheet and sample) before the key.
    """
    path = list(error.absolute_path)

    def key(parts):
        text = ""
        for part in parts:
            text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
        return text

    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        unknown = [name for name in error.instance if name not in allowed]
        within = f"'{key(path)}'" if path else "the config"
        return (f"{what} '{key([*path, unknown[0]])}' is unknown; {within} takes "
                f"{', '.join(allowed)}")
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"{what} '{key([*path, missing[0]])}' is missing"
    if not path:
        return error.message
    return f"{what} '{key(path)}': {error.message}"


def validated(data, schema, what, **kwargs):
    """Snakemake's validate(), stopping with one line instead of the schema's dump.

    The schema path is relative to this file, as for validate(). ``what`` gives the words before
    the failing key from the position of the failing row of a data frame (None for a config).
    """
    try:
        validate(data, schema, **kwargs)
    except WorkflowError as error:
        cause = error.__context__
        if not isinstance(cause, ValidationError):
            raise
        row = re.search(r"Error validating row (\d+)", str(error))
        sys.exit(f"error: {schema_problem(cause, what(int(row[1]) if row else None))}.")
    return data


# the config is checked before repertoire (and scanpy with it) is imported: a mistake in it is
# reported at once
validated(config, "../schemas/config.schema.yaml", lambda row: "config key")

from repertoire import InputError
from repertoire.cli import (
    INTERACTION_FIGURES,
    NICHE_FIGURES,
    PATIENT_FIGURES,
    SPATIAL_FIGURES,
    STEPS,
)
from repertoire.io import FILE_COLUMNS, read_samplesheet


def load_samples(path):
    """Read the sample sheet: repertoire's checks (one sentence per problem), then the schema.

    A bad sheet stops the workflow with the same one line as `repertoire validate`.
    """
    try:
        sheet = read_samplesheet(path)
    except InputError as error:
        sys.exit(f"error: {error}")
    return validated(
        sheet, "../schemas/samples.schema.yaml",
        lambda row: f"sample sheet {path}"
        + ("" if row is None else f" (sample '{sheet.index[row]}')") + ": column",
        set_default=False,
    )


SAMPLES = load_samples(config["samples"])


def check_user_files():
    """Load the marker, niche and interaction files the config names, as the steps will.

    A bad row stops the workflow before its first job, with the step's one sentence.
    """
    from repertoire.resources import interactions, marker_panels, niches

    for section, key, load in (("annotate", "markers", marker_panels),
                               ("niches", "niches", niches),
                               ("communication", "resource", interactions)):
        value = config[section][key]
        if value and not str(value).startswith("liana:"):
            try:
                load(value)
            except InputError as error:
                sys.exit(f"error: config key '{section}.{key}': {error}")


check_user_files()


PATIENTS = sorted(SAMPLES["patient_id"].unique())


wildcard_constraints:
    # patient ids are identifiers (checked by the sample sheet reader), so they name files
    patient="|".join(re.escape(p) for p in PATIENTS),


def result(path):
    """A path under the configured output directory."""
    return str(Path(config["outdir"], path))


def patient_rows(wildcards):
    """The sample sheet's rows of one patient."""
    return SAMPLES[SAMPLES["patient_id"] == wildcards.patient]


def patient_samples(wildcards):
    """The patient's sample ids, quoted for the shell."""
    return shlex.join(patient_rows(wildcards).index)


def patient_files(wildcards):
    """The data files of one patient's samples, so that a changed file reruns its QC."""
    rows = patient_rows(wildcards)
    return [value for column in FILE_COLUMNS if column in rows
            for value in rows[column] if isinstance(value, str)]


def patient_metadata(wildcards):
    """The patient's sheet rows without their files: a changed row reruns the patient's QC
    (a params trigger)."""
    rows = patient_rows(wildcards).drop(columns=list(FILE_COLUMNS), errors="ignore")
    return " | ".join(
        f"{sample}: " + "; ".join(f"{key}={value}" for key, value in row.items())
        for sample, row in rows.iterrows()
    )


# minutes of run time per MB of a job's input, on top of its base: measured on the cohort steps
# (preprocessing 100,000 cells, a 360 MB cohort, took 8 minutes on one core), with room to spare
RUNTIME_PER_MB = 0.06


def scaled(base, *, per_mb):
    """A resource (MB of memory, minutes of run time) that grows with the job's input.

    base + per_mb for each MB of the job's input files, times the attempt: a retried job asks
    for more.
    """
    return lambda wildcards, input, attempt: int(attempt * (base + per_mb * input.size_mb))


def python():
    """The interpreter Snakemake runs under: it has `repertoire` installed, whatever PATH says."""
    return sys.executable


def step_tables(step):
    """The tables a step of the `repertoire` command writes (the names are the command's)."""
    return expand(result("tables/{name}.tsv"), name=STEPS[step].tables)


# Where each figure stands in `snakemake --report`: category, subcategory and its label there.
# Its caption is report/<name>.rst. The folders of one figure per patient, niche or marrow
# section are keyed by folder name, labelled by what each figure is of.
REPORT_PLACES = {
    "qc": ("1. Quality control", "Samples", "quality metrics and thresholds"),
    "umap_clusters": ("2. Cells", "Clusters", "Leiden clusters"),
    "umap_samples": ("2. Cells", "Clusters", "patient, tissue and timepoint"),
    "cell_types": ("2. Cells", "Cell types", "lineage and cell type"),
    "markers": ("2. Cells", "Cell types", "marker genes"),
    "composition": ("2. Cells", "Cell types", "composition per sample"),
    "isotypes": ("3. B-cell reconstitution", "Repertoire", "isotypes"),
    "shm": ("3. B-cell reconstitution", "Repertoire", "somatic hypermutation"),
    "clone_tracking": ("3. B-cell reconstitution", "Repertoire", "baseline clones"),
    "diversity": ("3. B-cell reconstitution", "Repertoire", "diversity"),
    "reconstitution_cohort": ("3. B-cell reconstitution", "Cohort", "naive B cells by outcome"),
    PATIENT_FIGURES: ("3. B-cell reconstitution", "Patients", "patient"),
    "niche_heatmap": ("4. Niches", "Cohort", "niche scores per sample"),
    NICHE_FIGURES: ("4. Niches", "Relapse against remission", "niche"),
    INTERACTION_FIGURES: ("4. Niches", "Ligand-receptor pairs", "niche"),
    SPATIAL_FIGURES: ("5. Spatial niches", "Marrow sections", "sample"),
}


def step_figures(step):
    """The figures a step of the `repertoire` command writes, in the configured format,
    each marked for the report with its caption and place."""
    figures = []
    for name in STEPS[step].figures:
        category, subcategory, label = REPORT_PLACES[name]
        figures.append(report(
            result(f"figures/{name}.{config['figure_format']}"),
            caption=f"../report/{name}.rst", category=category, subcategory=subcategory,
            labels={"figure": label},
        ))
    return figures


def figure_folder(name):
    """A folder of one figure per patient, niche or section, each its own report entry."""
    category, subcategory, label = REPORT_PLACES[name]
    return report(
        directory(result(f"figures/{name}")),
        patterns=[f"{{{label}}}.{config['figure_format']}"],
        caption=f"../report/{name}.rst", category=category, subcategory=subcategory,
        labels={label: f"{{{label}}}"},
    )


def step_options(wildcards, output):
    """--tables and --figures pointing at the folders of the rule's declared outputs."""
    options = []
    if output.get("tables"):
        options += ["--tables", str(Path(output.tables[0]).parent)]
    if output.get("figures"):
        options += ["--figures", str(Path(output.figures[0]).parent),
                    "--figure-format", config["figure_format"]]
    return shlex.join(options)


def flag_options(wildcards):
    """--flag NAME=VALUE for each report flag threshold the config overrides."""
    return shlex.join(
        f"--flag={name}={value}" for name, value in sorted(config["report"]["flags"].items())
    )
