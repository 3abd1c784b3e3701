"""What the generators in hack/ share: write the files, or --check that they are current."""
from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(description: str | None, target: Path, expected: str) -> int:
    """Parse --check; with it, exit status 1 when `target` differs from `expected`, else write it."""
    return write_or_check_all(description, {target: expected})


def write_or_check_all(description: str | None, expected: dict[Path, str]) -> int:
    """The same for several files: with --check, a diff for each stale one and exit status 1."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail, with a diff, if a file is stale")
    args = parser.parse_args()
    stale = 0
    for target, text in expected.items():
        name = str(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
        if not args.check:
            target.write_text(text)
            print(f"wrote {name}")
            continue
        current = target.read_text() if target.exists() else ""
        if current != text:
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True),
                f"{name} (committed)", f"{name} (generated)"))
            print(f"{name} is stale: run `make generate`", file=sys.stderr)
            stale = 1
    return stale
