"""``quickdraw report``: a run's evaluation as one self-contained HTML page.

``collect`` gathers the facts (TFMA results, MLMD, the SavedModel, the eval
shards) into a ``Report``; ``render`` turns a ``Report`` into HTML. Rendering
never reads a file, so the page can be tested on any ``Report``.
"""
