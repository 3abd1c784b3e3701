"""python -m hyperpod_deps.toolchain: fetch every pinned tool into the cache and say where."""
from __future__ import annotations

from hyperpod_deps.toolchain.helm import HELM_RELEASES, helm_path, kubectl_path


def main() -> None:
    for major, release in sorted(HELM_RELEASES.items()):
        print(f"helm {release.helm_version}: {helm_path(major)}")
        print(f"kubectl {release.kubectl_version}: {kubectl_path(major)}")


if __name__ == "__main__":
    main()
