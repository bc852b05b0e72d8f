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
PROGRESS_SECONDS = 10.0  # how often each worker logs its progress

# Demo corpus (`quickdraw demo-data`, `make demo`)
DEMO_PER_CLASS = 500
DEMO_SEED = 0
