"""gapm.torch.Embedding against torch.nn.Embedding with the same optimizer, on one node: the
losses and the trained weights agree within float tolerance; plus its checks and helpers."""

import copy

import pytest
import torch

import gapm
import gapm.torch

TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}
NUM, DIM = 40, 4


def make_pair(make_node, dtype, optimizer, reference_optimizer, lr=0.1, **options):
    """A gapm Embedding in table 1 of a node (table 0 is there to shift the keys) and a torch
    Embedding with the same initial weights, plus a small dense head shared in spirit."""
    state = DIM if optimizer == "adagrad" else 0
    node = make_node(tables=[(7, 3), (NUM, DIM + state)], dtype=dtype)
    emb = gapm.torch.Embedding(NUM, DIM, node, table=1, optimizer=optimizer, lr=lr, **options)
    torch.manual_seed(5)
    ref = torch.nn.Embedding(NUM, DIM, dtype=dtype)
    emb.load_weight(ref.weight.detach())
    ref_opt = reference_optimizer(ref.parameters(), lr=lr, **options)
    head = torch.nn.Linear(DIM, 1, dtype=dtype)
    return emb, ref, ref_opt, head, copy.deepcopy(head)


def train_and_compare(emb, ref, ref_opt, head, ref_head, dtype, steps=12, lookups=1, head_lr=0.05):
    g = torch.Generator().manual_seed(11)
    head_opt = torch.optim.SGD(head.parameters(), lr=head_lr)
    ref_head_opt = torch.optim.SGD(ref_head.parameters(), lr=head_lr)
    for step in range(steps):
        # Few distinct indices per batch: repeats are the rule, as in real embedding training.
        indices = [torch.randint(0, NUM // 2 if step % 2 else NUM, (6, 3), generator=g) for _ in range(lookups)]
        target = torch.randn(6, generator=g, dtype=dtype)

        def loss_of(embedding, dense):
            out = sum(dense(embedding(i)).squeeze(-1).sum(-1) for i in indices)
            return ((out - target) ** 2).mean()

        head_opt.zero_grad()
        loss = loss_of(emb, head)
        loss.backward()  # the embedding's step happens here
        head_opt.step()

        ref_opt.zero_grad()
        ref_head_opt.zero_grad()
        ref_loss = loss_of(ref, ref_head)
        ref_loss.backward()
        ref_opt.step()
        ref_head_opt.step()
        torch.testing.assert_close(loss.detach(), ref_loss.detach(), **TOLERANCE[dtype])
    torch.testing.assert_close(emb.pull_weight(), ref.weight.detach(), **TOLERANCE[dtype])
    torch.testing.assert_close(head.weight, ref_head.weight, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adagrad_matches_torch(make_node, dtype):
    train_and_compare(*make_pair(make_node, dtype, "adagrad", torch.optim.Adagrad, eps=1e-10,
                                 initial_accumulator_value=0.1), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adagrad_defaults_match_torch(make_node, dtype):
    train_and_compare(*make_pair(make_node, dtype, "adagrad", torch.optim.Adagrad), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sgd_matches_torch(make_node, dtype):
    train_and_compare(*make_pair(make_node, dtype, "sgd", torch.optim.SGD), dtype)


def test_sgd_with_several_lookups_per_step_matches_torch(make_node):
    # SGD steps are linear in the gradient: one step per forward call sums to torch's one step.
    train_and_compare(*make_pair(make_node, torch.float64, "sgd", torch.optim.SGD, lr=0.01), torch.float64,
                      lookups=3, head_lr=0.005)


def test_forward_shape_and_values(make_node):
    node = make_node(tables=[(NUM, 2 * DIM)])
    emb = gapm.torch.Embedding(NUM, DIM, node, lr=0.1)
    weight = torch.randn(NUM, DIM)
    emb.load_weight(weight)
    indices = torch.tensor([[1, 2, 3], [3, 2, 1]], dtype=torch.int32)
    out = emb(indices)
    assert out.shape == (2, 3, DIM) and out.requires_grad
    assert torch.equal(out.detach(), weight[indices.long()])


def test_eval_and_no_grad_do_not_update(make_node):
    node = make_node(tables=[(NUM, 2 * DIM)])
    emb = gapm.torch.Embedding(NUM, DIM, node, lr=0.1)
    emb.reset_parameters(std=0.5)
    before = emb.pull_weight()
    emb.eval()
    assert not emb(torch.tensor([1, 2])).requires_grad
    emb.train()
    with torch.no_grad():
        assert not emb(torch.tensor([1, 2])).requires_grad
    assert torch.equal(emb.pull_weight(), before)


def test_anchor_is_not_a_parameter(make_node):
    emb = gapm.torch.Embedding(NUM, DIM, make_node(tables=[(NUM, DIM)]), optimizer="sgd", lr=0.1)
    assert list(emb.parameters()) == []
    assert "optimizer=sgd" in repr(emb)


def test_reset_parameters_is_deterministic(make_node):
    first = gapm.torch.Embedding(NUM, DIM, make_node(tables=[(NUM, 2 * DIM)]), lr=0.1)
    second = gapm.torch.Embedding(NUM, DIM, make_node(tables=[(NUM, 2 * DIM)]), lr=0.1)
    first.reset_parameters(std=0.1, seed=4, chunk=7)
    second.reset_parameters(std=0.1, seed=4, chunk=7)
    w = first.pull_weight()
    assert torch.equal(w, second.pull_weight())
    assert 0.05 < float(w.std()) < 0.2


def test_intent(make_node):
    node = make_node(tables=[(5, 1), (NUM, 2 * DIM)])
    emb = gapm.torch.Embedding(NUM, DIM, node, table=1, lr=0.1)
    emb.intent(torch.tensor([1, 2]), 0, 3)
    emb.intent([4], 1)
    assert node.stats()["intent_keys"] == 3
    assert emb.keys(torch.tensor([0, 39])).tolist() == [5, 44]  # offset by table 0


def test_layout_and_argument_checks(make_node):
    node = make_node(tables=[(NUM, DIM)])
    with pytest.raises(gapm.UsageError, match=r"needs 8 \(\[embedding \| 4 values of state\]\)"):
        gapm.torch.Embedding(NUM, DIM, node, optimizer="adagrad", lr=0.1)
    with pytest.raises(gapm.UsageError, match="num_embeddings=41"):
        gapm.torch.Embedding(NUM + 1, DIM, node, optimizer="sgd", lr=0.1)
    with pytest.raises(gapm.UsageError, match="table 1 does not exist"):
        gapm.torch.Embedding(NUM, DIM, node, table=1, optimizer="sgd", lr=0.1)
    with pytest.raises(gapm.UsageError, match="unknown optimizer 'adam'"):
        gapm.torch.Embedding(NUM, DIM, node, optimizer="adam", lr=0.1)
    with pytest.raises(gapm.UsageError, match="learning rate"):
        gapm.torch.Embedding(NUM, DIM, node, optimizer="sgd")
    emb = gapm.torch.Embedding(NUM, DIM, node, optimizer="sgd", lr=0.1)
    with pytest.raises(gapm.UsageError, match=r"index 40 is out of range \[0, 40\)"):
        emb(torch.tensor([0, 40]))
    with pytest.raises(gapm.UsageError, match="integer tensor"):
        emb(torch.tensor([0.0]))
    with pytest.raises(gapm.UsageError, match="torch.float32 or torch.float64"):
        gapm.torch.Embedding(NUM, DIM, make_node(tables=[(NUM, DIM)], dtype=torch.int64), optimizer="sgd", lr=0.1)


def test_custom_row_optimizer(make_node):
    class Halve(gapm.torch.RowOptimizer):
        name, lr = "halve", 0.0

        def state_width(self, dim):
            return 0

        def deltas(self, rows, grads):
            return -0.5 * rows

    node = make_node(tables=[(NUM, DIM)])
    emb = gapm.torch.Embedding(NUM, DIM, node, optimizer=Halve())
    emb.load_weight(torch.ones(NUM, DIM))
    emb(torch.tensor([3, 3])).sum().backward()  # repeated: one step for the distinct key
    assert emb.pull_weight()[3].tolist() == [0.5] * DIM
    assert emb.pull_weight()[4].tolist() == [1.0] * DIM
