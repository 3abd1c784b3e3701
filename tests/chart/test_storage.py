"""storage: static provisioning of an existing FSx for Lustre file system (PV + PVC)."""

from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
from tests.chart.test_device_plugins import upstream_chart
from tests.support.charts import CHART, Renderer, named, of_kind

SCENARIO = CHART / "ci/22-storage-fsx-values.yaml"
FS_ID = "fs-0123456789abcdef0"
DNS = f"{FS_ID}.fsx.us-west-2.amazonaws.com"
FSX = (
    "storage.enabled=true",
    f"storage.fsx.fileSystemId={FS_ID}",
    f"storage.fsx.dnsName={DNS}",
    "storage.fsx.mountName=abcdef12",
)


def without(prefix: str) -> list[str]:
    return [s for s in FSX if not s.startswith(prefix)]


def test_off_by_default(render3: Renderer) -> None:
    objects = render3()
    assert not of_kind(objects, "PersistentVolume")
    assert not [o for o in of_kind(objects, "PersistentVolumeClaim") if o["metadata"]["name"] == "fsx-claim"]


def test_fsx_volume_and_claim_are_bound_to_each_other(render: Renderer) -> None:
    objects = render(values_files=[SCENARIO])
    volume = named(objects, "PersistentVolume", "fsx-pv")
    assert "namespace" not in volume["metadata"], "a PersistentVolume is cluster-scoped"
    assert volume["spec"]["csi"] == {
        "driver": "fsx.csi.aws.com",
        "volumeHandle": FS_ID,
        "volumeAttributes": {"dnsname": DNS, "mountname": "abcdef12"},
    }
    assert volume["spec"]["capacity"] == {"storage": "2400Gi"}
    assert volume["spec"]["accessModes"] == ["ReadWriteMany"]
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["storageClassName"] == ""
    assert volume["spec"]["mountOptions"] == ["flock"]
    assert volume["spec"]["claimRef"] == {"namespace": "default", "name": "fsx-claim"}
    claim = named(objects, "PersistentVolumeClaim", "fsx-claim")
    assert claim["metadata"]["namespace"] == "default"
    assert claim["spec"]["volumeName"] == "fsx-pv"
    assert claim["spec"]["storageClassName"] == "", "no default class may provision it"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2400Gi"
    for obj in (volume, claim):
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "hyperpod-deps"


def test_defaults_names_namespace_and_capacity(render3: Renderer) -> None:
    """The claim goes to the release namespace unless told otherwise, where the
    upstream chart puts it, so an upgrade over it keeps it."""
    objects = render3(*FSX, namespace="ml-platform")
    volume = named(objects, "PersistentVolume", "fsx-pv")
    assert volume["spec"]["capacity"] == {"storage": "1200Gi"}
    assert volume["spec"]["claimRef"] == {"namespace": "ml-platform", "name": "fsx-claim"}
    assert named(objects, "PersistentVolumeClaim", "fsx-claim")["metadata"]["namespace"] == "ml-platform"


def test_names_and_namespace_are_configurable(render3: Renderer) -> None:
    objects = render3(
        *FSX,
        "storage.pvName=team-a-fsx",
        "storage.pvcName=shared-data",
        "storage.namespace=hyperpod-ns-team-a",
        "storage.capacity=12Ti",
        "storage.mountOptions=null",
    )
    volume = named(objects, "PersistentVolume", "team-a-fsx")
    assert volume["spec"]["claimRef"] == {"namespace": "hyperpod-ns-team-a", "name": "shared-data"}
    assert volume["spec"]["capacity"] == {"storage": "12Ti"}
    assert "mountOptions" not in volume["spec"]
    claim = named(objects, "PersistentVolumeClaim", "shared-data")
    assert claim["metadata"]["namespace"] == "hyperpod-ns-team-a"
    assert claim["spec"]["volumeName"] == "team-a-fsx"


def test_scratch_mount_name_fsx_is_accepted(render3: Renderer) -> None:
    volume = named(
        render3(*without("storage.fsx.mountName"), "storage.fsx.mountName=fsx"),
        "PersistentVolume",
        "fsx-pv",
    )
    assert volume["spec"]["csi"]["volumeAttributes"]["mountname"] == "fsx"


