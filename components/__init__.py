"""What runs inside the Quick, Draw! pipeline, one sub-package per part.

- ``conversion``: the Beam conversion library (NDJSON → TFRecord shards); never imports TensorFlow.
- ``training``: the TFX user code (transform, model, trainer, signatures, evaluation config).
- ``example_gen``, ``pusher``: the custom TFX components, ``component.py`` + ``executor.py`` each.
- ``features`` (the feature contract), ``settings`` (declaring a setting once), ``errors`` (UserError).

Nothing here imports ``pipeline``: settings flow down, as parameters.
"""
