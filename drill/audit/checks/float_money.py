"""float-money: money held in a binary float (annotations, columns, float() of an amount).

Money is recognised by name (amount, price, total, balance, fee, ...): the checklist's rule is
"money is never a float", and names are how a reviewer recognises money too.
"""

import ast
import re

from drill.audit.findings import Module, last_name
from drill.checklist import Item

CHECK = "float-money"
MONEY_WORDS = frozenset(
    {
        "amount",
        "balance",
        "charge",
        "cost",
        "credit",
        "debit",
        "discount",
        "fee",
        "money",
        "payment",
        "price",
        "refund",
        "subtotal",
        "total",
    }
)


# Words after the noun that leave it money: balance_after, amount_due.
QUALIFIERS = frozenset({"after", "before", "due", "paid", "new", "old", "in", "out", "raw"})


def is_money_name(name: str | None) -> bool:
    """Whether an identifier names money: its head word (the last, snake or camel case, past a
    qualifier such as `_after`) is a money word. `unit_price` is money; `PRICE_TTL_S` is not."""
    if not name:
        return False
    words = [w for w in re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().split("_") if w]
    while len(words) > 1 and words[-1] in QUALIFIERS:
        words.pop()
    return bool(words) and words[-1].removesuffix("s") in MONEY_WORDS


def _mentions_float(annotation: ast.AST | None) -> bool:
    if annotation is None:
        return False
    return any(
        (isinstance(n, ast.Name) and n.id in {"float", "Float"})
        or (isinstance(n, ast.Constant) and n.value == "float")
        for n in ast.walk(annotation)
    )


def _money_expr(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return isinstance(node.slice.value, str) and is_money_name(node.slice.value)
    return is_money_name(last_name(node))


def check(module: Module) -> None:
    """Report every float that holds money."""
    seen: set[int] = set()

    def report(node: ast.stmt | ast.expr | ast.arg, message: str) -> None:
        if node.lineno not in seen:
            seen.add(node.lineno)
            module.report(node, Item.FLOAT_MONEY, message, CHECK)

    for node in ast.walk(module.tree):
        if isinstance(node, ast.AnnAssign):
            name = last_name(node.target)
            float_column = isinstance(node.value, ast.Call) and _mentions_float(node.value)
            if is_money_name(name) and (_mentions_float(node.annotation) or float_column):
                report(node, f"{name} is a float: use Decimal (NUMERIC, or whole cents)")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, float):
                for target in node.targets:
                    if is_money_name(last_name(target)):
                        report(node, f"{last_name(target)} starts as a float literal")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if is_money_name(node.name) and _mentions_float(node.returns):
                report(node, f"{node.name}() returns money as a float")
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                if is_money_name(arg.arg) and _mentions_float(arg.annotation):
                    report(arg, f"parameter {arg.arg} takes money as a float")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "float"
            and node.args
            and _money_expr(node.args[0])
        ):
            report(node, "float() of an amount of money: binary floats cannot hold cents")
