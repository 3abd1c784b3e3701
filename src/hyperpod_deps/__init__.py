"""hyperpod-deps: the HyperPod dependencies chart, its agents and its tooling."""

__version__ = "0.1.0"
