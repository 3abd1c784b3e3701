"""The embedded local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) with simulated HyperPod nodes managed by kwok."""
