"""TFX's Tuner for the drawing classifier: the search space (``config``) and ``tuner_fn`` (``tuner``)."""
