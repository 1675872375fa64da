"""Benchmarks: measurements printed as ratios against a baseline taken in the same run (not tests)."""
