"""team-role-and-bindings: task-governance RBAC for one team, from the umbrella or standalone."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.chart.render import RenderError, RenderRequest, render
from hyperpod_deps.core.manifest import Manifest
from tests.chart.test_roles import HYPERPOD_CLIENT_RULES, assert_least_privilege, group, install_notes
from tests.support.charts import CHART, SUBCHARTS, Renderer, kinds, named, of_kind

TEAM = "team-role-and-bindings"
TEAM_CHART = SUBCHARTS / TEAM
CHART_PATH = "helm_chart/HyperPodHelmChart"  # as the documented commands spell it
JOB_VERBS = ["create", "get", "list", "watch", "patch", "update", "delete"]
READ = ["get", "list", "watch"]
UMBRELLA_LABEL = "hyperpod-helm-chart-0.1.0"
SUBCHART_LABEL = "team-role-and-bindings-0.1.0"


def team_objects(objects: list[Manifest], team: str) -> list[Manifest]:
    prefix = f"hyperpod-ns-{team}"
    return [o for o in objects if o["metadata"]["name"].startswith(prefix)]


def assert_team_objects(objects: list[Manifest], team: str, rendered_by: str) -> None:
    """The four objects, once each, with the wire-contract names, rendered by the given chart."""
    ns = f"hyperpod-ns-{team}"
    assert kinds([o for o in team_objects(objects, team) if o["kind"] != "Namespace"]) == [
        f"ClusterRole/{ns}-cluster-role",
        f"ClusterRoleBinding/{ns}-cluster-role-binding",
        f"Role/{ns}-namespace-role",
        f"RoleBinding/{ns}-namespace-role-binding",
    ]
    for obj in team_objects(objects, team):
        assert obj["metadata"]["labels"]["helm.sh/chart"] == rendered_by
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "team-role-and-bindings"
    subjects = [group(f"{ns}-namespace-level-group")]
    cluster_binding = named(objects, "ClusterRoleBinding", f"{ns}-cluster-role-binding")
    assert cluster_binding["roleRef"]["name"] == f"{ns}-cluster-role"
    assert cluster_binding["subjects"] == subjects
    binding = named(objects, "RoleBinding", f"{ns}-namespace-role-binding")
    assert binding["metadata"]["namespace"] == ns
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{ns}-namespace-role",
    }
    assert binding["subjects"] == subjects
    assert named(objects, "Role", f"{ns}-namespace-role")["metadata"]["namespace"] == ns


def render_unchecked(renderer: Renderer, *set_values: str, chart: Path = CHART) -> list[Manifest]:
    """Render with the values schemas skipped, to reach the templates' own checks."""
    request = RenderRequest(
        chart=chart,
        set_values=set_values,
        extra_args=("--skip-schema-validation",),
    )
    return render(renderer.helm, request)


# --- the objects ----------------------------------------------------------------


def test_umbrella_team_id_creates_the_team_roles(render: Renderer) -> None:
    objects = render("computeQuotaTarget.targetId=team-a")
    assert_team_objects(objects, "team-a", UMBRELLA_LABEL)
    cluster_role = named(objects, "ClusterRole", "hyperpod-ns-team-a-cluster-role")
    assert cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]},
        {
            "apiGroups": ["kueue.x-k8s.io"],
            "resources": ["clusterqueues"],
            "resourceNames": ["hyperpod-ns-team-a-clusterqueue"],
            "verbs": READ,
        },
        {
            "apiGroups": ["kueue.x-k8s.io"],
            "resources": ["resourceflavors", "workloadpriorityclasses"],
            "verbs": READ,
        },
        {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": READ},
    ]
    role = named(objects, "Role", "hyperpod-ns-team-a-namespace-role")
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": JOB_VERBS},
        {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs", "mpijobs"], "verbs": JOB_VERBS},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        *HYPERPOD_CLIENT_RULES,
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": READ},
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads"], "verbs": [*READ, "patch"]},
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["localqueues"], "verbs": READ},
    ]
    for obj in (cluster_role, role):
        assert_least_privilege(obj)
        assert "describe" not in str(obj["rules"])
    assert "hyperpod-ns-team-a" not in [n["metadata"]["name"] for n in of_kind(objects, "Namespace")], (
        "HyperPod task governance creates the namespace; the chart does not by default"
    )


