"""A task's trigger condition, evaluated as the KFP backend does before it starts the task.

TFX compiles a ``tfx.dsl.Cond`` predicate to a CEL expression over the task's inputs, e.g.
``(inputs.artifacts['_DataGate.verdict'].artifacts[0].metadata['passed'] == 1.0)``.
The subset TFX emits (comparisons, ``&&``, ``||``, ``!``, artifact metadata and parameter
values, literals) is also Python syntax once the three operators are spelled out, so it is
parsed with ``ast`` and evaluated node by node: anything outside that subset is an error,
never ``eval``.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

from pipeline.kubeflow_local.spec import SpecError

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_LITERALS = {"true": True, "false": False, "null": None}


class _Missing:
    """An input the task does not have (e.g. a resolver found nothing): compares unequal to everything."""

    def __eq__(self, other: object) -> bool:
        return False

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def holds(condition: str, inputs: dict[str, Any]) -> bool:
    """Whether ``condition`` is true of ``inputs`` ({"artifacts": {key: {"artifacts": [...]}},
    "parameterValues": {...}}, the executor input's JSON form)."""
    python = re.sub(r"!(?!=)", " not ", condition.replace("&&", " and ").replace("||", " or "))
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except SyntaxError:
        raise SpecError(f"trigger condition {condition!r} is not one run-local understands") from None
    return bool(_value(tree.body, {"inputs": _Inputs(inputs)}, condition))


class _Inputs:
    """``inputs.artifacts`` / ``inputs.parameter_values`` over the executor input's JSON form."""

    def __init__(self, inputs: dict[str, Any]) -> None:
        self.artifacts = inputs.get("artifacts", {})
        self.parameter_values = inputs.get("parameterValues", {})
        self.parameters = self.parameter_values


def _value(node: ast.AST, names: dict[str, Any], condition: str) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_value(v, names, condition) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _value(node.operand, names, condition)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _value(node.left, names, condition)
        for op, right_node in zip(node.ops, node.comparators):
            right = _value(right_node, names, condition)
            if left is MISSING or right is MISSING:
                if not isinstance(op, (ast.Eq, ast.NotEq)):
                    return False
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and (node.id in names or node.id in _LITERALS):
        return names.get(node.id, _LITERALS.get(node.id))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "inputs":
        if node.attr in ("artifacts", "parameter_values", "parameters"):
            return getattr(names["inputs"], node.attr)
    if isinstance(node, ast.Attribute):
        container = _value(node.value, names, condition)
        return container.get(node.attr, MISSING) if isinstance(container, dict) else MISSING
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        container = _value(node.value, names, condition)
        key = node.slice.value
        if isinstance(container, dict):
            return container.get(key, MISSING)
        if isinstance(container, list) and isinstance(key, int):
            return container[key] if -len(container) <= key < len(container) else MISSING
        return MISSING
    raise SpecError(f"trigger condition {condition!r}: {ast.dump(node)} is not supported by run-local")
