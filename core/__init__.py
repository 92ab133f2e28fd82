"""ModelDesk's product logic: plain Python, no Streamlit."""

__version__ = "0.1.0"
