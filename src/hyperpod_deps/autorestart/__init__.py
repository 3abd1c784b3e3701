"""Job auto-restart: brings opted-in Kubeflow training jobs back after a node fault.

Pure decision code (`jobkinds`, `validation`, `faults`, `record`, `policy`, `index`) and a thin
I/O shell (`watchers`, `actions`, `runner`) that talks to the API server through `kube/` only.
"""
