"""The health monitoring agent: which image (region table and precedence),
where it runs, what it may do, and every refusal. On global.platform=hyperpod
it must be a drop-in for HyperPod's own chart: the UPSTREAM_* facts below are
that chart's names, selectors, grants and tolerations."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.instance_types import of_family
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.wire import NODE_HEALTH_TOLERATION
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import (
    CHART,
    Renderer,
    affinity_instance_types,
    named,
    of_kind,
    pod_spec,
)

NVIDIA = of_family("nvidia")
NEURON = of_family("neuron")

# The regions AWS publishes the agent in, and the ECR account of each.
REGION_ACCOUNTS = {
    "us-east-1": "767398015722",
    "us-west-2": "905418368575",
    "us-east-2": "851725546812",
    "us-west-1": "011528288828",
    "eu-central-1": "211125453373",
    "eu-north-1": "654654141839",
    "eu-west-1": "533267293120",
    "eu-west-2": "011528288831",
    "ap-northeast-1": "533267052152",
    "ap-south-1": "011528288864",
    "ap-southeast-1": "905418428165",
    "ap-southeast-2": "851725636348",
    "sa-east-1": "025066253954",
    "ca-central-1": "843976229209",
    "eu-south-2": "626887787726",
    "ap-southeast-3": "971422672635",
    "ap-southeast-4": "084375568333",
}
DEFAULT_TAG = "1.0.1892.0_1.0.424.0"
MINIMUM_TAG = "1.0.643.0_1.0.192.0"
DIGEST = "sha256:" + "cd" * 32
AGENTS = {"nvidia": "health-monitoring-agent", "neuron": "health-monitoring-agent-non-nvidia"}
ROLE = "health-monitoring-agent"
NAMESPACE = "aws-hyperpod"

# HyperPod's own chart (the upstream contract): where its objects are and how its workloads select.
UPSTREAM_OBJECTS = {
    ("ServiceAccount", NAMESPACE, "health-monitoring-agent"),
    ("ClusterRole", "", "health-monitoring-agent"),
    ("ClusterRoleBinding", "", "health-monitoring-agent"),
    ("DaemonSet", NAMESPACE, "health-monitoring-agent"),
    ("DaemonSet", NAMESPACE, "health-monitoring-agent-non-nvidia"),
}
UPSTREAM_SELECTORS = {name: {"matchLabels": {"app": name}} for name in AGENTS.values()}
UPSTREAM_TOLERATIONS = [
    {"operator": "Exists", "effect": "NoSchedule"},
    {"operator": "Exists", "effect": "NoExecute"},
]
# (apiGroup, resource, verb) the agent's ServiceAccount is granted upstream.
UPSTREAM_GRANTS = {
    ("", "nodes", "get"),
    ("", "nodes", "patch"),
    ("", "nodes/status", "patch"),
    *((group, "events", verb) for group in ("", "events.k8s.io") for verb in ("create", "patch", "update")),
}
# The instance types each upstream DaemonSet is placed on (ours may add more).
UPSTREAM_NON_NVIDIA_TYPES = {
    "ml.inf2.xlarge", "ml.inf2.8xlarge", "ml.inf2.24xlarge", "ml.inf2.48xlarge",
    "ml.trn1.32xlarge", "ml.trn1n.32xlarge", "ml.trn2.3xlarge", "ml.trn2.48xlarge",
}


def regional(region: str, tag: str = DEFAULT_TAG) -> str:
    account = REGION_ACCOUNTS[region]
    return f"{account}.dkr.ecr.{region}.amazonaws.com/hyperpod-health-monitoring-agent:{tag}"


def agents(objects: list[Manifest]) -> list[Manifest]:
    return [
        o
        for o in of_kind(objects, "DaemonSet")
        if o["metadata"]["labels"]["app.kubernetes.io/name"] == "health-monitoring-agent"
    ]


def agent_container(workload: Manifest) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]


def images(objects: list[Manifest]) -> set[str]:
    return {agent_container(ds)["image"] for ds in agents(objects)}


# --- defaults: placement, tolerations, identity --------------------------------------


def test_default_agents_run_on_nvidia_and_neuron_nodes_from_the_source_of_truth(render: Renderer) -> None:
    objects = render()
    assert sorted(ds["metadata"]["name"] for ds in agents(objects)) == sorted(AGENTS.values())
    assert affinity_instance_types(named(objects, "DaemonSet", AGENTS["nvidia"])) == NVIDIA
    assert affinity_instance_types(named(objects, "DaemonSet", AGENTS["neuron"])) == NEURON
    assert images(objects) == {regional("us-east-1")}
    for ds in agents(objects):
        assert ds["metadata"]["namespace"] == NAMESPACE
        assert pod_spec(ds)["serviceAccountName"] == "health-monitoring-agent"
        assert pod_spec(ds)["priorityClassName"] == "system-node-critical"


def grants(role: Manifest) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_the_objects_hyperpod_looks_up_have_its_names_and_namespaces(render: Renderer) -> None:
    objects = render()
    ours = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}
    assert ours >= UPSTREAM_OBJECTS


def test_the_subchart_creates_no_namespace() -> None:
    """aws-hyperpod belongs to the umbrella chart (kept on uninstall); the agent only puts objects in it."""
    for template in (CHART / "charts/health-monitoring-agent/templates").iterdir():
        assert "kind: Namespace" not in template.read_text(), template.name


@pytest.mark.parametrize("agent", ["aws", "open"])
def test_selectors_are_upstreams_so_an_upgrade_keeps_the_daemonsets(render3: Renderer, agent: str) -> None:
    """A DaemonSet's selector cannot change: these must equal upstream's for `helm upgrade` to work."""
    for ds in agents(render3(f"health-monitoring-agent.agent={agent}")):
        name = ds["metadata"]["name"]
        assert ds["spec"]["selector"] == UPSTREAM_SELECTORS[name]
        assert ds["spec"]["template"]["metadata"]["labels"]["app"] == name
        assert agent_container(ds)["name"] == name


def test_upstream_placement_is_kept(render3: Renderer) -> None:
    neuron = set(affinity_instance_types(named(render3(), "DaemonSet", AGENTS["neuron"])))
    assert neuron >= UPSTREAM_NON_NVIDIA_TYPES
    assert not set(NVIDIA) & neuron


@pytest.mark.parametrize("agent", ["aws", "open"])
def test_agents_tolerate_every_taint_that_could_keep_them_off_a_node(render3: Renderer, agent: str) -> None:
    for ds in agents(render3(f"health-monitoring-agent.agent={agent}")):
        tolerations = pod_spec(ds)["tolerations"]
        assert tolerations == UPSTREAM_TOLERATIONS
        assert tolerates(tolerations, NODE_HEALTH_TOLERATION)


def test_extra_tolerations_come_after_the_built_in_ones(render3: Renderer) -> None:
    extra = {"key": "example.com/maintenance", "operator": "Exists", "effect": "PreferNoSchedule"}
    objects = render3("health-monitoring-agent.tolerations[0].key=example.com/maintenance",
                      "health-monitoring-agent.tolerations[0].operator=Exists",
                      "health-monitoring-agent.tolerations[0].effect=PreferNoSchedule")
    for ds in agents(objects):
        assert pod_spec(ds)["tolerations"] == [*UPSTREAM_TOLERATIONS, extra]


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Whether a taint (key, value, effect) is tolerated, by Kubernetes' matching rules."""
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint["effect"]:
            continue
        if toleration.get("key") and toleration["key"] != taint["key"]:
            continue
        if toleration.get("operator", "Equal") == "Exists" or toleration.get("value") == taint.get("value"):
            return True
    return False


