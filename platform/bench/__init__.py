"""Benchmarks of the platform CLI (`make bench`); printed as ratios, never asserted."""
