"""The local cluster's OCI registry (Debian's docker-registry on 127.0.0.1), as an air-gapped site
runs one: the agents image pushed there by `hyperpod-deps images push`, and the chart packaged,
pushed with `helm push` and installed from `oci://` with Helm 3 and Helm 4.
"""
from __future__ import annotations

import json
import shutil
import tarfile
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hyperpod_deps import __version__
from hyperpod_deps.cli.main import cli
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.toolchain import agents_image
from tests.support.charts import CHART
from tests.support.helm_support import INSTALL_FROM_OCI, PACKAGE, PUSH, RELEASE, HelmCli, command_argv
from tests.support.kube_support import Kube

pytestmark = [pytest.mark.e2e]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHART_NAME = yaml.safe_load((CHART / "Chart.yaml").read_text())["name"]


def registry_get(registry: str, path: str, accept: str = "") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://{registry}{path}", headers={"Accept": accept} if accept else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
    with opener.open(request, timeout=10) as answer:
        return answer.status, dict(answer.headers), answer.read()


@pytest.fixture(scope="module")
def registry(local_cluster: cluster.ClusterStatus) -> str:
    assert local_cluster.registry, "cluster up starts the registry"
    assert local_cluster.registry.startswith("127.0.0.1:")
    return local_cluster.registry


def test_the_cluster_reports_its_registry_and_it_answers(local_cluster: cluster.ClusterStatus,
                                                         registry: str) -> None:
    assert cluster.status(local_cluster.name).registry == registry
    status, headers, _ = registry_get(registry, "/v2/")
    assert status == 200
    assert headers.get("Docker-Distribution-Api-Version") == "registry/2.0"


def test_images_push_serves_the_very_image_built_here(
    local_cluster: cluster.ClusterStatus, registry: str, built_agents_image: agents_image.BuiltImage,
    tmp_path: Path,
) -> None:
    values_file = tmp_path / "agents-image.yaml"
    result = CliRunner().invoke(cli, ["images", "push", "--cluster", local_cluster.name,
                                      "--values-file", str(values_file)])
    assert result.exit_code == 0, result.output
    assert f"digest: {built_agents_image.digest}" in result.output
    # The registry serves the manifest that was built, byte for byte (same digest).
    status, headers, body = registry_get(registry, f"/v2/{agents_image.REPOSITORY}/manifests/{__version__}",
                                         OCI_MANIFEST)
    assert status == 200
    assert headers["Docker-Content-Digest"] == built_agents_image.digest
    for layer in json.loads(body)["layers"]:
        assert registry_get(registry, f"/v2/{agents_image.REPOSITORY}/blobs/{layer['digest']}")[0] == 200
    # The values it wrote point both components of ours at that registry and digest.
    values = yaml.safe_load(values_file.read_text())
    expected = {"registry": registry, "digest": built_agents_image.digest}
    assert values["health-monitoring-agent"]["openAgent"]["image"] == expected
    assert values["job-auto-restart"]["controller"]["image"] == expected
    rendered = CliRunner().invoke(cli, ["images", "--json", "-f", str(values_file),
                                        "--set", "global.platform=generic"])
    assert rendered.exit_code == 0, rendered.output
    ours = [entry for entry in json.loads(rendered.output) if entry["builtHere"]]
    assert ours, rendered.output
    assert {entry["image"] for entry in ours} == {
        f"{registry}/{agents_image.REPOSITORY}@{built_agents_image.digest}"}
    assert all(entry["published"] for entry in ours)


def test_push_to_a_registry_that_is_not_there_fails_with_the_reason(
    built_agents_image: agents_image.BuiltImage,
) -> None:
    closed = "127.0.0.1:9"  # discard port: nothing listens
    result = CliRunner().invoke(cli, ["images", "push", closed])
    assert result.exit_code != 0
    assert "skopeo copy to 127.0.0.1:9/hyperpod-deps/agents" in result.output
    assert "connection refused" in result.output.lower()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the chart where README's commands run from: `helm package` writes dist/ there."""
    shutil.copytree(CHART, tmp_path / "helm_chart/HyperPodHelmChart", symlinks=True)
    return tmp_path


def as_run_here(command: str, registry: str) -> list[str]:
    """A README command with REGISTRY made the local one, which speaks plain HTTP."""
    argv = command_argv(command.replace("REGISTRY", registry))[1:]
    return [*argv, "--plain-http"] if "oci://" in command else argv


def test_the_packaged_chart_carries_the_one_version(helm_cli: HelmCli, workdir: Path) -> None:
    helm_cli.run(*command_argv(PACKAGE)[1:], cwd=workdir)
    (packaged,) = (workdir / "dist").glob("*.tgz")
    assert packaged.name == f"{CHART_NAME}-{__version__}.tgz"
    assert packaged.name in PUSH, "README pushes the file helm package writes"
    with tarfile.open(packaged) as archive:
        chart_file = archive.extractfile(f"{CHART_NAME}/Chart.yaml")
        assert chart_file is not None
        chart = yaml.safe_load(chart_file.read())
        names = archive.getnames()
    assert chart["version"] == chart["appVersion"] == __version__
    assert f"{CHART_NAME}/values.schema.json" in names
    assert not [n for n in names if "__pycache__" in n]


def test_readme_packaging_commands_install_the_chart_from_oci(
    helm_cli: HelmCli, kube: Kube, registry: str, workdir: Path, clean_release: None
) -> None:
    """The path of an admin who mirrors the chart into ECR: package, push, install from oci://."""
    helm_cli.run(*command_argv(PACKAGE)[1:], cwd=workdir)
    pushed = helm_cli.run(*as_run_here(PUSH, registry), cwd=workdir)
    assert "Digest: sha256:" in pushed.stdout + pushed.stderr
    shown = helm_cli.run("show", "chart", f"oci://{registry}/charts/{CHART_NAME}", "--version", __version__,
                         "--plain-http")
    assert yaml.safe_load(shown.stdout)["version"] == __version__
    helm_cli.run(*as_run_here(INSTALL_FROM_OCI, registry), cwd=workdir)
    status = helm_cli.status()
    assert status is not None and status["info"]["status"] == "deployed"
    listed = json.loads(helm_cli.run("list", "--namespace", "kube-system", "--output", "json").stdout)
    assert [r["chart"] for r in listed if r["name"] == RELEASE] == [f"{CHART_NAME}-{__version__}"]
    kube.wait_release_ready(RELEASE)
