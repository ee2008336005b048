rule annotate:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        cohort=rules.preprocess.output.cohort,
        # a user's marker panels: a changed file reruns the annotation
        markers=[config["annotate"]["markers"]] if config["annotate"]["markers"] else [],
    output:
        cohort=result("cohort_annotated.h5ad"),
        tables=step_tables("annotate"),
        figures=step_figures("annotate"),
    log:
        result("logs/annotate.log"),
    params:
        python=python(),
        outputs=step_options,
        markers=lambda wildcards, input: (
            f"--markers {shlex.quote(input.markers[0])}" if input.markers else ""
        ),
        resolution=config["annotate"]["resolution"],
        subcluster_resolution=config["annotate"]["subcluster_resolution"],
        car_feature=config["annotate"]["car_feature"],
        car_alpha=config["annotate"]["car_alpha"],
        seed=config["annotate"]["seed"],
    threads: 2
    resources:
        mem_mb=scaled(8000, per_mb=8),
        runtime=scaled(120, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/annotate.tsv")
    shell:
        "{params.python:q} -m repertoire annotate {input.cohort:q} {output.cohort:q}"
        " {params.outputs} {params.markers} --resolution {params.resolution}"
        " --subcluster-resolution {params.subcluster_resolution}"
        " --car-feature {params.car_feature:q} --car-alpha {params.car_alpha}"
        " --seed {params.seed} --threads {threads} 2> {log:q}"
