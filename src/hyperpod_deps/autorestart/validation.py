"""Whether a job manifest can be auto-resumed, and what to change where it cannot.

Pure: a manifest in, problems out. `hyperpod-deps jobs check` prints them; the controller puts
them in an Event on the job. Each problem names the field and the fix.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hyperpod_deps.autorestart.jobkinds import GROUP, KINDS, JobKind, lookup
from hyperpod_deps.core import wire

# The count is a budget of restarts: a number this high means a job that keeps landing on broken
# nodes, which deserves a person's look, not another hundred restarts.
MAX_RETRY_LIMIT = 100
# Where the annotation is absent: HyperPod does not document its default; one restart is the
# least surprising choice that still resumes after a single fault.
DEFAULT_MAX_RETRY_COUNT = 1
REQUIRED_RESTART_POLICY = "OnFailure"
# What each operator sets where a replica spec gives no restartPolicy (training-operator v1.8
# *_types.go, mpi-operator v2beta1 constants.go): (kind, replica type) first, then the kind.
OPERATOR_DEFAULT_RESTART_POLICY: dict[tuple[str, str | None], str] = {
    ("PyTorchJob", None): "OnFailure",
    ("PaddleJob", None): "OnFailure",
    ("TFJob", None): "Never",
    ("XGBoostJob", None): "Never",
    ("MPIJob", "Launcher"): "OnFailure",
    ("MPIJob", None): "Never",
}
UPSTREAM_NAMESPACE = re.compile(r"^(kubeflow|hyperpod.*)$")
_COUNT = re.compile(r"^[0-9]+$")
# What `hyp create hyp-pytorch-job` submits: served and restarted by HyperPod's own training
# operator add-on, by the job's spec.runPolicy.jobMaxRetryCount; ours leaves it alone.
HYPERPOD_JOB_API_VERSION = "sagemaker.amazonaws.com/v1"
HYPERPOD_JOB_KIND = "HyperPodPyTorchJob"


class Severity(enum.StrEnum):
    ERROR = "error"  # auto-resume will not happen until it is fixed
    WARNING = "warning"  # it will happen, but may not do what the user wants
    INFO = "info"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.field}: {self.message}. {self.fix}"


def opted_in(manifest: Mapping[str, Any]) -> bool:
    return _annotations(manifest).get(wire.AUTO_RESUME_ANNOTATION) == "true"


def max_retry_count(manifest: Mapping[str, Any]) -> int | None:
    """The job's restart budget; None when the annotation is malformed (see check)."""
    raw = _annotations(manifest).get(wire.MAX_RETRY_ANNOTATION)
    if raw is None:
        return DEFAULT_MAX_RETRY_COUNT
    if not isinstance(raw, str) or not _COUNT.match(raw) or int(raw) > MAX_RETRY_LIMIT:
        return None
    return int(raw)


def check(manifest: Any) -> list[Problem]:
    """Every problem of the manifest, errors first."""
    if not isinstance(manifest, Mapping):
        return [
            Problem(
                Severity.ERROR,
                "(document)",
                "not a Kubernetes object (a mapping)",
                "Give a job manifest with apiVersion, kind, metadata and spec.",
            )
        ]
    missing = _missing_type_fields(manifest)
    if missing:
        return missing
    api_version, kind = str(manifest.get("apiVersion", "")), str(manifest.get("kind", ""))
    if (api_version, kind) == (HYPERPOD_JOB_API_VERSION, HYPERPOD_JOB_KIND):
        return _hyperpod_job_notes(manifest)
    job_kind = lookup(api_version, kind)
    if job_kind is None:
        return [_unknown_kind(api_version, kind)]
    problems = [
        *_annotation_problems(manifest),
        *_replica_problems(manifest, job_kind),
        *_namespace_notes(manifest, job_kind),
    ]
    return sorted(problems, key=lambda p: list(Severity).index(p.severity))


def is_job(manifest: Any) -> bool:
    """A kind auto-restart handles, or HyperPod's own job kind: something that can be resumed."""
    if not isinstance(manifest, Mapping):
        return False
    api_version, kind = str(manifest.get("apiVersion", "")), str(manifest.get("kind", ""))
    return lookup(api_version, kind) is not None or restarted_by_hyperpod(manifest)


def _missing_type_fields(manifest: Mapping[str, Any]) -> list[Problem]:
    """apiVersion and kind say what an object is; the API server refuses one without them."""
    example = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob"}
    return [
        Problem(Severity.ERROR, field, "missing: Kubernetes refuses an object without it, and nothing "
                "tells which job kind this is", f"Add {field}, e.g. {field}: {example[field]}.")
        for field in ("apiVersion", "kind") if not manifest.get(field)
    ]


def restarted_by_hyperpod(manifest: Any) -> bool:
    """A HyperPodPyTorchJob: HyperPod's training operator restarts it, not this project."""
    return isinstance(manifest, Mapping) and (
        manifest.get("apiVersion"), manifest.get("kind")) == (HYPERPOD_JOB_API_VERSION, HYPERPOD_JOB_KIND)


