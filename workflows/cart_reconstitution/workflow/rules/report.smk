rule patient_report:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
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
        mem_mb=scaled(2000, per_mb=1),  # the pages read no matrix
        runtime=scaled(30, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/report/{patient}.tsv")
    shell:
        "{params.python:q} -m repertoire report {input:q} --patient {wildcards.patient:q}"
        " --output {output.html:q} --cohort-page cohort.html"
        " --min-cells {params.min_cells} {params.flags} 2> {log:q}"


rule cohort_report:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
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
        mem_mb=scaled(2000, per_mb=1),  # the pages read no matrix
        runtime=scaled(30, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/report/cohort.tsv")
    shell:
        "{params.python:q} -m repertoire report {input.cohort:q} --output {output.html:q}"
        " --min-cells {params.min_cells} {params.flags} 2> {log:q}"
