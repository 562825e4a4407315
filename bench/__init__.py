"""Benchmarks behind `soc bench`: each prints its figures next to a reference run of the same invocation."""