def test_agent_rbac_is_upstreams_and_bound_to_its_account(render: Renderer) -> None:
    objects = render()
    account = named(objects, "ServiceAccount", "health-monitoring-agent")
    assert account["metadata"]["namespace"] == NAMESPACE
    role = named(objects, "ClusterRole", ROLE)
    assert grants(role) == UPSTREAM_GRANTS
    binding = named(objects, "ClusterRoleBinding", ROLE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": ROLE,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "health-monitoring-agent", "namespace": NAMESPACE}
    ]


def test_every_grant_says_what_it_is_for() -> None:
    """Each rule of the AWS agent's role has a comment above it (the template is the documentation)."""
    text = (CHART / "charts/health-monitoring-agent/templates/rbac.yaml").read_text()
    aws = text.split("{{- else }}", 1)[1].split("{{- end }}", 1)[0]
    lines = aws.splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip().startswith("- apiGroups:")]
    assert len(rules) == 3
    assert all(lines[i - 1].strip().startswith("#") for i in rules)


def test_role_name_follows_fullname_override(render3: Renderer) -> None:
    objects = render3("health-monitoring-agent.fullnameOverride=hma-team-a")
    assert named(objects, "ClusterRoleBinding", "hma-team-a")["roleRef"]["name"] == "hma-team-a"
    named(objects, "ClusterRole", "hma-team-a")


