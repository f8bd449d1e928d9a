"""A safe arithmetic evaluator: the expression is parsed with `ast` and only a whitelist of nodes is
walked. There is no `eval`: names, attributes, subscripts, comprehensions, lambdas, strings and
calls outside the function table are refused before anything runs. Sizes are bounded too, so
`9**9**9` or `factorial(10**6)` is refused instead of freezing the laptop.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from edgeprompt.errors import ToolError

MAX_CHARS = 500
MAX_DEPTH = 60
MAX_EXPONENT = 10_000
MAX_RESULT_DIGITS = 4_000  # an integer result longer than this is refused
MAX_FACTORIAL = 1_000

_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitXor: operator.pow,  # people write 2^10 for a power; XOR is never what a calculator user means
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _factorial(n: float) -> int:
    if n != int(n) or n < 0:
        raise ToolError("calculator: factorial needs a whole number >= 0")
    if n > MAX_FACTORIAL:
        raise ToolError(f"calculator: factorial is limited to n <= {MAX_FACTORIAL}")
    return math.factorial(int(n))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "cbrt": lambda x: math.copysign(abs(x) ** (1 / 3), x),
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "degrees": math.degrees,
    "radians": math.radians,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
    "factorial": _factorial,
    "gcd": math.gcd,
    "lcm": math.lcm,
    "hypot": math.hypot,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}

_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*of\s+")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%(?!\s*\d)")


def _prepare(expression: str) -> str:
    """Calculator spellings into Python syntax: 17% of 340, 5 × 3, 8 ÷ 2, 2,500 (thousands)."""
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    return _PERCENT.sub(r"(\1/100)", text)


def _check_pow(base: Any, exp: Any) -> None:
    if isinstance(exp, int | float) and abs(exp) > MAX_EXPONENT:
        raise ToolError(f"calculator: exponents are limited to {MAX_EXPONENT}")
    big = isinstance(base, int) and isinstance(exp, int) and exp > 0 and base not in (0, 1, -1)
    if big and exp * math.log10(abs(base)) > MAX_RESULT_DIGITS:
        raise ToolError(f"calculator: the result would have more than {MAX_RESULT_DIGITS} digits")


def _walk(node: ast.AST, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ToolError("calculator: the expression is nested too deeply")
    if isinstance(node, ast.Expression):
        return _walk(node.body, depth + 1)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        left, right = _walk(node.left, depth + 1), _walk(node.right, depth + 1)
        if isinstance(node.op, ast.Pow | ast.BitXor):
            _check_pow(left, right)
        return _BIN[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand, depth + 1))
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        if node.keywords:
            raise ToolError("calculator: functions take plain arguments only")
        return FUNCTIONS[node.func.id](*[_walk(a, depth + 1) for a in node.args])
    raise ToolError(
        f"calculator: {_describe(node)} is not allowed (numbers, + - * / // % ** and "
        f"{', '.join(sorted(FUNCTIONS))} only)"
    )


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"the name '{node.id}'"
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
        return f"the function '{name}'"
    if isinstance(node, ast.Constant):
        return f"the {type(node.value).__name__} {node.value!r}"
    return f"'{type(node).__name__}'"


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression, or ToolError saying what was refused."""
    if len(expression) > MAX_CHARS:
        raise ToolError(f"calculator: the expression is longer than {MAX_CHARS} characters")
    text = _prepare(expression)
    if not text:
        raise ToolError("calculator: the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ToolError(f"calculator: cannot read '{expression}' ({e.msg})") from e
    try:
        value = _walk(tree)
    except ZeroDivisionError as e:
        raise ToolError("calculator: division by zero") from e
    except (OverflowError, ValueError, TypeError) as e:
        raise ToolError(f"calculator: {e}") from e
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("calculator: the result is not a number")
    if isinstance(value, int) and abs(value) >= 10**MAX_RESULT_DIGITS:
        raise ToolError(f"calculator: the result has more than {MAX_RESULT_DIGITS} digits")
    return value


def format_number(value: int | float) -> str:
    """Integers exactly; floats to 12 significant digits, without float noise like 0.30000000000000004."""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"
