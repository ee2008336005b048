rule bcr:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        # B-cell states combine the receptor with the annotation's lineage and cell type
        rules.annotate.output.cohort,
    output:
        cohort=result("cohort_bcr.h5ad"),
        tables=step_tables("bcr"),
        figures=step_figures("bcr"),
        patients=figure_folder(PATIENT_FIGURES),
    log:
        result("logs/bcr.log"),
    params:
        python=python(),
        outputs=step_options,
        naive_max_shm=config["bcr"]["naive_max_shm"],
        memory_min_shm=config["bcr"]["memory_min_shm"],
        bcr_cutoff=config["bcr"]["bcr_cutoff"],
        aplasia_below=config["bcr"]["aplasia_below"],
        reference_timepoint=config["bcr"]["reference_timepoint"],
        n_boot=config["bcr"]["n_boot"],
        seed=config["bcr"]["seed"],
    threads: 2
    resources:
        mem_mb=scaled(4000, per_mb=6),
        runtime=scaled(60, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/bcr.tsv")
    shell:
        "{params.python:q} -m repertoire bcr {input:q} {output.cohort:q} {params.outputs}"
        " --naive-max-shm {params.naive_max_shm} --memory-min-shm {params.memory_min_shm}"
        " --bcr-cutoff {params.bcr_cutoff} --aplasia-below {params.aplasia_below}"
        " --reference-timepoint {params.reference_timepoint:q} --n-boot {params.n_boot}"
        " --seed {params.seed} --threads {threads} 2> {log:q}"
