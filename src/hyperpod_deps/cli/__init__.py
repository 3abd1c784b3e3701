"""The hyperpod-deps command line: one module per command."""
