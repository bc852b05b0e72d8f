"""Defaults in one place (the CLI, the Beam job and, later, the TFX pipeline read them here).

Kept free of heavy imports so ``quickdraw --help`` answers at once.
"""

# Conversion (`quickdraw convert`)
EVAL_FRACTION = 0.1  # share of drawings in the eval split (by hash of key_id)
SHARDS = 10  # TFRecord files per split, as the tutorial
SALT = "quickdraw"  # salt of the split/shard hash; change it to draw a different split
# Real raw drawings run to a few thousand points; 20k is far above them and bounds what one
# hostile line can cost the trainer (a padded batch is as long as its longest drawing).
MAX_POINTS = 20_000
LINES_PER_BATCH = 16_384  # lines parsed per vectorised block
CHUNK_BYTES = 32 << 20  # input files are split into line-aligned chunks of about this size
SPILL_RECORDS = 200_000  # encoded drawings a parse worker buffers before spilling them to run files
PROGRESS_SECONDS = 10.0  # how often each conversion worker (and the trainer) logs its progress

# Demo corpus (`quickdraw demo-data`, `make demo`)
DEMO_PER_CLASS = 500
DEMO_SEED = 0

# Model (the tutorial's architecture and optimiser; components.model.ModelConfig)
CONV_FILTERS = (48, 64, 96)
CONV_KERNELS = (5, 5, 3)
DROPOUT = 0.3
LSTM_UNITS = 128
LSTM_LAYERS = 3
LEARNING_RATE = 1e-4
CLIP_NORM = 9.0

# Training (the Trainer's custom_config; `quickdraw run` flags)
BATCH_SIZE = 64  # per device; the tutorial's default 8 starves a GPU
SHUFFLE_BUFFER = 10_000
TRAINING_SEED = 0
TOP_K = 5  # class names the serving signatures return per drawing
TRAIN_STEPS = 2_000
EVAL_STEPS = 100


# Pipeline (`quickdraw run`)
PIPELINE_NAME = "quickdraw"
ACCURACY_THRESHOLD = 0.5  # the Evaluator blesses a model with at least this eval accuracy
MAX_ACCURACY_DROP = 0.0  # ... and at most this much below the latest blessed model's
