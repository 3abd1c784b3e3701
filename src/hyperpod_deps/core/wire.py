"""HyperPod wire-contract constants (see the design's WIRE-CONTRACT.md)."""
from __future__ import annotations

NODE_HEALTH_LABEL = "sagemaker.amazonaws.com/node-health-status"
NODE_HEALTH_TAINT_VALUE = "Unschedulable"
NODE_HEALTH_TAINT_EFFECT = "NoSchedule"
SERVICE_ROLE_USER = "hyperpod-service-linked-role"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"

NODE_HEALTH_TOLERATION = {
    "key": NODE_HEALTH_LABEL,
    "operator": "Equal",
    "value": NODE_HEALTH_TAINT_VALUE,
    "effect": NODE_HEALTH_TAINT_EFFECT,
}
