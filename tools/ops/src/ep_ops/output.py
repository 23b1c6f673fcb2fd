"""What a command prints: a table for people, or the same rows as JSON for scripts (`--json`)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Report:
    """The rows a command produced, the columns people see, and a one-line summary."""

    columns: Sequence[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    totals: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"rows": self.rows, **self.totals, "summary": self.summary}, indent=2, default=_jsonable)

    def to_table(self) -> str:
        lines: list[str] = []
        if self.rows:
            cells = [[_cell(row.get(column)) for column in self.columns] for row in self.rows]
            widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(self.columns)]
            lines.append("  ".join(column.ljust(width) for column, width in zip(self.columns, widths, strict=True)))
            lines.append("  ".join("-" * width for width in widths))
            lines.extend(
                "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
                for line in cells
            )
        if self.summary:
            lines.append(self.summary)
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
