"""The one exception type the ``quickdraw`` CLI reports as a one-line message (exit code 2), and how a
model's refusal reads.

Anything a user can fix (a bad path, a bad setting, a busy pipeline root) is a
``UserError``; every other exception is a bug and keeps its traceback. Lives at the
bottom of the layering so that both ``components`` and ``pipeline`` can raise it.
"""


class UserError(Exception):
    """A problem the user can fix: shown as ``error: <message>``, no traceback."""


class ConfigError(UserError, ValueError):
    """A setting out of its bounds (also a ``ValueError``, as a bad argument is)."""


def refusal_reason(message: str) -> str:
    """A TensorFlow error's message → why the model refused: the failed assertion's text (the signatures'
    ``tf.debugging`` messages), else its first informative line. For the server's 400s and the
    InfraValidator's refusals, which both show a model's refusal to a person."""
    import re

    asserted = re.search(r"assertion failed: \[([^\]]*)\]", message)
    if asserted:
        return asserted.group(1)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    lines = [
        line for line in lines if line != "Graph execution error:" and not line.startswith("Detected at node")
    ]
    return lines[0] if lines else "the model refused the input"
