"""Data validation: the curated schema, the skew/drift checks and the DataGate that stops a run.

Light on purpose: ``config`` is read by the CLI; the components live in ``component``.
"""
