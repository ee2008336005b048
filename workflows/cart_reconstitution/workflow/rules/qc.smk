rule qc:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    # One job per patient, its samples checked one by one as if alone: a job's start (Python
    # and its imports, ~3 s) is paid per patient, not per sample.
    input:
        # the sheet's mtime is ignored; params.metadata reruns a patient whose rows changed
        sheet=ancient(config["samples"]),
        data=patient_files,
    output:
        result("qc/{patient}.h5ad"),
    log:
        result("logs/qc/{patient}.log"),
    params:
        python=python(),
        samples=patient_samples,
        metadata=patient_metadata,
        seed=config["qc"]["seed"],
    threads: 1
    resources:
        mem_mb=scaled(2000, per_mb=10),
        runtime=scaled(30, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/qc/{patient}.tsv")
    shell:
        "{params.python:q} -m repertoire qc --samplesheet {input.sheet:q}"
        " --sample {params.samples} --seed {params.seed} --output {output:q} 2> {log:q}"


rule merge:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        qc=expand(result("qc/{patient}.h5ad"), patient=PATIENTS),
    output:
        cohort=result("cohort_qc.h5ad"),
        tables=step_tables("merge"),
        figures=step_figures("merge"),
    log:
        result("logs/merge.log"),
    params:
        python=python(),
        outputs=step_options,
        keep_flagged="--keep-flagged" if config["qc"]["keep_flagged"] else "",
    threads: 1
    resources:
        mem_mb=scaled(4000, per_mb=4),
        runtime=scaled(60, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/merge.tsv")
    shell:
        "{params.python:q} -m repertoire merge --output {output.cohort:q} {params.outputs}"
        " {params.keep_flagged} {input.qc:q} 2> {log:q}"
