"""Step 2, Preprocess: task detection, the per-column plan and its editable table, the splits, and
the pipeline object (`Prepared`, `prepare()` in pipeline.py) that every later step consumes.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
