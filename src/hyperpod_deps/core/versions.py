"""Does a server's version satisfy a chart's `kubeVersion`?

Helm checks `kubeVersion` with Masterminds semver constraints before it installs; this reads
the forms charts use (`>=1.29.0-0`, `>= 1.29.0-0 < 1.40.0-0`, `>=1.28.0-0, <1.36.0-0`,
`a || b`, a bare version) with the same rule for pre-releases: a version like
`v1.31.2-eks-7f9249a` only satisfies a comparison whose own version carries a pre-release
(hence the customary `-0`). Pure: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_COMPARISON = re.compile(r"(>=|<=|!=|>|<|=)?\s*(v?[0-9][0-9A-Za-z.+-]*)")
_OPERATORS = {
    "=": lambda order: order == 0, "!=": lambda order: order != 0,
    ">": lambda order: order > 0, ">=": lambda order: order >= 0,
    "<": lambda order: order < 0, "<=": lambda order: order <= 0,
}


class UnsupportedConstraint(ValueError):
    """A constraint form this reader does not evaluate (`~`, `^`, wildcards)."""


@dataclass(frozen=True)
class Version:
    core: tuple[int, int, int]
    prerelease: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if not match:
            raise ValueError(f"not a version: {text!r}")
        major, minor, patch, pre = match.groups()
        return cls((int(major), int(minor or 0), int(patch or 0)), tuple(pre.split(".")) if pre else ())

    def compare(self, other: Version) -> int:
        if self.core != other.core:
            return -1 if self.core < other.core else 1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __str__(self) -> str:
        core = ".".join(str(part) for part in self.core)
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core


def satisfies(version: str, constraint: str) -> bool:
    """Whether `version` meets `constraint`; UnsupportedConstraint when the form is unknown."""
    candidate = Version.parse(version)
    return any(_all_hold(candidate, group) for group in constraint.split("||"))


def _all_hold(candidate: Version, group: str) -> bool:
    text = group.replace(",", " ").strip()
    comparisons = list(_COMPARISON.finditer(text))
    if not comparisons or _COMPARISON.sub("", text).strip():
        raise UnsupportedConstraint(f"cannot evaluate kubeVersion constraint {group.strip()!r}")
    for comparison in comparisons:
        operator = comparison.group(1) or "="
        bound = Version.parse(comparison.group(2))
        if candidate.prerelease and not bound.prerelease:
            return False
        if not _OPERATORS[operator](candidate.compare(bound)):
            return False
    return True


def _compare_prerelease(left: tuple[str, ...], right: tuple[str, ...]) -> int:
    """Semantic-versioning precedence: a release outranks its pre-releases."""
    if not left or not right:
        return (not left) - (not right)
    for a, b in zip(left, right, strict=False):
        if a == b:
            continue
        if a.isdigit() and b.isdigit():
            return -1 if int(a) < int(b) else 1
        if a.isdigit() != b.isdigit():
            return -1 if a.isdigit() else 1  # numeric identifiers sort first
        return -1 if a < b else 1
    return (len(left) > len(right)) - (len(left) < len(right))
