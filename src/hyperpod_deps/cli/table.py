"""Plain-text tables: columns padded to their widest cell, multi-line cells stacked."""
from __future__ import annotations


def table(headers: list[str], rows: list[list[str]]) -> str:
    split_rows = [[cell.splitlines() or [""] for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in split_rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], *(len(line) for line in cell))
    lines = [_line(headers, widths)]
    for row in split_rows:
        height = max(len(cell) for cell in row)
        for offset in range(height):
            lines.append(_line([c[offset] if offset < len(c) else "" for c in row], widths))
    return "\n".join(lines)


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