def _hyperpod_job_notes(manifest: Mapping[str, Any]) -> list[Problem]:
    field = "spec.runPolicy.jobMaxRetryCount"
    retries = ((manifest.get("spec") or {}).get("runPolicy") or {}).get("jobMaxRetryCount")
    budget = f"{field} is {retries}" if retries is not None else f"{field} is not set (its default)"
    notes = [Problem(
        Severity.INFO, "apiVersion/kind",
        f"{HYPERPOD_JOB_KIND} is restarted by HyperPod's own training operator, not by this project's "
        f"auto-restart controller, which leaves it alone; {budget}",
        f"Set {field} (hyp create hyp-pytorch-job --max-retry N) to change how often it is restarted.")]
    annotations = _annotations(manifest)
    if wire.AUTO_RESUME_ANNOTATION in annotations or wire.MAX_RETRY_ANNOTATION in annotations:
        notes.append(Problem(
            Severity.WARNING, f"metadata.annotations[{wire.AUTO_RESUME_ANNOTATION}]",
            f"the auto-resume annotations do nothing on a {HYPERPOD_JOB_KIND}",
            f"Remove them and use {field}."))
    return sorted(notes, key=lambda p: list(Severity).index(p.severity))


def blocking(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def _unknown_kind(api_version: str, kind: str) -> Problem:
    handled = ", ".join(f"{k.kind} ({k.api_version})" for k in KINDS)
    if api_version.startswith(f"{GROUP}/"):
        return Problem(
            Severity.ERROR,
            "apiVersion/kind",
            f"{kind} {api_version} is not a kind auto-restart handles",
            f"Use one of: {handled}.",
        )
    return Problem(
        Severity.INFO,
        "apiVersion/kind",
        f"{kind} {api_version} is not a training job: nothing in it is auto-resumed",
        f"Auto-restart handles {handled}.",
    )


def _annotations(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return annotations if isinstance(annotations, Mapping) else {}


def _annotation_problems(manifest: Mapping[str, Any]) -> list[Problem]:
    annotations = _annotations(manifest)
    field = f"metadata.annotations[{wire.AUTO_RESUME_ANNOTATION}]"
    enable = annotations.get(wire.AUTO_RESUME_ANNOTATION)
    if enable is None:
        return [
            Problem(
                Severity.ERROR,
                field,
                "missing: the job has not opted in to auto-resume",
                f'Add the annotation {wire.AUTO_RESUME_ANNOTATION}: "true".',
            )
        ]
    if not isinstance(enable, str):
        return [_not_a_string(field, wire.AUTO_RESUME_ANNOTATION, enable, "true")]
    if enable != "true":
        shown = repr(enable)
        return [
            Problem(
                Severity.ERROR,
                field,
                f'is {shown}; only the string "true" turns auto-resume on',
                'Set it to "true" (lowercase, quoted in YAML).',
            )
        ]
    return _retry_problems(annotations)


def _retry_problems(annotations: Mapping[str, Any]) -> list[Problem]:
    field = f"metadata.annotations[{wire.MAX_RETRY_ANNOTATION}]"
    raw = annotations.get(wire.MAX_RETRY_ANNOTATION)
    if raw is None:
        return [
            Problem(
                Severity.WARNING,
                field,
                f"missing: the job gets the default budget of {DEFAULT_MAX_RETRY_COUNT} restart",
                f'Set it, e.g. {wire.MAX_RETRY_ANNOTATION}: "2".',
            )
        ]
    if not isinstance(raw, str):
        return [_not_a_string(field, wire.MAX_RETRY_ANNOTATION, raw, str(raw) if _is_count(raw) else "2")]
    if not _COUNT.match(raw):
        return [
            Problem(
                Severity.ERROR,
                field,
                f"is {raw!r}, not a whole number of restarts",
                f'Set a quoted whole number from 0 to {MAX_RETRY_LIMIT}, e.g. "2".',
            )
        ]
    if int(raw) > MAX_RETRY_LIMIT:
        return [
            Problem(
                Severity.ERROR,
                field,
                f"is {raw}, above the limit of {MAX_RETRY_LIMIT}",
                f"Set at most {MAX_RETRY_LIMIT}; a job that needs more keeps landing on bad nodes.",
            )
        ]
    if int(raw) == 0:
        return [
            Problem(
                Severity.WARNING,
                field,
                "is 0: the job is never restarted, only reported",
                'Set at least "1" to have it restarted.',
            )
        ]
    return []


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_RETRY_LIMIT


def _not_a_string(field: str, key: str, value: Any, quoted: str) -> Problem:
    """An unquoted YAML value: a number or boolean where Kubernetes takes only strings."""
    written = yaml_scalar(value)
    what = "boolean" if isinstance(value, bool) else "number" if isinstance(value, int | float) else "value"
    return Problem(
        Severity.ERROR,
        field,
        f"is the YAML {what} {written}, not a string: annotation values must be strings, so "
        "Kubernetes refuses the job as written",
        f'Quote it: {key}: "{quoted}".',
    )


def yaml_scalar(value: Any) -> str:
    """A parsed value as the user wrote it in YAML (true, not Python's True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _replica_problems(manifest: Mapping[str, Any], job_kind: JobKind) -> list[Problem]:
    field = f"spec.{job_kind.replica_specs_field}"
    specs = (manifest.get("spec") or {}).get(job_kind.replica_specs_field)
    if not isinstance(specs, Mapping) or not specs:
        return [Problem(Severity.ERROR, field, "missing or empty", f"Give the job's replicas under {field}.")]
    problems = []
    for replica, spec in specs.items():
        spec = spec if isinstance(spec, Mapping) else {}
        problems += _restart_policy_problems(f"{field}.{replica}.restartPolicy", job_kind, str(replica),
                                             spec.get("restartPolicy"))
        if not _selects_schedulable(spec):
            problems.append(
                Problem(
                    Severity.WARNING,
                    f"{field}.{replica}.template.spec.affinity",
                    f"no required node affinity on {wire.NODE_HEALTH_LABEL} In [Schedulable] and no "
                    "nodeSelector on it: restarted pods may land on a node that is faulty but not (yet) "
                    "tainted",
                    f"Add a requiredDuringScheduling node affinity term: key {wire.NODE_HEALTH_LABEL}, "
                    f"operator In, values [Schedulable] (or nodeSelector {wire.NODE_HEALTH_LABEL}: "
                    "Schedulable).",
                )
            )
    return problems


def operator_default_restart_policy(job_kind: JobKind, replica: str) -> str:
    defaults = OPERATOR_DEFAULT_RESTART_POLICY
    return defaults.get((job_kind.kind, replica)) or defaults[(job_kind.kind, None)]


def _restart_policy_problems(field: str, job_kind: JobKind, replica: str, policy: Any) -> list[Problem]:
    fix = f"Set {field}: {REQUIRED_RESTART_POLICY}."
    why = ("auto-resume needs OnFailure, so that the operator keeps the job alive while its pods are "
           "brought back")
    if policy == REQUIRED_RESTART_POLICY:
        return []
    if policy:
        return [Problem(Severity.ERROR, field, f"is {policy}; {why}", fix)]
    default = operator_default_restart_policy(job_kind, replica)
    if default == REQUIRED_RESTART_POLICY:
        return [Problem(Severity.INFO, field, f"is not set: the {job_kind.operator} sets {default} "
                        f"for a {job_kind.kind} {replica}, which auto-resume needs",
                        "Nothing to change; setting it says so in the manifest.")]
    return [Problem(Severity.ERROR, field, f"is not set, so the {job_kind.operator}'s default for a "
                    f"{job_kind.kind} {replica}, {default}, applies; {why}", fix)]


def _selects_schedulable(replica_spec: Mapping[str, Any]) -> bool:
    pod = ((replica_spec.get("template") or {}).get("spec")) or {}
    selector = pod.get("nodeSelector")
    # A nodeSelector is ANDed with the affinity: on its own it requires the label as surely.
    if isinstance(selector, Mapping) and selector.get(wire.NODE_HEALTH_LABEL) == wire.SCHEDULABLE:
        return True
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    # Terms are ORed: every term must require Schedulable, or one term lets pods through.
    return bool(terms) and all(_term_requires_schedulable(t) for t in terms if isinstance(t, Mapping))


def _term_requires_schedulable(term: Mapping[str, Any]) -> bool:
    for expression in term.get("matchExpressions") or []:
        if (
            isinstance(expression, Mapping)
            and expression.get("key") == wire.NODE_HEALTH_LABEL
            and expression.get("operator") == "In"
            and list(expression.get("values") or []) == [wire.SCHEDULABLE]
        ):
            return True
    return False


def _namespace_notes(manifest: Mapping[str, Any], job_kind: JobKind) -> list[Problem]:
    namespace = str((manifest.get("metadata") or {}).get("namespace") or "")
    if namespace and UPSTREAM_NAMESPACE.match(namespace):
        return []
    where = f"namespace {namespace}" if namespace else "no namespace (the one kubectl applies it to)"
    extra = (
        (
            " On HyperPod, PyTorchJobs are left to the managed auto-resume unless the chart sets "
            "job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true."
        )
        if job_kind.kind == "PyTorchJob"
        else ""
    )
    return [
        Problem(
            Severity.INFO,
            "metadata.namespace",
            f"{where}: HyperPod's managed auto-resume covers only kubeflow and hyperpod* "
            "namespaces; this project's controller handles any namespace",
            f"Nothing to change for the in-cluster controller.{extra}",
        )
    ]
