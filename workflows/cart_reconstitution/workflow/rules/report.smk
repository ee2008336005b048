PATIENTS = sorted(SAMPLES["patient_id"].unique())


wildcard_constraints:
    # patient ids are identifiers (checked by the sample sheet reader), so they name files
    patient="|".join(re.escape(p) for p in PATIENTS),


def flag_options(wildcards):
    """--flag NAME=VALUE for each threshold the config overrides."""
    return shlex.join(
        f"--flag={name}={value}" for name, value in sorted(config["report"]["flags"].items())
    )


rule patient_report:
    input:
        rules.niches.output.cohort,
    output:
        html=result("reports/{patient}.html"),
        summary=result("reports/{patient}.summary.tsv"),
    log:
        result("logs/report/{patient}.log"),
    params:
        python=python(),
        min_cells=config["report"]["min_cells"],
        flags=flag_options,
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 2000 + 4 * int(input.size_mb),
        runtime=30,
    shell:
        "{params.python:q} -m repertoire report {input:q} --patient {wildcards.patient:q}"
        " --output {output.html:q} --cohort-page cohort.html"
        " --min-cells {params.min_cells} {params.flags} 2> {log:q}"


rule cohort_report:
    input:
        cohort=rules.niches.output.cohort,
        # the cohort page links every patient's page
        patients=expand(result("reports/{patient}.html"), patient=PATIENTS),
    output:
        html=result("reports/cohort.html"),
        flags=result("reports/flags.tsv"),
    log:
        result("logs/report/cohort.log"),
    params:
        python=python(),
        min_cells=config["report"]["min_cells"],
        flags=flag_options,
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 2000 + 4 * int(input.size_mb.cohort),
        runtime=30,
    shell:
        "{params.python:q} -m repertoire report {input.cohort:q} --output {output.html:q}"
        " --min-cells {params.min_cells} {params.flags} 2> {log:q}"
