"""On-demand benchmarks (not part of pytest): see bench/README.md."""
