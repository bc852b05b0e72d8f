"""The Beam conversion library: NDJSON drawings → deterministic, hash-split TFRecord shards.

Never imports TensorFlow (``tests/test_layout.py`` imports every module in a fresh
interpreter and checks): it runs on Dataflow workers with Beam's own dependencies
and this package only. Modules, bottom up:

- ``config``: ``ConversionConfig``, every setting that decides the output bytes (light: no Beam).
- ``ink``, ``parsing``, ``batch``, ``splits``, ``encoding``, ``tfrecord``: the vectorised
  per-batch work (drawing → ink, lines → validated columns, keyed hash → split/shard,
  canonical ``tf.Example`` bytes, TFRecord framing).
- ``files``: input resolution, line-aligned chunks, atomic writes.
- ``runs``: the spilled "run" files that carry drawings across the shuffle.
- ``manifest``: the output layout and the manifest that reconciles every line.
- ``transforms``: the Beam ``PTransform`` that wires them (``ConvertQuickDraw``).

The package ``__init__`` imports nothing, so ``config`` stays light.
"""
