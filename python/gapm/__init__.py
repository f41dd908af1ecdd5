"""gapm: a GPU-aware adaptive parameter manager, for PyTorch.

Training code keeps its large, sparsely accessed parameters (embedding tables) in gapm and
*signals intent* -- "this worker will access these keys during clocks [start, end)" -- and
gapm relocates or replicates the rows between processes so that the accesses are local.

    import torch, gapm
    node = gapm.Node(tables="100000x32", dtype=torch.float32)   # reads RANK/WORLD_SIZE/...
    worker = node.worker(0)
    worker.intent(next_keys, worker.clock + 1)    # the keys of the next batch
    rows = worker.pull(keys)                      # (n, 32) tensor
    worker.push(keys, deltas)                     # value += delta
    worker.advance_clock()
    worker.finalize(); node.shutdown()

gapm.torch.Embedding wraps a table as an nn.Module whose backward applies the optimizer step.
Errors: gapm.UsageError (a ValueError) for misuse, gapm.CommError for cluster failures, both
gapm.Error (a RuntimeError).
"""

import torch as _torch  # noqa: F401  -- the extension module exchanges tensors: torch first

from ._core import (
    CLOCK_MAX,
    WORKER_FINISHED,
    CommError,
    CudaError,
    Error,
    Node,
    Ticket,
    UnsupportedError,
    UsageError,
    Worker,
    default_options,
    option_names,
)
from ._core import __version__

__all__ = [
    "CLOCK_MAX",
    "WORKER_FINISHED",
    "CommError",
    "CudaError",
    "Error",
    "Node",
    "Ticket",
    "UnsupportedError",
    "UsageError",
    "Worker",
    "default_options",
    "option_names",
    "torch",
]

from . import torch  # noqa: E402  -- gapm.torch.Embedding; after the names it uses
