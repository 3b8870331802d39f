"""Benchmarks: each prints its timings as ratios against an anchor measured in the same process."""
