"""Evaluation and benchmarks: data set loaders, pure metrics, runners that write run folders."""
