"""The one exception type the ``quickdraw`` CLI reports as a one-line message (exit code 2).

Anything a user can fix (a bad path, a bad setting, a busy pipeline root) is a
``UserError``; every other exception is a bug and keeps its traceback. Lives at the
bottom of the layering so that both ``components`` and ``pipeline`` can raise it.
"""


class UserError(Exception):
    """A problem the user can fix: shown as ``error: <message>``, no traceback."""


class ConfigError(UserError, ValueError):
    """A setting out of its bounds (also a ``ValueError``, as a bad argument is)."""
