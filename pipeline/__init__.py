"""How the pieces are wired and run: the pipeline definition, its cache keys, the CLI and its commands,
the report, and the data tools. Imports ``components``; never imported by it."""
