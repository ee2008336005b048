"""Every default key that ``repertoire`` reads from or writes into an AnnData.

Change a name here and every function, workflow rule and test follows.
"""

# layers
COUNTS = "counts"

# sample metadata in .obs (one value per sample)
SAMPLE = "sample_id"
PATIENT = "patient_id"
TIMEPOINT = "timepoint"
DAY = "day"
TISSUE = "tissue"
OUTCOME = "outcome"
BARCODE = "barcode"

OUTCOMES = ("remission", "relapse", "unknown")

# receptor data, scirpy's model
AIRR = "airr"
CHAIN_INDICES = "chain_indices"

# spatial coordinates
SPATIAL = "spatial"

# quality control
N_COUNTS = "total_counts"
N_GENES = "n_genes_by_counts"
PCT_MT = "pct_counts_mt"
PCT_RIBO = "pct_counts_ribo"
LOW_QUALITY = "low_quality"
DOUBLET_SCORE = "doublet_score"
DOUBLET = "predicted_doublet"
RECEPTOR_DOUBLET = "receptor_doublet"
RECEPTOR_DOUBLET_REASON = "receptor_doublet_reason"
QC = "qc"

# normalisation, genes, embeddings, graph, clusters (scanpy's names where scanpy has one)
LOG1P = "log1p"
HVG = "highly_variable"
HVG_UNS = "hvg"
PCA = "X_pca"
PCA_UNS = "pca"
LOADINGS = "PCs"
INTEGRATED = "X_pca_harmony"
NEIGHBORS = "neighbors"
CONNECTIVITIES = "connectivities"
DISTANCES = "distances"
UMAP = "X_umap"
UMAP_UNS = "umap"
LEIDEN = "leiden"
PREPROCESS = "preprocess"

# identity (filled by later steps)
LINEAGE = "lineage"
CELL_TYPE = "cell_type"
CAR_DETECTED = "car_detected"
LINEAGE_CONFIDENCE = "lineage_confidence"
CELL_TYPE_CONFIDENCE = "cell_type_confidence"
ANNOTATION = "annotation"
ISOTYPE = "isotype"
SHM_RATE = "shm_rate"
BCR_STATE = "bcr_state"

LINEAGES = ("B", "plasma", "T", "NK", "myeloid", "other")
B_LINEAGES = ("B", "plasma")

# B-cell receptor state, clones and reconstitution
SHM_SOURCE = "shm_source"
SHM_RATE_LIGHT = "shm_rate_light"
SHM_SOURCE_LIGHT = "shm_source_light"
TABLE_SHM = "shm"
BCR_EVIDENCE = "bcr_state_evidence"
BCR_STATES = ("naive_transitional", "memory_unswitched", "memory_switched", "DN", "plasma")
# the B-cell receptor state each B-lineage cell type corresponds to (its phenotype's state)
BCR_STATE_OF_CELL_TYPE = {
    "B_transitional": "naive_transitional",
    "B_naive": "naive_transitional",
    "B_memory_unswitched": "memory_unswitched",
    "B_memory_switched": "memory_switched",
    "B_DN": "DN",
    "plasmablast": "plasma",
    "plasma_LLPC": "plasma",
}
ISOTYPES = ("IGHM", "IGHD", "IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2", "IGHE")
UNSWITCHED_ISOTYPES = ISOTYPES[:2]
SWITCHED_ISOTYPES = ISOTYPES[2:]
RECEPTOR_TYPE = "receptor_type"
CLONE = "clone_id"
CLONE_SIZE = "clone_id_size"
EXPANSION = "clonal_expansion"
DIVERSITY = "diversity"
CLONE_TRACKING = "clone_tracking"
PREEXISTING = "preexisting"
RECONSTITUTION = "reconstitution"

# the input files of each sample, with their checksums (written by repertoire.io.read_cohort)
INPUTS = "inputs"

# cell-cell communication and niches
COMMUNICATION = "communication"
NICHE_SCORES = "niche_scores"
PROGRAMMES = "communication_programmes"
NICHE_OUTCOMES = "niche_outcomes"
SPATIAL_NICHES = "spatial_niches"

# A tool's record .uns[key_added] holds its tables beside PARAMS, the arguments of the call.
# Tables are named after what one of their rows is, in the plural.
PARAMS = "params"
TABLE_SAMPLES = "samples"
TABLE_CLUSTERS = "clusters"
TABLE_STATES = "states"
TABLE_CLONES = "clones"
TABLE_OCCURRENCES = "occurrences"
TABLE_OUTCOMES = "outcomes"
TABLE_TIMEPOINTS = "timepoints"
TABLE_MISSING_GENES = "missing_genes"
TABLE_INTERACTIONS = "interactions"
TABLE_GROUPS = "groups"
TABLE_PROGRAMMES = "programmes"
TABLE_PATIENTS = "patients"
TABLE_PAIRS = "pairs"  # one row per sample x source x target cell type (neighbourhood enrichment)
TABLE_NEIGHBOURHOODS = "neighbourhoods"
TABLE_COMPOSITIONS = "compositions"  # one row per neighbourhood x cell type
TABLE_ABUNDANCES = "abundances"  # one row per sample x neighbourhood
TABLE_FILES = "files"

# ground truth written by the simulator
TRUE_PREFIX = "true_"
TRUE_LINEAGE = "true_lineage"
TRUE_CELL_TYPE = "true_cell_type"
TRUE_BCR_STATE = "true_bcr_state"
TRUE_CLONE = "true_clone"
TRUE_DOUBLET = "true_doublet"
TRUE_LOW_QUALITY = "true_low_quality"
TRUE_CAR = "true_car"
TRUE_ISOTYPE = "true_isotype"
TRUE_SHM_RATE = "true_shm_rate"
TRUE_PREEXISTING = "true_preexisting"
TRUE_NICHE = "true_niche"
TRUE_SAMPLES = "true_samples"

# the CAR transgene feature of the simulator and the default of CAR detection
CAR_FEATURE = "CAR_FMC63_BBz"
