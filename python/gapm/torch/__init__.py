"""gapm.torch: PyTorch modules whose parameters live in gapm.

Embedding is an nn.Module over one gapm table; its backward turns the rows' gradient into an
additive update (RowSGD, RowAdagrad), so that replicas on other nodes stay exactly in sync.
Dense parameters stay in ordinary torch modules, synchronised the usual way.
"""

from .embedding import Embedding
from .row_optimizers import RowAdagrad, RowOptimizer, RowSGD, make_row_optimizer

__all__ = ["Embedding", "RowAdagrad", "RowOptimizer", "RowSGD", "make_row_optimizer"]