# --- every fail message --------------------------------------------------------------------


def test_missing_file_system_id_fails_with_the_fix(render: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render("storage.enabled=true")
    message = str(error.value)
    assert "needs the FSx for Lustre file system id" in message
    assert "--set storage.fsx.fileSystemId=fs-0123456789abcdef0" in message


def test_missing_dns_name_fails_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*without("storage.fsx.dnsName"))
    message = str(error.value)
    assert "needs the file system's DNS name" in message
    assert f"--set storage.fsx.dnsName={FS_ID}.fsx.<region>.amazonaws.com" in message


def test_missing_mount_name_fails_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*without("storage.fsx.mountName"))
    message = str(error.value)
    assert "needs the file system's mount name" in message
    assert "--set storage.fsx.mountName=<name>" in message
    assert f"--file-system-ids {FS_ID}" in message


def test_dns_name_of_another_file_system_fails(render3: Renderer) -> None:
    other = "fs-0aaaaaaaaaaaaaaaa.fsx.us-west-2.amazonaws.com"
    with pytest.raises(RenderError) as error:
        render3(*without("storage.fsx.dnsName"), f"storage.fsx.dnsName={other}")
    message = str(error.value)
    assert f"storage.fsx.dnsName={other} is not the DNS name of storage.fsx.fileSystemId={FS_ID}" in message
    assert f"--set storage.fsx.dnsName={FS_ID}.fsx.<region>.amazonaws.com" in message


# --- the schema rejects typos and malformed values -----------------------------------------


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("storage.fsx.filesystemId=fs-0123456789abcdef0", "filesystemId"),
        ("storage.pvcname=data", "pvcname"),
        ("storage.fsx.fileSystemId=fs-XYZ", "fileSystemId"),
        ("storage.fsx.fileSystemId=0123456789abcdef0", "fileSystemId"),
        ("storage.fsx.dnsName=fsx.example.com", "dnsName"),
        ("storage.fsx.dnsName=fs-0123456789abcdef0.fsx.us-west-2", "dnsName"),
        ("storage.fsx.mountName=ABCDEF12", "mountName"),
        ("storage.fsx.mountName=abc-def", "mountName"),
        ("storage.capacity=1200GB", "capacity"),
        ("storage.capacity=1.2Ti", "capacity"),
        ("storage.namespace=Team_A", "namespace"),
    ],
)
def test_schema_rejects(render3: Renderer, assignment: str, field: str) -> None:
    with pytest.raises(RenderError, match=field):
        render3(*FSX, assignment)


def test_schema_accepts_china_region_dns_names(render3: Renderer) -> None:
    dns = f"{FS_ID}.fsx.cn-north-1.amazonaws.com.cn"
    objects = render3(*without("storage.fsx.dnsName"), f"storage.fsx.dnsName={dns}")
    attributes = named(objects, "PersistentVolume", "fsx-pv")["spec"]["csi"]["volumeAttributes"]
    assert attributes["dnsname"] == dns


# --- the upstream HyperPod chart's keys ------------------------------------------------------

UPSTREAM_FSX = (
    "storage.enabled=true",
    f"storage.persistentVolume.csi.volumeHandle={FS_ID}",
    f"storage.persistentVolume.csi.volumeAttributes.dnsname={DNS}",
    "storage.persistentVolume.csi.volumeAttributes.mountname=fsx",
)


def test_upstream_keys_make_the_same_objects_as_upstream(render3: Renderer) -> None:
    """The same --set flags a user gave the upstream chart name the same volume
    and claim (kind, namespace, name), on the same file system."""
    theirs = render3(*UPSTREAM_FSX, chart=upstream_chart())
    ours = render3(*UPSTREAM_FSX)
    for kind in ("PersistentVolume", "PersistentVolumeClaim"):
        (upstream,) = of_kind(theirs, kind)
        mine = named(ours, kind, upstream["metadata"]["name"])
        assert mine["metadata"].get("namespace") == (None if kind == "PersistentVolume" else "kube-system")
        assert mine["spec"]["accessModes"] == upstream["spec"]["accessModes"]
    upstream_volume = of_kind(theirs, "PersistentVolume")[0]["spec"]
    volume = named(ours, "PersistentVolume", "fsx-pv")["spec"]
    # The volume's source cannot change after creation: it must be upstream's exactly.
    assert volume["csi"] == upstream_volume["csi"]
    assert volume["capacity"] == upstream_volume["capacity"]
    assert volume["persistentVolumeReclaimPolicy"] == upstream_volume["persistentVolumeReclaimPolicy"]
    assert volume["mountOptions"] == upstream_volume["mountOptions"]


