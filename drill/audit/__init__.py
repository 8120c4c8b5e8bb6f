"""`drill audit`: the pull-request checklist as code.

Maintained linters where they cover an item (ruff's bandit rules, run as a subprocess), and small
AST checks of our own where they do not (drill/audit/checks/). Nothing audited is ever imported
or run: the checks read source text only.
"""

from drill.audit.findings import Finding
from drill.audit.runner import AuditError, audit, changed_lines

__all__ = ["AuditError", "Finding", "audit", "changed_lines"]
