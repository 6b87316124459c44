"""Side-by-side benchmarks (results in docs/benchmarks.md); run from the repository root."""