def test_each_upstream_key_wins_over_its_twin(render3: Renderer) -> None:
    objects = render3(
        *FSX,
        "storage.persistentVolume.name=team-fsx",
        "storage.persistentVolume.capacity=2400Gi",
        "storage.persistentVolume.volumeMode=Filesystem",
        "storage.persistentVolume.accessModes={ReadOnlyMany}",
        "storage.persistentVolume.mountOptions={flock,noatime}",
        "storage.persistentVolume.reclaimPolicy=Delete",
        "storage.persistentVolume.csi.driver=fsx.csi.example.com",
        "storage.persistentVolume.csi.volumeHandle=fs-0fedcba9876543210",
        "storage.persistentVolume.csi.volumeAttributes.dnsname=fs-0fedcba9876543210.fsx.eu-west-1.amazonaws.com",
        "storage.persistentVolume.csi.volumeAttributes.mountname=zyx98765",
        "storage.persistentVolumeClaim.name=team-data",
        "storage.persistentVolumeClaim.storageClassName=fsx-static",
        "storage.persistentVolumeClaim.accessModes={ReadOnlyMany}",
        "storage.persistentVolumeClaim.requests.storage=2000Gi",
    )
    volume = named(objects, "PersistentVolume", "team-fsx")["spec"]
    assert volume["capacity"] == {"storage": "2400Gi"}
    assert volume["volumeMode"] == "Filesystem"
    assert volume["accessModes"] == ["ReadOnlyMany"]
    assert volume["mountOptions"] == ["flock", "noatime"]
    assert volume["persistentVolumeReclaimPolicy"] == "Delete"
    assert volume["csi"] == {
        "driver": "fsx.csi.example.com",
        "volumeHandle": "fs-0fedcba9876543210",
        "volumeAttributes": {
            "dnsname": "fs-0fedcba9876543210.fsx.eu-west-1.amazonaws.com",
            "mountname": "zyx98765",
        },
    }
    assert volume["claimRef"] == {"namespace": "kube-system", "name": "team-data"}
    # Upstream set the class on the claim only, so claim and volume never bound;
    # here both carry it.
    assert volume["storageClassName"] == "fsx-static"
    claim = named(objects, "PersistentVolumeClaim", "team-data")["spec"]
    assert claim["storageClassName"] == "fsx-static"
    assert claim["volumeName"] == "team-fsx"
    assert claim["accessModes"] == ["ReadOnlyMany"]
    assert claim["resources"]["requests"]["storage"] == "2000Gi"


def test_upstream_keys_alone_are_validated_like_ours(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="needs the file system's DNS name"):
        render3(*UPSTREAM_FSX[:2])
    with pytest.raises(RenderError, match="is not the DNS name"):
        render3(
            *UPSTREAM_FSX[:2],
            "storage.persistentVolume.csi.volumeAttributes.dnsname="
            "fs-0aaaaaaaaaaaaaaaa.fsx.us-west-2.amazonaws.com",
            UPSTREAM_FSX[3],
        )


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("storage.persistentVolume.nmae=fsx", "nmae"),
        ("storage.persistentVolume.csi.volumeHandel=fs-0123456789abcdef0", "volumeHandel"),
        ("storage.persistentVolume.csi.volumeHandle=???", "volumeHandle"),
        ("storage.persistentVolume.reclaimPolicy=Recycle", "reclaimPolicy"),
        ("storage.persistentVolume.volumeMode=Block", "volumeMode"),
        ("storage.persistentVolumeClaim.request.storage=1Ti", "request"),
    ],
)
def test_schema_rejects_typos_in_upstream_keys(render3: Renderer, assignment: str, field: str) -> None:
    with pytest.raises(RenderError, match=field):
        render3(*FSX, assignment)