def test_agent_is_non_root_reads_the_host_read_only_and_knows_its_node(render3: Renderer) -> None:
    objects = render3()
    for ds in agents(objects):
        spec = pod_spec(ds)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 1000
        container = agent_container(ds)
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["readOnlyRootFilesystem"] is True
        assert "privileged" not in security
        host = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
        assert set(host.values()) == {"/var/log", "/dev/kmsg", "/etc/localtime"}
        for mount in container["volumeMounts"]:
            if mount["name"] in host:
                assert mount.get("readOnly") is True, mount
        node_name = next(e for e in container["env"] if e["name"] == "NODE_NAME")
        assert node_name["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
        assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}


def test_neuron_agent_runs_the_log_monitor_without_nvidia_devices(render3: Renderer) -> None:
    objects = render3()
    neuron = agent_container(named(objects, "DaemonSet", AGENTS["neuron"]))
    assert "--enable-k8s-exporter=false" in neuron["args"]
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in neuron["env"]
    nvidia = agent_container(named(objects, "DaemonSet", AGENTS["nvidia"]))
    assert "args" not in nvidia
    assert all(e["name"] != "NVIDIA_VISIBLE_DEVICES" for e in nvidia["env"])


@pytest.mark.parametrize(("assignments", "namespace"), [
    (("health-monitoring-agent.namespace=hyperpod-health",), "hyperpod-health"),
    (("health-monitoring-agent.namespace=",), "kube-system"),
    (("health-monitoring-agent.namespace=hyperpod-health", "health-monitoring-agent.agent=open"),
     "hyperpod-health"),
], ids=["set", "empty-is-release-namespace", "open-agent-follows"])
def test_namespace_is_configurable(render3: Renderer, assignments: tuple[str, ...], namespace: str) -> None:
    objects = render3(*assignments)
    assert {ds["metadata"]["namespace"] for ds in agents(objects)} == {namespace}
    assert named(objects, "ServiceAccount", "health-monitoring-agent")["metadata"]["namespace"] == namespace
    assert named(objects, "ClusterRoleBinding", ROLE)["subjects"][0]["namespace"] == namespace


def test_resources_are_configurable(render3: Renderer) -> None:
    objects = render3(
        "health-monitoring-agent.resources.requests.cpu=250m",
        "health-monitoring-agent.resources.limits.memory=1Gi",
    )
    for ds in agents(objects):
        resources = agent_container(ds)["resources"]
        assert resources["requests"]["cpu"] == "250m"
        assert resources["limits"]["memory"] == "1Gi"


# --- instance types -----------------------------------------------------------------


def test_global_extra_types_extend_and_an_override_replaces(render3: Renderer) -> None:
    objects = render3(
        "global.instanceTypes.nvidia={ml.p5.24xlarge}",
        "global.instanceTypes.neuron={ml.trn3.48xlarge}",
        "health-monitoring-agent.daemonSets.neuron.instanceTypes={ml.trn2.48xlarge}",
    )
    assert affinity_instance_types(named(objects, "DaemonSet", AGENTS["nvidia"])) == [
        *NVIDIA,
        "ml.p5.24xlarge",
    ]
    assert affinity_instance_types(named(objects, "DaemonSet", AGENTS["neuron"])) == [
        "ml.trn2.48xlarge",
        "ml.trn3.48xlarge",
    ]


def test_a_family_can_be_turned_off(render3: Renderer) -> None:
    objects = render3("health-monitoring-agent.daemonSets.neuron.enabled=false")
    assert [ds["metadata"]["name"] for ds in agents(objects)] == [AGENTS["nvidia"]]


