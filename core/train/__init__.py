"""Step 3, Train: Keras model specs and builder (models), the training spec, the job contract and
its thread backend (engine), the other backends (cluster: Ray; multiworker: tf.distribute), the
compiled loop (loop), the per-epoch policy every loop follows (policy), run statuses (status),
the server's queue (jobs), the run configuration shared by the page and the CLI (runner), and
the training figures.

See docs/ARCHITECTURE.md for the layers and the one-way import rule.
"""
