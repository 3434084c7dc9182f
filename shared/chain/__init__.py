"""The video chain engine: job records, the step graph, the step runner and the task queue naming."""