def test_turning_the_agent_off_removes_its_objects(render3: Renderer) -> None:
    objects = render3("health-monitoring-agent.enabled=false")
    assert not agents(objects)
    assert not [o for o in objects if o["metadata"]["name"] in ("health-monitoring-agent", ROLE)]


# --- the region table and precedence ----------------------------------------------------


def test_the_region_table_is_upstreams_seventeen() -> None:
    assert len(REGION_ACCOUNTS) == 17


@pytest.mark.parametrize("region", REGION_ACCOUNTS)
def test_every_published_region_renders_its_account(render3: Renderer, region: str) -> None:
    assert images(render3(f"global.region={region}")) == {regional(region)}


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        pytest.param((), regional("us-east-1"), id="nothing-set-us-east-1"),
        pytest.param(("global.region=us-west-2",), regional("us-west-2"), id="global-region"),
        pytest.param(
            ("global.region=us-west-2", "health-monitoring-agent.region=eu-north-1"),
            regional("eu-north-1"),
            id="agent-region-over-global",
        ),
        pytest.param(
            (
                "global.region=us-west-2",
                "health-monitoring-agent.region=eu-north-1",
                "health-monitoring-agent.image.registry=registry.example.com",
                "health-monitoring-agent.image.repository=hp/agent",
                "health-monitoring-agent.image.tag=dev-42",
            ),
            "registry.example.com/hp/agent:dev-42",
            id="explicit-image-over-regions",
        ),
    ],
)
def test_image_precedence(render: Renderer, assignments: tuple[str, ...], expected: str) -> None:
    assert images(render(*assignments)) == {expected}


def test_explicit_image_takes_the_global_registry_and_a_digest_wins(render3: Renderer) -> None:
    objects = render3(
        "global.imageRegistry=mirror.example.com",
        "health-monitoring-agent.image.repository=hyperpod-health-monitoring-agent",
        "health-monitoring-agent.image.tag=1.0.700.0_1.0.200.0",
        f"health-monitoring-agent.image.digest={DIGEST}",
    )
    assert images(objects) == {f"mirror.example.com/hyperpod-health-monitoring-agent@{DIGEST}"}


def test_explicit_image_defaults_its_tag_to_the_agent_release(render3: Renderer) -> None:
    objects = render3("health-monitoring-agent.image.repository=registry.example.com/agent")
    assert images(objects) == {f"registry.example.com/agent:{DEFAULT_TAG}"}


def test_regional_image_keeps_its_registry_under_a_global_mirror(render3: Renderer) -> None:
    """The region decides the agent's registry; to mirror it, set image.repository."""
    assert images(render3("global.imageRegistry=mirror.example.com")) == {regional("us-east-1")}


def test_regional_image_digest_wins_over_the_tag(render3: Renderer) -> None:
    objects = render3("global.region=eu-west-2", f"health-monitoring-agent.image.digest={DIGEST}")
    account = REGION_ACCOUNTS["eu-west-2"]
    assert images(objects) == {
        f"{account}.dkr.ecr.eu-west-2.amazonaws.com/hyperpod-health-monitoring-agent@{DIGEST}"
    }


def test_a_newer_agent_release_is_accepted(render3: Renderer) -> None:
    objects = render3("health-monitoring-agent.image.tag=1.0.935.0_1.0.282.0")
    assert images(objects) == {regional("us-east-1", "1.0.935.0_1.0.282.0")}


# --- the upstream chart's keys: imageTag, hmaimage, debug ------------------------------------


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        pytest.param(("health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0",),
                     regional("us-east-1", "1.0.1900.0_1.0.430.0"), id="imageTag-is-the-regional-tag"),
        pytest.param(("health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0",
                      "health-monitoring-agent.image.tag=1.0.1900.0_1.0.430.0", "global.region=eu-south-2"),
                     regional("eu-south-2", "1.0.1900.0_1.0.430.0"), id="imageTag-equal-to-image.tag"),
        pytest.param(("health-monitoring-agent.hmaimage=registry.example.com/hma:custom",
                      "health-monitoring-agent.region=eu-north-1", "global.region=us-west-2"),
                     "registry.example.com/hma:custom", id="hmaimage-over-every-region"),
        pytest.param(("health-monitoring-agent.hmaimage=registry.example.com/hma:custom",
                      "health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0",
                      "global.imageRegistry=mirror.example.com"),
                     "registry.example.com/hma:custom", id="hmaimage-as-it-is"),
    ],
)
def test_upstream_image_keys_keep_their_meaning(render3: Renderer, assignments: tuple[str, ...],
                                                expected: str) -> None:
    assert images(render3(*assignments)) == {expected}


