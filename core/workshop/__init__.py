"""Workshop mode: lessons as data (lessons/<id>.toml), and challenges checked from a session's
own runs and work."""