def test_no_team_id_no_team_objects(render3: Renderer) -> None:
    objects = render3()
    assert not [o for o in objects if o["metadata"]["name"].startswith("hyperpod-ns-")]


def test_job_kinds_follow_the_subchart_values(render3: Renderer) -> None:
    objects = render3(
        "computeQuotaTarget.targetId=team-a", "team-role-and-bindings.jobResources={tfjobs,jaxjobs}"
    )
    role = named(objects, "Role", "hyperpod-ns-team-a-namespace-role")
    assert role["rules"][1] == {
        "apiGroups": ["kubeflow.org"],
        "resources": ["tfjobs", "jaxjobs"],
        "verbs": JOB_VERBS,
    }
    batch_only = render3("computeQuotaTarget.targetId=team-a", "team-role-and-bindings.jobResources=null")
    rules = named(batch_only, "Role", "hyperpod-ns-team-a-namespace-role")["rules"]
    assert [r for r in rules if "kubeflow.org" in r["apiGroups"]] == []


def test_namespace_is_created_on_request(render3: Renderer) -> None:
    objects = render3("computeQuotaTarget.targetId=team-a", "team-role-and-bindings.namespace.create=true")
    namespace = named(objects, "Namespace", "hyperpod-ns-team-a")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/component"] == "team-role-and-bindings"


def test_a_forty_character_id_fits_every_name(render3: Renderer) -> None:
    team = "t" * 40
    objects = render3(f"computeQuotaTarget.targetId={team}", "team-role-and-bindings.namespace.create=true")
    assert len(named(objects, "Namespace", f"hyperpod-ns-{team}")["metadata"]["name"]) <= 63
    assert_team_objects(objects, team, UMBRELLA_LABEL)


# --- umbrella / subchart combinations: rendered exactly once --------------------


def test_umbrella_id_alone_renders_from_the_umbrella(render: Renderer) -> None:
    assert_team_objects(render("computeQuotaTarget.targetId=team-a"), "team-a", UMBRELLA_LABEL)


def test_enabled_subchart_with_its_own_id_renders_from_the_subchart(render: Renderer) -> None:
    objects = render(
        "team-role-and-bindings.enabled=true", "team-role-and-bindings.computeQuotaTarget.targetId=team-a"
    )
    assert_team_objects(objects, "team-a", SUBCHART_LABEL)


def test_the_same_id_in_both_places_renders_once(render: Renderer) -> None:
    objects = render(
        "computeQuotaTarget.targetId=team-a",
        "team-role-and-bindings.enabled=true",
        "team-role-and-bindings.computeQuotaTarget.targetId=team-a",
    )
    assert_team_objects(objects, "team-a", SUBCHART_LABEL)


