"""HyperPod wire-contract constants (see the design's WIRE-CONTRACT.md)."""
from __future__ import annotations

NODE_HEALTH_LABEL = "sagemaker.amazonaws.com/node-health-status"
NODE_HEALTH_TAINT_VALUE = "Unschedulable"
NODE_HEALTH_TAINT_EFFECT = "NoSchedule"
SERVICE_ROLE_USER = "hyperpod-service-linked-role"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"

# Values of NODE_HEALTH_LABEL. Anything starting with "Unschedulable" counts as unschedulable.
SCHEDULABLE = "Schedulable"
UNSCHEDULABLE = "Unschedulable"
UNSCHEDULABLE_PENDING_REBOOT = "UnschedulablePendingReboot"
UNSCHEDULABLE_PENDING_REPLACEMENT = "UnschedulablePendingReplacement"

FAULT_TYPES_LABEL = "sagemaker.amazonaws.com/fault-types"
FAULT_REASONS_LABEL = "sagemaker.amazonaws.com/fault-reasons"
FAULT_DETAILS_ANNOTATION = "sagemaker.amazonaws.com/fault-details"
FAULT_DETAILS_LIMIT = 20
DEEP_HEALTH_CHECK_LABEL = "sagemaker.amazonaws.com/deep-health-check-status"

# Grep key of the health agent's detection log line.
DETECTION_EVENT_KEY = "HealthMonitoringAgentDetectionEvent"

# Job auto-resume annotations, on the job object.
AUTO_RESUME_ANNOTATION = "sagemaker.amazonaws.com/enable-job-auto-resume"
MAX_RETRY_ANNOTATION = "sagemaker.amazonaws.com/job-max-retry-count"

NODE_HEALTH_TOLERATION = {
    "key": NODE_HEALTH_LABEL,
    "operator": "Equal",
    "value": NODE_HEALTH_TAINT_VALUE,
    "effect": NODE_HEALTH_TAINT_EFFECT,
}


def is_unschedulable(health_status: str | None) -> bool:
    """The contract: any value starting with Unschedulable counts; a missing label does not."""
    return bool(health_status) and str(health_status).startswith(UNSCHEDULABLE)
