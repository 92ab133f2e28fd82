"""The Streamlit glue: session state (`state`), widgets and messages (`widgets`), the workshop's
glue (`workshop`) and the Compliance page's sections (`sections`). Pages import from here; core
never does (docs/ARCHITECTURE.md, "Layers and the one-way rule")."""