def test_hmaimage_runs_on_the_generic_platform_as_an_image_the_user_provides(render3: Renderer) -> None:
    objects = render3("global.platform=generic", "health-monitoring-agent.agent=aws",
                      "health-monitoring-agent.hmaimage=example.com/agent:7")
    assert images(objects) == {"example.com/agent:7"}


def test_an_old_imagetag_is_refused_like_an_old_image_tag(render3: Renderer) -> None:
    with pytest.raises(RenderError, match=r"is older than 1\.0\.643\.0_1\.0\.192\.0"):
        render3("health-monitoring-agent.imageTag=1.0.500.0_1.0.100.0")


def test_imagetag_and_image_tag_that_disagree_fail(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3("health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0",
                "health-monitoring-agent.image.tag=1.0.1892.0_1.0.424.0")
    assert ("health-monitoring-agent.image.tag=1.0.1892.0_1.0.424.0 and "
            "health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0 disagree") in str(error.value)
    assert "remove --set health-monitoring-agent.imageTag" in str(error.value)


@pytest.mark.parametrize("key", ["registry", "repository", "tag", "digest"])
def test_hmaimage_with_an_image_key_fails(render3: Renderer, key: str) -> None:
    value = DIGEST if key == "digest" else DEFAULT_TAG if key == "tag" else "example.com"
    with pytest.raises(RenderError) as error:
        render3("health-monitoring-agent.hmaimage=example.com/agent:7",
                f"health-monitoring-agent.image.{key}={value}")
    message = str(error.value)
    assert f"example.com/agent:7 and health-monitoring-agent.image.{key}={value} both name" in message
    assert f"remove --set health-monitoring-agent.image.{key}" in str(error.value)


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "source"),
    [
        ("global.region=me-central-1", "region me-central-1 from global.region"),
        (
            "health-monitoring-agent.region=me-south-1",
            "region me-south-1 from health-monitoring-agent.region",
        ),
    ],
)
def test_unknown_region_fails_listing_the_known_ones(render3: Renderer, assignment: str, source: str) -> None:
    with pytest.raises(RenderError) as error:
        render3(assignment)
    message = str(error.value)
    assert f"no agent image is published for {source}" in message
    assert "Known regions: " + ", ".join(sorted(REGION_ACCOUNTS)) in message
    assert "--set health-monitoring-agent.region=<one of them>" in message
    assert "--set health-monitoring-agent.image.repository=" in message


def test_the_aws_agent_on_the_generic_platform_fails_instead_of_rendering_an_agent_that_cannot_run(
    render: Renderer,
) -> None:
    with pytest.raises(RenderError) as error:
        render("global.platform=generic", "health-monitoring-agent.agent=aws")
    message = str(error.value)
    assert "agent=aws with global.platform=generic" in message
    assert "remove --set health-monitoring-agent.agent=aws" in message
    assert "--set health-monitoring-agent.image.repository=" in message


def test_generic_platform_runs_an_aws_agent_image_the_user_provides(render3: Renderer) -> None:
    objects = render3("global.platform=generic", "health-monitoring-agent.agent=aws",
                      "health-monitoring-agent.image.repository=example.com/agent")
    assert images(objects) == {f"example.com/agent:{DEFAULT_TAG}"}


def test_generic_platform_with_the_agent_off_renders(render3: Renderer) -> None:
    objects = render3("global.platform=generic", "health-monitoring-agent.enabled=false")
    assert not agents(objects)


def test_a_registry_without_a_repository_fails(render3: Renderer) -> None:
    with pytest.raises(
        RenderError, match=r"image.registry=registry.example.com is set but image.repository is not"
    ):
        render3("health-monitoring-agent.image.registry=registry.example.com")


