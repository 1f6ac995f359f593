"""The names under which a trial's facts live in the Optuna storage.

The storage is the whole record (DESIGN.md): the search writes these keys, the analysis
reads them, and neither needs anything else.  Keeping the names in one module means a
renamed key breaks an import, not a report read a year later.
"""

from __future__ import annotations

from typing import Final

# The objectives (names, directions, which attr holds each figure) are a table: trials/record/objectives.py.

# --- study user attrs -------------------------------------------------------------
STUDY_OBJECTIVES: Final = "objectives"  # list[str], in the order of study.directions
STUDY_CONFIG: Final = "config"  # the full search config as a JSON-able dict
STUDY_DATA_SHAPE: Final = "data_shape"  # [num_classes, in_channels, image_size] of the data trained on
# ablate --until-clear: {"base_seed", "looks": [seeds per design at each look], "margin",
# "allocations": [per round {spec_key: [seeds]}]} (trials/running/until_clear.py)
STUDY_UNTIL_CLEAR: Final = "until_clear"

# --- trial user attrs -------------------------------------------------------------
SPEC: Final = "spec"  # ArchSpec.to_dict(): the whole spec, irrelevant fields as None
SPEC_KEY: Final = "spec_key"  # short stable hash of the spec; groups equal specs
PARAMS: Final = "params"  # int, total parameters
MACS: Final = "macs"  # int, total multiply-accumulates per image
LATENCY_MS: Final = "latency_ms"  # float or None
COST_BREAKDOWN: Final = "cost_breakdown"  # {"params": {part: int}, "macs": {part: int}}
ACCURACY_REPLICATES: Final = "accuracy_replicates"  # list[float], final val acc per seed
# list[float], per seed the last epoch's accuracy on the official test split (data.test_accuracy),
# else None; recorded for ablations beside validation, never an objective (no sampler sees it)
TEST_ACCURACY_REPLICATES: Final = "test_accuracy_replicates"
VAL_ACCURACY_HISTORY: Final = "val_accuracy_history"  # list[float], mean val acc per epoch
VAL_ACCURACY_BY_REPLICATE: Final = "val_accuracy_by_replicate"  # list per seed of list[float] per epoch
HCNN_BASE_SEEDS: Final = "hcnn_base_seeds"  # per replicate [seed of A, seed of B] (HCNN trains them alone first)
HCNN_BASE_ACCURACIES: Final = "hcnn_base_accuracies"  # per replicate [val acc of A alone, of B alone]
TRAIN_TIME_S: Final = "train_time_s"  # float, training wall time (all replicates)
SEEDS: Final = "seeds"  # list[int], one per replicate
DEVICE: Final = "device"  # "cpu", "cuda:0 (NVIDIA H100 ...)"
VERSIONS: Final = "versions"  # {"torch": ..., "optuna": ..., "ray": ..., "fusionscope": ...}
NODE_ID: Final = "node_id"  # Ray node id of the worker that trained it
HOSTNAME: Final = "hostname"
ERROR: Final = "error"  # str, for a FAIL trial: exception type and message
WEIGHTS_PATH: Final = "weights_path"  # str, where the trained state_dict was saved
EPOCHS_DONE: Final = "epochs_done"  # int; smaller than the budget when ASHA stopped it
INTERRUPTED: Final = "interrupted"  # True on a trial whose driver stopped (signal) or died (stale heartbeat)
DRIVER: Final = "driver"  # "host:pid" of the search process that asked the trial and beats its heartbeat
INFEASIBLE: Final = "infeasible"  # str: the cost limits a design broke; it was never trained (PRUNED)
DUPLICATE_OF: Final = "duplicate_of"  # trial number whose spec a skipped proposal repeated
IMAGES_PER_S: Final = "images_per_s"  # training throughput of the trial (all replicates)
TRAIN_TIMELINE: Final = "train_timeline"  # [[start, end, images], ...] per epoch's training phase, Unix s
