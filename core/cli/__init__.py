"""The command-line twin (`python -m core ...`): it sits above every step and may import any of
them; nothing imports it.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