def test_an_older_agent_release_fails(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3("health-monitoring-agent.image.tag=1.0.642.9_1.0.999.0")
    assert (
        "health-monitoring-agent.image.tag=1.0.642.9_1.0.999.0 is older than 1.0.643.0_1.0.192.0, "
        "the oldest agent release this chart supports"
    ) in str(error.value)


def test_a_tag_that_is_not_an_agent_release_fails(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3("health-monitoring-agent.image.tag=latest")
    assert "image.tag=latest is not a HyperPod health monitoring agent release tag" in str(error.value)
    assert f"--set health-monitoring-agent.image.tag={MINIMUM_TAG}" in str(error.value)


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("health-monitoring-agent.regoin=us-west-2", "regoin"),
        ("health-monitoring-agent.region=US-WEST-2", "region"),
        ("health-monitoring-agent.image.tga=x", "tga"),
        ("health-monitoring-agent.daemonSets.nvidia.instanceType={ml.p5.48xlarge}", "instanceType"),
        ("health-monitoring-agent.daemonSets.gaudi.enabled=true", "gaudi"),
        ("health-monitoring-agent.securityContext.runAsUser=0", "runAsUser"),
        ("health-monitoring-agent.hmaImage=example.com/agent:1", "hmaImage"),
        ("health-monitoring-agent.image_tag=1.0.1892.0_1.0.424.0", "image_tag"),
        ("health-monitoring-agent.debug=yes", "debug"),
    ],
)
def test_schema_rejects_typos(render3: Renderer, assignment: str, complaint: str) -> None:
    with pytest.raises(RenderError, match=complaint):
        render3(assignment)


# --- NOTES ----------------------------------------------------------------------------------


def notes(*assignments: str) -> str:
    """The install notes as Helm 4 prints them (a client-side dry run needs no cluster)."""
    args = [str(helm_path(4)), "install", "dependencies", str(CHART), "--namespace", "kube-system"]
    args += ["--dry-run=client", "--hide-notes=false"]
    for assignment in assignments:
        args += ["--set", assignment]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return result.stdout.split("NOTES:", 1)[1]


@pytest.mark.parametrize(
    ("assignments", "rule"),
    [
        (
            (),
            "region us-east-1, the default: neither health-monitoring-agent.region nor global.region is set",
        ),
        (("global.region=us-west-2",), "region us-west-2 from global.region"),
        (
            ("global.region=us-west-2", "health-monitoring-agent.region=sa-east-1"),
            "region sa-east-1 from health-monitoring-agent.region",
        ),
        (
            ("health-monitoring-agent.image.repository=example.com/agent",),
            "explicit image from health-monitoring-agent.image.repository",
        ),
        (
            ("health-monitoring-agent.hmaimage=example.com/agent:7", "global.region=us-west-2"),
            "image from health-monitoring-agent.hmaimage, used as it is",
        ),
        (
            ("health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0",),
            "neither health-monitoring-agent.region nor global.region is set, and no node has a region label",
        ),
    ],
)
def test_notes_say_which_image_and_why(assignments: tuple[str, ...], rule: str) -> None:
    line = agent_line(*assignments)
    assert rule in line
    assert "ignored keys" not in line
    assert f"in namespace {NAMESPACE}" in line
    assert "dkr.ecr" in line or "example.com/agent" in line


def agent_line(*assignments: str) -> str:
    return next(text for text in notes(*assignments).splitlines() if "health-monitoring-agent:" in text)


@pytest.mark.parametrize(
    ("assignments", "ignored"),
    [
        (("health-monitoring-agent.debug=true",),
         ["debug (the image line above says which rule chose the image)"]),
        (("health-monitoring-agent.hmaimage=example.com/agent:7",
          "health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0"),
         ["imageTag (hmaimage is a complete reference: put the tag there)"]),
        (("global.platform=generic", "health-monitoring-agent.imageTag=1.0.1900.0_1.0.430.0"),
         ["hmaimage and imageTag (the open agent's image is openAgent.image)"]),
    ],
    ids=["debug", "imageTag-under-hmaimage", "image-keys-under-the-open-agent"],
)
def test_notes_name_the_upstream_keys_that_change_nothing(assignments: tuple[str, ...],
                                                          ignored: list[str]) -> None:
    assert agent_line(*assignments).endswith("; ignored keys: " + "; ".join(ignored))
