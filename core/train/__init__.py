"""Step 3, Train: Keras model specs and builder (models), the background training job, queue and
runs (engine), the run configuration shared by the page and the CLI (runner), and the training
figures.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
