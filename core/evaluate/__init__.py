"""Step 4, Evaluate: metrics with intervals, baselines, thresholds and importance (metrics), the
learning-curve diagnosis, and the evaluation figures.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