def test_two_different_ids_fail(render: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render(
            "computeQuotaTarget.targetId=team-a",
            "team-role-and-bindings.enabled=true",
            "team-role-and-bindings.computeQuotaTarget.targetId=team-b",
        )
    assert "two different team ids" in str(error.value)
    assert "Set only --set computeQuotaTarget.targetId=<id>" in str(error.value)


def test_enabled_subchart_without_its_own_id_explains_the_umbrella_way(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3("computeQuotaTarget.targetId=team-a", "team-role-and-bindings.enabled=true")
    message = str(error.value)
    assert "team-role-and-bindings is enabled but has no team id" in message
    assert "--set computeQuotaTarget.targetId=team-a alone turns the team role on" in message
    assert "leave team-role-and-bindings.enabled unset" in message


def test_subchart_id_while_disabled_points_to_the_top_level_id(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3("team-role-and-bindings.computeQuotaTarget.targetId=team-c")
    message = str(error.value)
    assert "team-role-and-bindings.computeQuotaTarget.targetId=team-c has no effect" in message
    assert "--set computeQuotaTarget.targetId=team-c" in message


# --- standalone install -----------------------------------------------------------


def test_standalone_install_renders_the_team_objects(render: Renderer) -> None:
    objects = render("computeQuotaTarget.targetId=team-b", chart=TEAM_CHART)
    assert_team_objects(objects, "team-b", SUBCHART_LABEL)
    assert len(objects) == 4
    cluster_role = named(objects, "ClusterRole", "hyperpod-ns-team-b-cluster-role")
    assert cluster_role["rules"][1]["resourceNames"] == ["hyperpod-ns-team-b-clusterqueue"]


def test_standalone_install_can_create_the_namespace(render3: Renderer) -> None:
    objects = render3("computeQuotaTarget.targetId=team-b", "namespace.create=true", chart=TEAM_CHART)
    named(objects, "Namespace", "hyperpod-ns-team-b")
    assert len(objects) == 5


def test_standalone_install_without_an_id_says_which_set_to_add(render: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render(chart=TEAM_CHART)
    message = str(error.value)
    standalone = (
        f"--set computeQuotaTarget.targetId=team-a when installing {CHART_PATH}/charts/{TEAM} on its own"
    )
    assert standalone in message
    assert f"With the umbrella chart {CHART_PATH}, --set computeQuotaTarget.targetId=team-a alone" in message


def test_standalone_notes_name_the_team_objects() -> None:
    notes = install_notes("computeQuotaTarget.targetId=team-b", chart=TEAM_CHART)
    assert "Role hyperpod-ns-team-b-namespace-role (namespace hyperpod-ns-team-b)" in notes
    assert "--as-group=hyperpod-ns-team-b-namespace-level-group" in notes


def test_umbrella_notes_show_the_team_once() -> None:
    notes = install_notes(
        "computeQuotaTarget.targetId=team-a",
        "team-role-and-bindings.enabled=true",
        "team-role-and-bindings.computeQuotaTarget.targetId=team-a",
    )
    assert notes.count("ClusterRole hyperpod-ns-team-a-cluster-role") == 1
    assert install_notes("computeQuotaTarget.targetId=team-a").count("hyperpod-ns-team-a-cluster-role") == 1
    assert "team-role-and-bindings" not in install_notes()


# --- id validation and schema -------------------------------------------------------


@pytest.mark.parametrize("team", ["Team-A", "team_a", "-team", "team-", "t" * 41])
@pytest.mark.parametrize("chart", [CHART, TEAM_CHART], ids=["umbrella", "standalone"])
def test_schemas_reject_an_invalid_id(render3: Renderer, team: str, chart: Path) -> None:
    with pytest.raises(RenderError, match="targetId"):
        render3(f"computeQuotaTarget.targetId={team}", chart=chart)


@pytest.mark.parametrize("chart", [CHART, TEAM_CHART], ids=["umbrella", "standalone"])
def test_templates_reject_a_bad_id_without_the_schema(render3: Renderer, chart: Path) -> None:
    with pytest.raises(RenderError) as error:
        render_unchecked(render3, "computeQuotaTarget.targetId=Team_A", chart=chart)
    assert 'computeQuotaTarget.targetId="Team_A" is not a valid team id' in str(error.value)
    assert "e.g. --set computeQuotaTarget.targetId=team-a" in str(error.value)


@pytest.mark.parametrize("chart", [CHART, TEAM_CHART], ids=["umbrella", "standalone"])
def test_templates_reject_a_long_id_without_the_schema(render3: Renderer, chart: Path) -> None:
    team = "ab" * 21
    with pytest.raises(RenderError) as error:
        render_unchecked(render3, f"computeQuotaTarget.targetId={team}", chart=chart)
    assert "is 42 characters long; a team id has at most 40" in str(error.value)


@pytest.mark.parametrize(
    "assignment, offender",
    [
        ("computeQuotaTarget.targetID=team-a", "targetID"),
        ("namespace.crate=true", "crate"),
        ("jobResources={pytorchjob}", "jobResources"),
        ("namespaces.create=true", "namespaces"),
    ],
)
def test_standalone_schema_rejects_typos(render3: Renderer, assignment: str, offender: str) -> None:
    with pytest.raises(RenderError, match="schema") as error:
        render3("computeQuotaTarget.targetId=team-a", assignment, chart=TEAM_CHART)
    assert offender in str(error.value)


def test_umbrella_validates_the_subchart_values(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="schema") as error:
        render3("computeQuotaTarget.targetId=team-a", "team-role-and-bindings.namespace.crate=true")
    assert "team-role-and-bindings" in str(error.value) and "crate" in str(error.value)


def test_team_scenario(render3: Renderer) -> None:
    objects = render3(values_files=[CHART / "ci/52-team-role-values.yaml"])
    named(objects, "Namespace", "hyperpod-ns-team-a")
    assert_team_objects(objects, "team-a", UMBRELLA_LABEL)
