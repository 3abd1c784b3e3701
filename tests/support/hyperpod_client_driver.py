"""Run by the SageMaker HyperPod client's own interpreter (its venv in the cache), not by pytest:
the client's SDK calls that no `hyp` command of 3.12.0 reaches, one per invocation, with the
result on stdout and the error's text on stderr (exit 1).

  pytorchjob-list NAMESPACE|-        ListTrainingJobs (kubeflow.org/v1 PyTorchJobs), as JSON; -: discover
  pytorchjob-get NAME NAMESPACE      GetTrainingJob
  pytorchjob-cancel NAME NAMESPACE   CancelTrainingJob (deletes the job, then `helm uninstall`s it)
  submit-recipe FILE                 recipe_utils._submit_k8s_resources: what a recipe job's
                                     submission does with its rendered manifests
"""
# The client and its Kubernetes config loader carry no annotations.
# mypy: disallow-untyped-calls=False
from __future__ import annotations

import sys
from pathlib import Path


def main(command: str, *args: str) -> object:
    if command == "pytorchjob-list":
        from sagemaker.hyperpod.cli.service.list_training_jobs import ListTrainingJobs
        namespace = None if args[0] == "-" else args[0]  # None: the client discovers the namespace
        return ListTrainingJobs().list_training_jobs(namespace=namespace, all_namespaces=False, selector=None,
                                                     output="json")
    if command == "pytorchjob-get":
        from sagemaker.hyperpod.cli import utils
        from sagemaker.hyperpod.cli.service.get_training_job import GetTrainingJob
        # Its output adds the AWS console URL from the context `hyp set-cluster-context` writes
        # to /tmp after asking AWS for the cluster; offline there is none, and no URL to show.
        utils.get_cluster_console_url = lambda: None
        return GetTrainingJob().get_training_job(job_name=args[0], namespace=args[1], verbose=False)
    if command == "pytorchjob-cancel":
        from sagemaker.hyperpod.cli.service.cancel_training_job import CancelTrainingJob
        return CancelTrainingJob().cancel_training_job(job_name=args[0], namespace=args[1])
    if command == "submit-recipe":
        from kubernetes import client, config
        from sagemaker.hyperpod.cli.recipe_utils import _submit_k8s_resources
        config.load_kube_config()
        return _submit_k8s_resources(client.CustomObjectsApi(), Path(args[0]).read_text())
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    try:
        print(main(*sys.argv[1:]))
    except Exception as error:  # the test asserts on the client's own message
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
