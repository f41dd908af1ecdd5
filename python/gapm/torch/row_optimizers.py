"""Optimizer steps for embedding rows, written as additive deltas.

A gapm row holds the embedding (dim values) followed by the optimizer's state; a step reads
the rows as pulled in the forward pass and pushes `value += delta` for the embedding and the
state together. Additive deltas are what keeps replicas exact: every node's updates add up,
none is lost or applied twice (a `set` would overwrite concurrent updates).

Each optimizer here matches its torch.optim twin applied to the rows a batch touched (with
weight_decay=0, lr_decay=0, momentum=0): a table trained by gapm.torch.Embedding on one node
follows torch.nn.Embedding + torch.optim.SGD / Adagrad up to float rounding.

The step goes through RowOptimizer.step(worker, keys, rows, grads): SGD and AdaGrad (with
initial_accumulator_value 0) use gapm's fused steps (Worker::apply_sgd / apply_adagrad, the
update computed where each row lives, atomically per row); AdaGrad with a non-zero initial
accumulator pushes the deltas computed here from the pulled rows.
"""

import torch

from .._core import UsageError


class RowOptimizer:
    """How the gradient of some embedding rows becomes an additive update of their gapm rows."""

    name = "?"

    def state_width(self, dim):
        """Values of optimizer state after the embedding in each row."""
        raise NotImplementedError

    def row_length(self, dim):
        return dim + self.state_width(dim)

    def deltas(self, rows, grads):
        """The additive update of rows (n, row_length) for gradients grads (n, dim) of their
        embedding part. Keys are distinct: gradients of repeated keys are summed first."""
        raise NotImplementedError

    def step(self, worker, keys, rows, grads):
        """Applies one step to the rows of distinct `keys` (pulled as `rows`) for `grads`."""
        return worker.push(keys, self.deltas(rows, grads))


class RowSGD(RowOptimizer):
    """Plain SGD: delta = -lr * grad. No state: row_length == dim. Matches torch.optim.SGD
    (momentum 0, weight_decay 0)."""

    name = "sgd"

    def __init__(self, lr):
        if not lr > 0:
            raise UsageError(f"gapm.torch: sgd needs a learning rate > 0, got {lr}")
        self.lr = float(lr)

    def state_width(self, dim):
        return 0

    def deltas(self, rows, grads):
        return grads * (-self.lr)

    def step(self, worker, keys, rows, grads):
        return worker.apply_sgd(keys, grads, self.lr)  # fused in gapm


class RowAdagrad(RowOptimizer):
    """AdaGrad with torch.optim.Adagrad's formula. Row layout [embedding | accumulator]
    (row_length = 2 * dim); per step, with acc the accumulator as pulled:

        acc'  = acc + g*g
        param = param - lr * g / (sqrt(acc') + eps)      (eps added after the sqrt, as torch does)

    pushed as delta_acc = g*g and delta_emb = -lr * g / (sqrt(acc + g*g) + eps). gapm rows start
    at zero, so the stored accumulator is relative to `initial_accumulator_value` (torch's
    option of that name), which is added when it is read: no initialisation pass is needed.
    """

    name = "adagrad"

    def __init__(self, lr, eps=1e-10, initial_accumulator_value=0.0):
        if not lr > 0:
            raise UsageError(f"gapm.torch: adagrad needs a learning rate > 0, got {lr}")
        if eps < 0 or initial_accumulator_value < 0:
            raise UsageError("gapm.torch: adagrad needs eps >= 0 and initial_accumulator_value >= 0")
        self.lr = float(lr)
        self.eps = float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def state_width(self, dim):
        return dim

    def deltas(self, rows, grads):
        dim = grads.shape[1]
        squared = grads * grads
        accumulator = rows[:, dim:] + self.initial_accumulator_value + squared
        std = accumulator.sqrt().add_(self.eps)
        return torch.cat([grads / std * (-self.lr), squared], dim=1)

    def step(self, worker, keys, rows, grads):
        if self.initial_accumulator_value == 0:
            return worker.apply_adagrad(keys, grads, self.lr, self.eps)  # fused in gapm, where the row lives
        return worker.push(keys, self.deltas(rows, grads))


def make_row_optimizer(optimizer, lr, **options):
    """A RowOptimizer from a name ("sgd", "adagrad") and its options, or `optimizer` itself
    when it is one already."""
    if isinstance(optimizer, RowOptimizer):
        if options or lr is not None:
            raise UsageError("gapm.torch: give lr and the optimizer's options to the RowOptimizer itself")
        return optimizer
    if lr is None:
        raise UsageError("gapm.torch: give a learning rate (lr=...)")
    kinds = {"sgd": RowSGD, "adagrad": RowAdagrad}
    if optimizer not in kinds:
        raise UsageError(f"gapm.torch: unknown optimizer {optimizer!r}; use one of {sorted(kinds)} or a RowOptimizer")
    return kinds[optimizer](lr, **options)
