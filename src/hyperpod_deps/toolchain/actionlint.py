"""actionlint, built from its Go module like the other tools (no release binaries can be fetched
here), and run on the repository's GitHub workflows by `make check`.

`python -m hyperpod_deps.toolchain.actionlint [FILE...]`: lint the given workflows, by default
every file in .github/workflows; exits with actionlint's status.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hyperpod_deps.toolchain.gobuild import GoBinary, Progress, ScratchModule, ensure_built, stderr_progress

VERSION = "1.7.12"
MODULE = "github.com/rhysd/actionlint"


def actionlint_module(version: str = VERSION) -> ScratchModule:
    binary = GoBinary("actionlint", f"{MODULE}/cmd/actionlint", version,
                      (f"-X {MODULE}.version=v{version}",))
    return ScratchModule(
        name=f"actionlint-v{version}",
        go_mod=f"module hyperpod-deps.local/build/actionlint\n\ngo 1.24\n\nrequire {MODULE} v{version}\n",
        binaries=(binary,),
        get=(f"{binary.package}@v{version}",),
    )


def ensure_actionlint(progress: Progress = stderr_progress) -> Path:
    return ensure_built(actionlint_module(), progress)["actionlint"]


def main(argv: list[str] | None = None) -> int:
    files = argv if argv is not None else sys.argv[1:]
    workflows = files or sorted(str(p) for p in Path(".github/workflows").glob("*.y*ml"))
    if not workflows:
        print("actionlint: no workflows to lint", file=sys.stderr)
        return 1
    return subprocess.run([str(ensure_actionlint()), *workflows], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
