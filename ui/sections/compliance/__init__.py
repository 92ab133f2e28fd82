"""The Compliance page's tabs, one module each; pages/compliance.py puts them together."""
