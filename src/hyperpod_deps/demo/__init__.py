"""`hyperpod-deps demo`'s story on the local cluster: a training job that comes back on a healthy
node after a GPU fault, told by the chart's own pods on a real node (real_pods.py) or, where this
machine cannot run one, by stand-ins of them (story.py)."""
