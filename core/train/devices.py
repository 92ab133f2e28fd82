"""Which device trains: the first GPU TensorFlow sees, else the CPU (for the page and the CLI).

TensorFlow places a job's ops on the first visible GPU by itself; a Ray task declared with
GPUs sees only the GPUs Ray gave it (CUDA_VISIBLE_DEVICES), so "the first one" is its own.
Memory growth is turned on so several jobs can share one GPU when a share below 1 is set.
"""

from __future__ import annotations

import contextlib

from core.i18n import Message


def training_device(node: str | None = None) -> Message:
    """The device this process trains on, on a Ray node when `node` is given."""
    import tensorflow as tf

    where = {} if node is None else {"node": node}
    suffix = "" if node is None else "_on_node"
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Message(f"cluster.device.cpu{suffix}", where)
    for gpu in gpus:
        # Only before the GPU is first used; later calls raise RuntimeError and change nothing.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    details = tf.config.experimental.get_device_details(gpus[0])
    name = str(details.get("device_name", gpus[0].name))
    return Message(f"cluster.device.gpu{suffix}", {"name": name, **where})
