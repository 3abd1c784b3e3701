"""The health monitoring agent: kernel-log and accelerator monitors, the rules that classify what
they see, and the agent that marks its own node (labels, taint, conditions, events)."""
