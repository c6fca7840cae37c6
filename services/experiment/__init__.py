"""``zerosearch experiment``: the paper's experiment in miniature (cold start vs GRPO against the simulator,
against a real engine, and without the curriculum), run as jobs through the queues like any run."""
