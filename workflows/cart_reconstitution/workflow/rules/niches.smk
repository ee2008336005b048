rule communication:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    # one job per patient, as for qc; each sample is scored on its own
    input:
        # expression and cell types; only this patient's cells are read
        cohort=rules.annotate.output.cohort,
        resource=[config["communication"]["resource"]]
        if config["communication"]["resource"]
        and not config["communication"]["resource"].startswith("liana:")
        else [],
    output:
        result("communication/{patient}.h5ad"),
    log:
        result("logs/communication/{patient}.log"),
    params:
        python=python(),
        samples=patient_samples,
        groupby=config["communication"]["groupby"],
        resource=lambda wildcards: (
            f"--resource {shlex.quote(config['communication']['resource'])}"
            if config["communication"]["resource"]
            else ""
        ),
        n_perms=config["communication"]["n_perms"],
        min_fraction=config["communication"]["min_fraction"],
        min_cells=config["communication"]["min_cells"],
        seed=config["communication"]["seed"],
    threads: 1
    resources:
        mem_mb=scaled(2000, per_mb=1),
        runtime=scaled(30, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/communication/{patient}.tsv")
    shell:
        "{params.python:q} -m repertoire communication {input.cohort:q}"
        " --sample {params.samples} --output {output:q} --groupby {params.groupby:q}"
        " {params.resource} --n-perms {params.n_perms} --min-fraction {params.min_fraction}"
        " --min-cells {params.min_cells} --seed {params.seed} --threads {threads}"
        " 2> {log:q}"


rule niches:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        cohort=rules.bcr.output.cohort,
        communication=expand(result("communication/{patient}.h5ad"), patient=PATIENTS),
        # a user's niche definitions: a changed file reruns the niches
        niches=[config["niches"]["niches"]] if config["niches"]["niches"] else [],
    output:
        cohort=result("cohort.h5ad"),
        tables=step_tables("niches"),
        figures=step_figures("niches"),
        niches=figure_folder(NICHE_FIGURES),
        interactions=figure_folder(INTERACTION_FIGURES),
        spatial=figure_folder(SPATIAL_FIGURES),
    log:
        result("logs/niches.log"),
    params:
        python=python(),
        outputs=step_options,
        niches=lambda wildcards, input: (
            f"--niches {shlex.quote(input.niches[0])}" if input.niches else ""
        ),
        n_programmes=config["niches"]["n_programmes"],
        n_neighbourhoods=config["niches"]["n_neighbourhoods"],
        spatial_neighbors=config["niches"]["spatial_neighbors"],
        landmark=(
            f"--landmark {config['niches']['landmark']}"
            if config["niches"]["landmark"] is not None
            else ""
        ),
        n_boot=config["niches"]["n_boot"],
        seed=config["niches"]["seed"],
    threads: 1
    resources:
        mem_mb=scaled(4000, per_mb=6),
        runtime=scaled(60, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/niches.tsv")
    shell:
        "{params.python:q} -m repertoire niches {input.cohort:q} {input.communication:q}"
        " --output {output.cohort:q} {params.outputs} {params.niches}"
        " --n-programmes {params.n_programmes} --n-neighbourhoods {params.n_neighbourhoods}"
        " --spatial-neighbors {params.spatial_neighbors} {params.landmark}"
        " --n-boot {params.n_boot} --seed {params.seed} 2> {log:q}"
