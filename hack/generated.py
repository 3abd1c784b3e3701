"""What the single-file generators in hack/ share: write the file, or --check that it is current."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(description: str | None, target: Path, expected: str) -> int:
    """Parse --check; with it, exit status 1 when `target` differs from `expected`, else write it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the generated file is stale")
    args = parser.parse_args()
    if args.check:
        if not target.exists() or target.read_text() != expected:
            print(f"{target.relative_to(ROOT)} is stale: run `make generate`", file=sys.stderr)
            return 1
        return 0
    target.write_text(expected)
    print(f"wrote {target.relative_to(ROOT)}")
    return 0
