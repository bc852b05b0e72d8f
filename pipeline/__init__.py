"""How the pieces are wired and run: configuration, CLI, data tools."""
