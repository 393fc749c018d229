"""Benchmarks: reply extraction and intent interpretation against peer libraries."""
