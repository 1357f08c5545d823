"""``agent-audit demo``: the pipeline end to end on the local stack, with simulated agents."""
