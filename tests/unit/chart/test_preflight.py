"""Preflight's pure decisions on hand-made objects: who owns an object, Helm's own refusal,
what each conflict offers as a way out (never deleting a CRD that holds jobs), the
prerequisites, the kubeVersion reader, workload readiness and the report's rendering."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hyperpod_deps.chart.inventory import origin
from hyperpod_deps.chart.preflight import (
    AccessCheck,
    ClusterFacts,
    ObjectRef,
    Observed,
    adoption_refusal,
    decide,
    missing_namespace_fix,
)
from hyperpod_deps.chart.release import readiness
from hyperpod_deps.cli.preflight import as_dict, as_text
from hyperpod_deps.core.ownership import Owner, Release, adoption_patch, classify, helm_refusal
from hyperpod_deps.core.versions import UnsupportedConstraint, satisfies

RELEASE = Release("dependencies", "kube-system")
COMPONENT = "app.kubernetes.io/component"


def helm_meta(release: str, namespace: str, **annotations: str) -> dict[str, Any]:
    """Metadata as Helm leaves it on the objects of a release."""
    return {"labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace,
                            **annotations}}


OWNED = helm_meta("dependencies", "kube-system")


def written_by(*managers: str, subresource: str | None = None) -> list[dict[str, Any]]:
    return [{"manager": m, "operation": "Update", **({"subresource": subresource} if subresource else {})}
            for m in managers]


def live(name: str = "neuron-device-plugin", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, **meta}}


def service_account(live_meta: dict[str, Any] | None, component: str = "neuron-device-plugin") -> Observed:
    rendered = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "neuron-device-plugin", "labels": {COMPONENT: component}}}
    ref = ObjectRef("v1", "ServiceAccount", "neuron-device-plugin", "kube-system")
    return Observed(ref, rendered, None if live_meta is None else live(**live_meta))


def crd(live_meta: dict[str, Any] | None, name: str = "pytorchjobs.kubeflow.org", kind: str = "PyTorchJob",
        component: str = "trainingOperators", keep: bool = True) -> Observed:
    annotations = {"helm.sh/resource-policy": "keep"} if keep else {}
    rendered = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": name, "annotations": annotations,
                             "labels": {COMPONENT: component}},
                "spec": {"group": "kubeflow.org", "names": {"kind": kind}}}
    ref = ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", name, None)
    existing = None if live_meta is None else {"apiVersion": ref.api_version, "kind": ref.kind,
                                               "metadata": {"name": name, **live_meta}}
    return Observed(ref, rendered, existing)


def facts(*observed: Observed, **extra: Any) -> ClusterFacts:
    settings: dict[str, Any] = {"namespaces": frozenset({"kube-system", "default"}), **extra}
    return ClusterFacts("v1.35.4", list(observed), **settings)


# --- ownership -------------------------------------------------------------------------------

def test_an_object_with_this_releases_metadata_is_ours() -> None:
    assert classify(live(**OWNED), RELEASE).owner is Owner.THIS_RELEASE
    assert helm_refusal(live(**OWNED), RELEASE) is None


def test_another_release_is_named_with_its_namespace() -> None:
    ownership = classify(live(**helm_meta("kubeflow", "kubeflow")), RELEASE)
    assert ownership.owner is Owner.OTHER_RELEASE
    assert ownership.release == Release("kubeflow", "kubeflow")
    assert ownership.describe() == "Helm release kubeflow in namespace kubeflow"


def test_the_same_release_name_in_another_namespace_is_another_release() -> None:
    elsewhere = helm_meta("dependencies", "default")
    assert classify(live(**elsewhere), RELEASE).release == Release("dependencies", "default")


def test_kubectl_is_named_from_managed_fields_and_control_plane_writers_are_left_out() -> None:
    fields = [*written_by("kubectl-client-side-apply", "kube-controller-manager"),
              *written_by("operator", subresource="status")]
    ownership = classify(live(managedFields=fields), RELEASE)
    assert ownership.owner is Owner.TOOL
    assert ownership.managers == ("kubectl-client-side-apply",)
    assert ownership.describe() == "kubectl (managedFields: kubectl-client-side-apply)"


@pytest.mark.parametrize(("manager", "tool"), [
    ("kubectl-create", "kubectl"), ("kubectl", "kubectl"), ("argocd-controller", "Argo CD"),
    ("kustomize-controller", "Flux"), ("helm-controller", "Flux"), ("helm", "Helm"),
    ("terraform-provider-kubernetes", "Terraform"), ("my-installer", "my-installer"),
])
def test_tools_are_recognised_by_manager_name(manager: str, tool: str) -> None:
    assert classify(live(managedFields=written_by(manager)), RELEASE).tools == (tool,)


def test_no_metadata_and_no_managed_fields_means_no_owner_recorded() -> None:
    ownership = classify(live(), RELEASE)
    assert ownership.owner is Owner.UNKNOWN
    assert "no owner recorded" in ownership.describe()


def test_a_helm_label_without_release_annotations_is_not_a_release() -> None:
    ownership = classify(live(labels={"app.kubernetes.io/managed-by": "Helm"},
                              managedFields=written_by("kubectl-client-side-apply")), RELEASE)
    assert ownership.owner is Owner.TOOL
    assert ownership.helm_label_only
    assert "without Helm's release annotations" in ownership.describe()


def test_owner_references_are_reported() -> None:
    ownership = classify(live(ownerReferences=[{"kind": "Deployment", "name": "installer"}]), RELEASE)
    assert ownership.controllers == ("Deployment/installer",)
    assert "ownerReferences: Deployment/installer" in ownership.describe()


def test_helm_refusal_is_helms_message_word_for_word() -> None:
    assert helm_refusal(live(), RELEASE) == (
        'invalid ownership metadata; label validation error: missing key "app.kubernetes.io/managed-by": '
        'must be set to "Helm"; annotation validation error: missing key "meta.helm.sh/release-name": '
        'must be set to "dependencies"; annotation validation error: missing key '
        '"meta.helm.sh/release-namespace": must be set to "kube-system"')
    other = live(**helm_meta("x", "kube-system"))
    assert helm_refusal(other, RELEASE) == ('invalid ownership metadata; annotation validation error: key '
                                            '"meta.helm.sh/release-name" must equal "dependencies": current '
                                            'value is "x"')


def test_adoption_patches_one_label_and_two_annotations_only() -> None:
    assert adoption_patch(RELEASE) == {"metadata": {
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "dependencies",
                        "meta.helm.sh/release-namespace": "kube-system"}}}


# --- conflicts and their ways out --------------------------------------------------------------


def test_an_object_the_chart_leaves_to_its_owner_is_listed_not_a_conflict() -> None:
    """The upstream chart's job CRDs, from its crds/ folder, carry no Helm metadata: the chart
    skips such a CRD (hyperpod-common.ours), so helm does not refuse, and neither may preflight."""
    upstreams = crd({"managedFields": written_by("helm")})
    upstreams.rendered["metadata"]["annotations"]["hyperpod-deps/if-owned-elsewhere"] = "leave"
    report = decide(facts(upstreams, crd(None, name="tfjobs.kubeflow.org", kind="TFJob")), RELEASE, None)
    assert report.conflicts == []
    assert [str(c.ref) for c in report.left_alone] == ["CustomResourceDefinition/pytorchjobs.kubeflow.org"]
    assert report.ok
    text = as_text(report)
    assert "LEFT AS THEY ARE (1)" in text
    assert "CustomResourceDefinition/pytorchjobs.kubeflow.org (Helm (managedFields: helm))" in text


def test_only_existing_objects_without_our_metadata_conflict() -> None:
    report = decide(facts(service_account({"managedFields": written_by("kubectl-create")}),
                          crd(None), crd(OWNED, name="tfjobs.kubeflow.org", kind="TFJob")), RELEASE, None)
    assert [str(c.ref) for c in report.conflicts] == ["ServiceAccount/kube-system/neuron-device-plugin"]
    found = report.conflicts[0]
    assert found.component == "neuron-device-plugin"
    assert found.helm_message.startswith('ServiceAccount "neuron-device-plugin" in namespace "kube-system" '
                                         "exists and cannot be imported into the current release: ")
    assert not report.ok


def test_a_foreign_object_offers_deletion_and_adoption() -> None:
    found = decide(facts(service_account({})), RELEASE, None).conflicts[0]
    delete, adopt = found.ways_out
    assert delete.startswith("(a) if nothing else uses it, delete it")
    assert "`kubectl delete serviceaccount neuron-device-plugin --namespace kube-system`" in delete
    assert "`hyperpod-deps install --adopt`" in adopt
    assert "meta.helm.sh/release-name=dependencies" in adopt and "nothing else changes" in adopt
    assert adoption_refusal(found, allow_other_releases=False) is None


def test_an_object_of_another_release_is_not_adopted_without_the_flag() -> None:
    found = decide(facts(service_account(helm_meta("neuron", "default"))), RELEASE, None).conflicts[0]
    assert found.owned_by_other_release
    assert "refused unless you add `--adopt-from-other-releases`" in found.ways_out[1]
    refusal = adoption_refusal(found, allow_other_releases=False)
    assert refusal is not None and "`helm uninstall neuron` would delete it" in refusal
    assert adoption_refusal(found, allow_other_releases=True) is None


def test_a_crd_with_jobs_is_never_offered_for_deletion() -> None:
    found = decide(facts(crd({"managedFields": written_by("kubectl")}),
                         custom_resources={"pytorchjobs.kubeflow.org": 3}), RELEASE, None).conflicts[0]
    assert found.crd is not None and found.crd.custom_resources == 3
    # Helm names a cluster-scoped object as being in namespace "".
    assert found.helm_message.startswith(
        'CustomResourceDefinition "pytorchjobs.kubeflow.org" in namespace "" exists and cannot be imported')
    assert found.ways_out[0] == ("(a) do not delete it: deleting a CRD deletes every PyTorchJob with it, "
                                 "and 3 exist now")
    assert not any("kubectl delete" in way for way in found.ways_out)
    assert "`helm uninstall dependencies` keeps it" in found.ways_out[1]
    assert "`--set trainingOperators.crds.enabled=false`" in found.ways_out[2]
    assert "`--set trainingOperators.enabled=false`" in found.ways_out[2]


def test_a_crd_whose_jobs_could_not_be_counted_is_treated_as_in_use() -> None:
    found = decide(facts(crd({})), RELEASE, None).conflicts[0]
    assert found.ways_out[0].startswith("(a) do not delete it: its PyTorchJobs could not be counted")
    assert not any("kubectl delete" in way for way in found.ways_out)


def test_an_empty_crd_may_be_deleted_if_nothing_uses_it() -> None:
    found = decide(facts(crd({}, name="mpijobs.kubeflow.org", kind="MPIJob", component="mpi-operator"),
                         custom_resources={"mpijobs.kubeflow.org": 0}), RELEASE, None).conflicts[0]
    assert "`kubectl delete customresourcedefinition mpijobs.kubeflow.org`" in found.ways_out[0]
    assert "no MPIJob exists now" in found.ways_out[0]
    assert "`--set mpi-operator.crds.enabled=false`" in found.ways_out[2]


def test_adopting_a_crd_that_is_not_kept_warns_that_uninstall_deletes_the_jobs() -> None:
    found = decide(facts(crd({}, keep=False), custom_resources={"pytorchjobs.kubeflow.org": 0}),
                   RELEASE, None).conflicts[0]
    assert "deletes it and every PyTorchJob with it (crds.keep=false)" in found.ways_out[1]


def test_a_crd_of_another_release_explains_what_that_release_would_do() -> None:
    jobs = {"pytorchjobs.kubeflow.org": 2}
    other = helm_meta("training-operator", "kubeflow")
    found = decide(facts(crd(other), custom_resources=jobs), RELEASE, None).conflicts[0]
    assert "its upgrades would change the schema under dependencies" in found.ways_out[1]
    assert "would delete it together with every PyTorchJob" in found.ways_out[1]
    refusal = adoption_refusal(found, allow_other_releases=False)
    assert refusal is not None and "would delete it and every PyTorchJob" in refusal
    kept_meta = helm_meta("training-operator", "kubeflow", **{"helm.sh/resource-policy": "keep"})
    kept = decide(facts(crd(kept_meta), custom_resources=jobs), RELEASE, None).conflicts[0]
    assert "`helm uninstall training-operator` keeps it" in kept.ways_out[1]


def test_an_existing_namespace_warns_about_deletion_and_offers_create_false() -> None:
    rendered = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "aws-hyperpod", "labels": {COMPONENT: "deep-health-check"}}}
    observed = Observed(ObjectRef("v1", "Namespace", "aws-hyperpod", None), rendered,
                        {"metadata": {"name": "aws-hyperpod"}})
    found = decide(facts(observed), RELEASE, None).conflicts[0]
    assert "deleting a namespace deletes everything in it" in found.ways_out[0]
    assert "then deletes the namespace and everything in it" in found.ways_out[1]
    assert found.ways_out[2].endswith("`--set deep-health-check.namespace.create=false`")


# --- prerequisites -------------------------------------------------------------------------------

def test_a_server_older_than_kube_version_is_a_finding() -> None:
    old = ClusterFacts("v1.28.9", [], namespaces=frozenset({"kube-system"}))
    [finding] = decide(old, RELEASE, ">=1.29.0-0").prerequisites
    assert finding.check == "kubernetes-version"
    assert "v1.28.9 does not satisfy the chart's kubeVersion >=1.29.0-0" in finding.message
    assert decide(ClusterFacts("v1.35.4", [], namespaces=frozenset({"kube-system"})), RELEASE,
                  ">=1.29.0-0").ok


def test_missing_namespaces_are_found_unless_the_chart_creates_them() -> None:
    role = Observed(ObjectRef("rbac.authorization.k8s.io/v1", "Role", "r", "kubeflow"),
                    {"metadata": {"labels": {COMPONENT: "namespaced-role-and-bindings"}}}, None)
    sa = Observed(ObjectRef("v1", "ServiceAccount", "s", "aws-hyperpod"), {"metadata": {}}, None)
    namespace = Observed(ObjectRef("v1", "Namespace", "aws-hyperpod", None), {"metadata": {}}, None)
    report = decide(ClusterFacts("v1.35.4", [role, sa, namespace], namespaces=frozenset()), RELEASE, None)
    messages = {p.message: p.fix for p in report.prerequisites}
    assert messages == {
        "namespace kube-system does not exist; needed by the release record of dependencies":
            "`kubectl create namespace kube-system`",
        "namespace kubeflow does not exist; needed by Role/kubeflow/r":
            "`kubectl create namespace kubeflow`, or let the chart create it: "
            "`--set namespaced-role-and-bindings.namespace.create=true`",
    }


def test_namespace_fixes_name_the_component_setting() -> None:
    assert "storage.namespace is where the jobs" in missing_namespace_fix("ml", {"storage"})
    team = missing_namespace_fix("hyperpod-ns-team-a", {"team-role-and-bindings"})
    assert "task governance creates it" in team
    assert "`--set team-role-and-bindings.namespace.create=true`" in team


def test_denied_access_and_unserved_kinds_are_findings() -> None:
    report = decide(facts(denied=[AccessCheck("create", "rbac.authorization.k8s.io", "clusterroles", None)],
                          unserved=[ObjectRef("kueue.x-k8s.io/v1beta1", "ClusterQueue", "q", None)]),
                    RELEASE, None)
    assert [(p.check, p.message) for p in report.prerequisites] == [
        ("api", "the cluster does not serve kueue.x-k8s.io/v1beta1 ClusterQueue (ClusterQueue/q)"),
        ("access", "you may not create clusterroles.rbac.authorization.k8s.io (cluster-wide)"),
    ]


@pytest.mark.parametrize(("version", "constraint", "expected"), [
    ("v1.35.4", ">=1.29.0-0", True),
    ("v1.28.9", ">=1.29.0-0", False),
    ("v1.31.2-eks-7f9249a", ">=1.29.0-0", True),
    ("v1.31.2-eks-7f9249a", ">=1.29.0", False),  # as Helm: a pre-release needs a pre-release bound
    ("v1.35.4", ">= 1.29.0-0 < 1.35.0-0", False),
    ("v1.30.0", ">=1.28.0-0, <1.36.0-0", True),
    ("v1.27.1", "<1.28.0 || >=1.30.0", True),
    ("v1.29.0", "<1.28.0 || >=1.30.0", False),
    ("v1.29.0", "1.29.0", True),
])
def test_kube_version_constraints(version: str, constraint: str, expected: bool) -> None:
    assert satisfies(version, constraint) is expected


def test_an_unknown_constraint_form_is_reported_not_guessed() -> None:
    with pytest.raises(UnsupportedConstraint):
        satisfies("v1.30.0", "~1.30")
    [finding] = decide(facts(), RELEASE, "^1.29").prerequisites
    assert finding.message.startswith("could not check Kubernetes v1.35.4")


# --- readiness and rendering --------------------------------------------------------------------

def test_readiness_of_deployments_and_daemonsets() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "op", "labels": {COMPONENT: "x"}}}
    assert readiness(deployment, None, "kube-system").ok is False
    waiting = readiness(deployment, {"spec": {"replicas": 2}, "status": {"availableReplicas": 1}},
                        "kube-system")
    assert (waiting.desired, waiting.ready, waiting.ok) == (2, 1, False)
    assert readiness(deployment, {"spec": {}, "status": {"availableReplicas": 1}}, "kube-system").ok
    daemonset = {"kind": "DaemonSet", "metadata": {"name": "dp"}}
    assert readiness(daemonset, {"status": {"desiredNumberScheduled": 0}}, "kube-system").ok
    partial = readiness(daemonset, {"status": {"desiredNumberScheduled": 3, "numberReady": 2}}, "kube-system")
    assert (partial.desired, partial.ready, partial.ok) == (3, 2, False)


def test_the_text_report_never_splits_a_command_across_lines() -> None:
    report = decide(facts(crd({}), custom_resources={"pytorchjobs.kubeflow.org": 0}), RELEASE, None)
    text = as_text(report)
    assert "`kubectl delete customresourcedefinition pytorchjobs.kubeflow.org`" in text
    assert "`--set trainingOperators.crds.enabled=false`" in text
    assert all(len(line) <= 110 or "`" in line for line in text.splitlines())
    assert text.splitlines()[-1] == "result: 1 conflict(s), 0 unmet prerequisite(s)"


def test_the_json_report_carries_owner_crd_and_ways_out() -> None:
    report = decide(facts(crd({"managedFields": written_by("kubectl")}),
                          custom_resources={"pytorchjobs.kubeflow.org": 1}), RELEASE, None)
    data = as_dict(report)
    assert data["ok"] is False
    [conflict] = data["conflicts"]
    assert conflict["object"] == {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                  "name": "pytorchjobs.kubeflow.org", "namespace": None}
    assert conflict["owner"]["kind"] == "tool" and conflict["owner"]["tools"] == ["kubectl"]
    assert conflict["crd"] == {"kind": "PyTorchJob", "customResources": 1, "keptOnUninstall": True}
    assert conflict["adoptableWithoutOverride"] is True
    assert conflict["waysOut"][0].endswith("and 1 exists now")


def test_an_unpublished_image_is_a_notice_with_the_commands_not_a_failure() -> None:
    image = "ghcr.io/hyperpod-deps/agents:0.1.0"
    report = replace(decide(facts(), RELEASE, None), unpublished_images=[image])
    assert report.ok
    text = as_text(report)
    assert "IMAGES NO REGISTRY PUBLISHES YET (1)" in text and f"  {image}" in text
    assert "`make image`" in text and "`hyperpod-deps images push <registry> --values-file" in text
    assert text.splitlines()[-1] == "result: ok: nothing stands in the way of helm install"
    assert as_dict(report)["unpublishedImages"] == [image]


@pytest.mark.parametrize(("image", "built_here", "published"), [
    ("ghcr.io/hyperpod-deps/agents:0.1.0", True, False),
    ("ghcr.io/hyperpod-deps/agents@sha256:" + "a" * 64, True, False),
    ("123456789012.dkr.ecr.us-west-2.amazonaws.com/hyperpod-deps/agents:0.1.0", True, True),
    ("127.0.0.1:5000/mirror/hyperpod-deps/agents:0.1.0", True, True),
    ("ghcr.io/someone/agents:0.1.0", False, True),
    ("docker.io/kubeflow/training-operator:v1.8.1", False, True),
    ("hyperpod-deps/agents:0.1.0", True, False),
    ("docker.io/hyperpod-deps/agents:0.1.0", True, False),
])
def test_which_images_are_ours_and_which_nothing_serves(image: str, built_here: bool,
                                                       published: bool) -> None:
    found = origin(image)
    assert (found.built_here, found.published) == (built_here, published)


# --- team namespaces (HyperPod task governance metadata) -------------------------------------

def team_role(team: str) -> Observed:
    namespace = f"hyperpod-ns-{team}"
    rendered = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": f"{namespace}-namespace-role", "namespace": namespace,
                             "labels": {COMPONENT: "team-role-and-bindings"}}}
    ref = ObjectRef("rbac.authorization.k8s.io/v1", "Role", f"{namespace}-namespace-role", namespace)
    return Observed(ref, rendered, None)


def test_a_team_namespace_without_the_managed_queue_label_is_reported_not_failed() -> None:
    label = "sagemaker.amazonaws.com/sagemaker-managed-queue"
    labels = {"hyperpod-ns-team-a": {"kubernetes.io/metadata.name": "hyperpod-ns-team-a"},
              "hyperpod-ns-team-b": {label: "true"}}
    report = decide(facts(team_role("team-a"), team_role("team-b"), team_role("team-c"),
                          namespaces=frozenset({"kube-system", "hyperpod-ns-team-a", "hyperpod-ns-team-b",
                                                "hyperpod-ns-team-c"}), namespace_labels=labels),
                    RELEASE, None)
    assert [f.message.split()[2] for f in report.team_namespaces] == ["hyperpod-ns-team-a"]  # c: unread
    assert report.team_namespaces[0].fix == f"`kubectl label namespace hyperpod-ns-team-a {label}=true`"
    assert report.ok
