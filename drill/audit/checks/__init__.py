"""The audit's own AST checks, one module per checklist item that ruff does not cover."""
