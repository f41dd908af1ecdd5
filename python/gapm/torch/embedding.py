"""gapm.torch.Embedding: an nn.Module over one gapm table.

forward(indices) pulls the rows of the indices; backward turns the rows' gradient into the
optimizer step, pushed as additive deltas (gapm.torch.RowSGD / RowAdagrad). So there is no
weight tensor and no torch optimizer for it: the step happens during loss.backward(), once
per forward call. intent(indices, start, end) tells gapm which rows this worker will need.
"""

import torch

from .._core import UsageError, Worker
from .row_optimizers import make_row_optimizer


class _PullRows(torch.autograd.Function):
    """Forward: pull the rows of `keys`, return their embedding part. Backward: sum the
    gradients of repeated keys and let the module's optimizer step the distinct keys."""

    @staticmethod
    def forward(ctx, anchor, keys, module):
        rows = module.worker.pull(keys)  # (n, row_length): embedding | optimizer state
        ctx.module, ctx.keys, ctx.rows = module, keys, rows
        return rows[:, : module.embedding_dim].clone()

    @staticmethod
    def backward(ctx, grad):
        ctx.module._step(ctx.keys, ctx.rows, grad)
        return None, None, None


class Embedding(torch.nn.Module):
    """An embedding table whose rows live in gapm table `table` of `node`.

    Args:
        num_embeddings: rows; must equal the table's key count.
        embedding_dim: values per embedding; the table's row length must be
            embedding_dim + the optimizer's state (sgd: dim, adagrad: 2 * dim).
        node: the gapm.Node (float32 or float64 values).
        table: index of the table in node.tables.
        optimizer: "adagrad" (default), "sgd", or a gapm.torch.RowOptimizer.
        lr: the learning rate (for a named optimizer).
        worker: the gapm.Worker to use, or its id on `node` (default 0). Modules used by one
            thread share one worker (node.worker(i) returns the same object).
        **optimizer_options: e.g. eps, initial_accumulator_value for adagrad.

    forward(indices) returns a tensor of shape (*indices.shape, embedding_dim). In training
    mode with gradients enabled, backward applies the optimizer step to the rows pulled by that
    forward call, with the gradients of repeated indices summed first: exactly
    torch.nn.Embedding + the torch optimizer when one forward call covers a step's lookups
    (look them up with one call, e.g. on torch.cat of the index tensors; separate calls are
    separate steps, as in asynchronous training). The clock is the caller's: call
    worker.advance_clock() per batch. Not supported: padding_idx, max_norm, sparse, and
    double backward.
    """

    def __init__(self, num_embeddings, embedding_dim, node, table=0, optimizer="adagrad", lr=None, worker=0,
                 **optimizer_options):
        super().__init__()
        tables = node.tables
        if not 0 <= table < len(tables):
            raise UsageError(f"gapm.torch.Embedding: table {table} does not exist; the node has {len(tables)} "
                             f"table(s) {tables}")
        if node.dtype not in (torch.float32, torch.float64):
            raise UsageError(f"gapm.torch.Embedding: the node holds {node.dtype} values; an embedding needs "
                             "torch.float32 or torch.float64")
        self.optimizer = make_row_optimizer(optimizer, lr, **optimizer_options)
        keys, row_length = tables[table]
        if num_embeddings != keys:
            raise UsageError(f"gapm.torch.Embedding: num_embeddings={num_embeddings}, but table {table} has "
                             f"{keys} keys")
        needed = self.optimizer.row_length(embedding_dim)
        if row_length != needed:
            raise UsageError(f"gapm.torch.Embedding: table {table} has rows of {row_length} values, but a "
                             f"{self.optimizer.name} embedding of dim {embedding_dim} needs {needed} "
                             f"([embedding | {self.optimizer.state_width(embedding_dim)} values of state])")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.table = table
        self.key_offset = sum(k for k, _ in tables[:table])
        self.node = node
        self.worker = worker if isinstance(worker, Worker) else node.worker(worker)
        # Function.apply records a backward only when an input requires grad; the rows are not a
        # torch parameter, so this empty tensor stands in (not registered: no optimizer sees it).
        self._anchor = torch.empty(0, requires_grad=True)

    def extra_repr(self):
        return (f"{self.num_embeddings}, {self.embedding_dim}, table={self.table}, "
                f"optimizer={self.optimizer.name}, lr={self.optimizer.lr}")

    def keys(self, indices):
        """The gapm keys of embedding indices (a flat int64 tensor)."""
        if not isinstance(indices, torch.Tensor):
            indices = torch.as_tensor(indices)
        if indices.dtype not in (torch.int64, torch.int32):
            raise UsageError(f"gapm.torch.Embedding: indices must be an integer tensor, got {indices.dtype}")
        flat = indices.reshape(-1).long()
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= self.num_embeddings):
            bad = flat[(flat < 0) | (flat >= self.num_embeddings)][0]
            raise UsageError(f"gapm.torch.Embedding: index {int(bad)} is out of range [0, {self.num_embeddings})")
        return flat + self.key_offset if self.key_offset else flat

    def forward(self, indices):
        keys = self.keys(indices)
        shape = (*indices.shape, self.embedding_dim)
        if self.training and torch.is_grad_enabled():
            return _PullRows.apply(self._anchor, keys, self).reshape(shape)
        return self.worker.pull(keys)[:, : self.embedding_dim].reshape(shape)

    def intent(self, indices, start, end=None):
        """This worker will look up `indices` during its clocks [start, end) (end: start + 1)."""
        self.worker.intent(self.keys(indices), start, end)

    def _step(self, keys, rows, grad):
        grads = grad.reshape(-1, self.embedding_dim).to(rows.dtype)
        unique, inverse = torch.unique(keys, return_inverse=True)
        if unique.numel() != keys.numel():
            summed = torch.zeros(unique.numel(), self.embedding_dim, dtype=grads.dtype, device=grads.device)
            summed.index_add_(0, inverse, grads)
            # Rows of one key pulled in one request are identical: any occurrence will do.
            position = torch.empty(unique.numel(), dtype=torch.int64, device=keys.device)
            position.scatter_(0, inverse, torch.arange(keys.numel(), device=keys.device))
            keys, rows, grads = unique, rows[position], summed
        self.optimizer.step(self.worker, keys, rows, grads)

    # --- whole-table helpers -------------------------------------------------------------------

    def pull_weight(self):
        """The whole table's embeddings, (num_embeddings, embedding_dim): for evaluation and tests."""
        keys = torch.arange(self.num_embeddings, dtype=torch.int64) + self.key_offset
        return self.worker.pull(keys)[:, : self.embedding_dim].clone()

    def load_weight(self, weight):
        """Sets every row to `weight` (num_embeddings, embedding_dim), optimizer state zero. Call
        it from one worker of one node, then barrier (e.g. to start from a torch model's weights)."""
        weight = torch.as_tensor(weight, dtype=self.node.dtype)
        if tuple(weight.shape) != (self.num_embeddings, self.embedding_dim):
            raise UsageError(f"gapm.torch.Embedding.load_weight: expected shape "
                             f"{(self.num_embeddings, self.embedding_dim)}, got {tuple(weight.shape)}")
        keys = torch.arange(self.num_embeddings, dtype=torch.int64) + self.key_offset
        self.worker.set(keys, self._rows_of(weight)).wait()

    def reset_parameters(self, std=1.0, seed=0, chunk=4096):
        """Collective: every worker of every node calls it (with the same arguments). Draws the
        embeddings from N(0, std^2) -- the same values for any number of nodes -- with optimizer
        state zero, each worker writing its share of the table, then waits at a barrier."""
        world = self.node.world_size * int(self.node.options["workers"])
        me = self.node.rank * int(self.node.options["workers"]) + self.worker.id
        for first in range(chunk * me, self.num_embeddings, chunk * world):
            count = min(chunk, self.num_embeddings - first)
            generator = torch.Generator().manual_seed(seed * 1_000_003 + first // chunk)
            weight = torch.randn(count, self.embedding_dim, generator=generator, dtype=torch.float64) * std
            keys = torch.arange(first, first + count, dtype=torch.int64) + self.key_offset
            self.worker.set(keys, self._rows_of(weight.to(self.node.dtype)))
        self.worker.wait_all()
        self.worker.barrier()

    def _rows_of(self, weight):
        state = torch.zeros(weight.shape[0], self.optimizer.state_width(self.embedding_dim), dtype=weight.dtype)
        return torch.cat([weight, state], dim=1)
