"""What the single-file generators in hack/ share: write the file, or --check that it is current."""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(description: str | None, target: Path, expected: str) -> int:
    """Parse --check; with it, exit status 1 when `target` differs from `expected`, else write it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail, with a diff, if the file is stale")
    args = parser.parse_args()
    name = str(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != expected:
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), expected.splitlines(keepends=True),
                f"{name} (committed)", f"{name} (generated)"))
            print(f"{name} is stale: run `make generate`", file=sys.stderr)
            return 1
        return 0
    target.write_text(expected)
    print(f"wrote {name}")
    return 0
