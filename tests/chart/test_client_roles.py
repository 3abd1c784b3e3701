"""Every grant of the role charts is a row of docs/client-roles.md, which names the client call
(kubectl, or AWS's SageMaker HyperPod client) that needs it, and every row is granted: a role
that grants something no listed call needs fails here, and so does a table that promises a
grant no role holds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import Renderer, named

DOC = Path(__file__).resolve().parents[2] / "docs" / "client-roles.md"
SECTIONS = {"Team Role and namespaced Role": "roles", "Team ClusterRole": "team-cluster-role",
            "Scientist ClusterRole": "scientist-cluster-role"}
Grant = tuple[str, str]  # (resource, verb): "pytorchjobs.kubeflow.org", "get"


def documented() -> dict[str, set[Grant]]:
    tables: dict[str, set[Grant]] = {}
    section = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            section = next((key for title, key in SECTIONS.items() if line[3:].startswith(title)), "")
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not section or len(cells) != 3 or cells[0] in ("resource", "---"):
            continue
        assert cells[2], f"{line}: no client call named"
        resources = re.sub(r"\(.*?\)", "", cells[0]).replace("`", "")
        tables.setdefault(section, set()).update(
            (resource.strip(), verb.strip()) for resource in resources.split(",") if resource.strip()
            for verb in cells[1].split(","))
    assert set(tables) == set(SECTIONS.values()), tables.keys()
    return tables


def grants(role: Manifest) -> set[Grant]:
    return {(f"{resource}.{group}" if group and "/" not in resource else resource, verb)
            for rule in role["rules"] for group in rule["apiGroups"] for resource in rule["resources"]
            for verb in rule["verbs"]}


@pytest.fixture(scope="module")
def roles(render3: Renderer) -> dict[str, set[Grant]]:
    objects = render3("computeQuotaTarget.targetId=team-a", "cluster-role-and-bindings.enabled=true",
                      "namespaced-role-and-bindings.enabled=true",
                      "namespaced-role-and-bindings.allowExec=true")
    team = grants(named(objects, "Role", "hyperpod-ns-team-a-namespace-role"))
    namespaced = grants(named(objects, "Role", "hyperpod-scientist-user-namespace-level-role"))
    return {"roles": team | namespaced,
            "team-cluster-role": grants(named(objects, "ClusterRole", "hyperpod-ns-team-a-cluster-role")),
            "scientist-cluster-role": grants(
                named(objects, "ClusterRole", "hyperpod-scientist-user-cluster-role"))}


@pytest.mark.parametrize("section", sorted(SECTIONS.values()))
def test_each_grant_is_a_documented_client_call(roles: dict[str, set[Grant]], section: str) -> None:
    table = documented()[section]
    assert roles[section] - table == set(), "granted, but no client call in docs/client-roles.md needs it"
    assert table - roles[section] == set(), "in docs/client-roles.md, but no role grants it"
