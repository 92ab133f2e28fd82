"""Step 5, Deploy: the bundle (a model plus its preprocessing as data), its standalone predict.py,
the training script, TFLite exports and the one-row prediction form.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
