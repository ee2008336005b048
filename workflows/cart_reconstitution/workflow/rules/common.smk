"""Configuration, the sample sheet and path helpers shared by every rule."""

import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from repertoire import InputError
from repertoire.cli import (
    INTERACTION_FIGURES,
    NICHE_FIGURES,
    PATIENT_FIGURES,
    SPATIAL_FIGURES,
    STEPS,
)
from repertoire.io import FILE_COLUMNS, read_samplesheet

validate(config, "../schemas/config.schema.yaml")


def load_samples(path):
    """Read the sample sheet: repertoire's checks (one sentence per problem), then the schema.

    A bad sheet stops the workflow with the same one line as `repertoire validate`.
    """
    try:
        sheet = read_samplesheet(path)
    except InputError as error:
        sys.exit(f"error: {error}")
    validate(sheet, "../schemas/samples.schema.yaml", set_default=False)
    return sheet


SAMPLES = load_samples(config["samples"])


wildcard_constraints:
    sample="|".join(re.escape(s) for s in SAMPLES.index),


def result(path):
    """A path under the configured output directory."""
    return str(Path(config["outdir"], path))


def sample_files(wildcards):
    """The data files of one sample, so that a changed file reruns its QC."""
    row = SAMPLES.loc[wildcards.sample]
    return [row[c] for c in FILE_COLUMNS if c in row and isinstance(row[c], str)]


def sample_metadata(wildcards):
    """The sample's sheet row without its files: a changed row reruns its QC (params trigger)."""
    row = SAMPLES.loc[wildcards.sample].drop(list(FILE_COLUMNS), errors="ignore")
    return "; ".join(f"{key}={value}" for key, value in row.items())


def python():
    """The interpreter Snakemake runs under: it has `repertoire` installed, whatever PATH says."""
    return sys.executable


def step_tables(step):
    """The tables a step of the `repertoire` command writes (the names are the command's)."""
    return expand(result("tables/{name}.tsv"), name=STEPS[step].tables)


def step_figures(step):
    """The figures a step of the `repertoire` command writes, in the configured format."""
    return expand(
        result("figures/{name}.{ext}"), name=STEPS[step].figures, ext=config["figure_format"]
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
