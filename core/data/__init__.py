"""Step 1, Data: reading every format and encoding people send (loading), the built-in samples, the
profile (column roles, statistics, alerts) and the Data page's figures.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
