"""gapm.Worker on one node: every call, the shapes of what pull returns, the checks of what
the calls take, tickets, clocks, sampling, finalize, and the GIL."""

import threading

import numpy as np
import pytest
import torch

import gapm


@pytest.fixture
def node(make_node):
    return make_node(tables="10x3,4x2", dtype=torch.int64, workers=2)


@pytest.fixture
def worker(node):
    return node.worker(0)


def test_pull_shapes(worker):
    assert worker.pull([0, 1]).shape == (2, 3)            # one table: (n, row_length)
    assert worker.pull([10, 13, 10]).shape == (3, 2)      # the other table alone
    assert worker.pull([0, 10]).shape == (5,)             # mixed row lengths: 1-D, concatenated
    assert worker.pull([]).shape == (0,)
    assert worker.pull(torch.tensor([[0, 1], [2, 3]])).shape == (4, 3)  # keys of any shape, flattened


def test_uniform_tables_give_2d_even_when_empty(make_node):
    w = make_node(tables="10x3,4x3").worker(0)
    assert w.pull([0, 12]).shape == (2, 3)
    assert w.pull(torch.empty(0, dtype=torch.int64)).shape == (0, 3)


def test_push_adds_and_repeats_add_up(worker):
    keys = torch.tensor([1, 2, 1])
    ticket = worker.push(keys, torch.tensor([[1, 2, 3], [10, 20, 30], [100, 200, 300]]))
    assert ticket.is_local and ticket.done and ticket.wait() is None
    worker.push([1], torch.tensor([1, 1, 1]))  # deltas of any shape with the right element count
    assert worker.pull([1, 2]).tolist() == [[102, 203, 304], [10, 20, 30]]


def test_push_mixed_tables(worker):
    worker.push([0, 11], torch.arange(5))
    assert worker.pull([0, 11]).tolist() == [0, 1, 2, 3, 4]


def test_set_overwrites_last_wins(worker):
    worker.push([3], torch.ones(3, dtype=torch.int64))
    worker.set([3, 4, 3], torch.tensor([[1, 1, 1], [2, 2, 2], [7, 8, 9]])).wait()
    assert worker.pull([3, 4]).tolist() == [[7, 8, 9], [2, 2, 2]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_values(make_node, dtype):
    w = make_node(tables="5x4", dtype=dtype).worker(0)
    w.push([2], torch.full((4,), 0.5, dtype=dtype))
    w.push([2], torch.full((4,), 0.25, dtype=dtype))
    assert torch.equal(w.pull([2]), torch.full((1, 4), 0.75, dtype=dtype))


def test_pull_into_out(worker):
    out = torch.full((2, 3), -1, dtype=torch.int64)
    worker.push([5], torch.tensor([1, 2, 3]))
    result = worker.pull([5, 6], out=out)
    assert result.data_ptr() == out.data_ptr()
    assert out.tolist() == [[1, 2, 3], [0, 0, 0]]
    flat = torch.empty(6, dtype=torch.int64)
    worker.pull([5, 6], out=flat)  # any shape with the right element count
    assert flat.tolist() == [1, 2, 3, 0, 0, 0]


def test_out_is_checked(worker):
    with pytest.raises(gapm.UsageError, match="out has 5 elements, but the keys' rows need 6"):
        worker.pull([0, 1], out=torch.empty(5, dtype=torch.int64))
    with pytest.raises(gapm.UsageError, match="out has dtype torch.float32, but this node holds torch.int64"):
        worker.pull([0, 1], out=torch.empty(6))
    with pytest.raises(gapm.UsageError, match="contiguous"):
        worker.pull([0, 1], out=torch.empty(3, 2, dtype=torch.int64).t())


def test_values_are_checked(worker):
    with pytest.raises(gapm.UsageError, match="deltas has 4 elements, but the keys' rows need 3"):
        worker.push([0], torch.ones(4, dtype=torch.int64))
    with pytest.raises(gapm.UsageError, match="values has dtype torch.float64"):
        worker.set([0], torch.ones(3, dtype=torch.float64))
    # A non-contiguous input is fine (it is copied).
    worker.push([0, 1], torch.arange(6).reshape(3, 2).t())
    assert worker.pull([0, 1]).tolist() == [[0, 2, 4], [1, 3, 5]]


def test_keys_are_checked(worker):
    with pytest.raises(gapm.UsageError, match="keys must be an int64 tensor, got torch.int32"):
        worker.pull(torch.tensor([1], dtype=torch.int32))
    with pytest.raises(gapm.UsageError, match="int64"):
        worker.pull(torch.tensor([1.0]))
    with pytest.raises(gapm.UsageError, match=r"key -1 \(position 1\) is out of range \[0, 14\)"):
        worker.pull([0, -1])
    with pytest.raises(gapm.UsageError, match=r"key 14 \(position 0\) is out of range"):
        worker.push([14], torch.ones(3, dtype=torch.int64))
    with pytest.raises(gapm.UsageError, match="keys must be an int64 tensor or a sequence of ints"):
        worker.pull(["a"])


def test_keys_from_sequences_and_numpy(worker):
    worker.push(range(2), torch.ones(6, dtype=torch.int64))
    assert worker.pull(np.array([0, 1])).sum() == 6
    assert worker.pull((0,)).sum() == 3


def test_failed_call_changes_nothing(worker):
    with pytest.raises(gapm.UsageError):
        worker.push([0, 99], torch.ones(6, dtype=torch.int64))
    assert worker.pull([0]).tolist() == [[0, 0, 0]]


def test_other_devices_are_refused(worker):
    keys = torch.tensor([0], device="meta")
    with pytest.raises(gapm.UnsupportedError, match="store is 'cpu'") as failure:
        worker.push([0], torch.ones(3, dtype=torch.int64, device="meta"))
    assert isinstance(failure.value, NotImplementedError)
    with pytest.raises(gapm.Error):
        worker.pull(keys)


def test_pull_async(worker):
    worker.push([7], torch.tensor([4, 5, 6]))
    ticket = worker.pull_async([7])
    assert ticket.is_local and ticket.done  # one node: every key is local
    assert ticket.wait().tolist() == [[4, 5, 6]]
    assert worker.wait(ticket).tolist() == [[4, 5, 6]]
    assert worker.is_finished(ticket)
    out = torch.empty(3, dtype=torch.int64)
    assert worker.pull_async([7], out=out).wait().data_ptr() == out.data_ptr()
    assert "Ticket" in repr(ticket)


def test_ticket_of_another_worker(node):
    ticket = node.worker(0).pull_async([1])
    with pytest.raises(gapm.UsageError, match="belongs to worker 0"):
        node.worker(1).wait(ticket)


def test_clock_and_intent(worker):
    assert worker.clock == 0
    worker.intent([1, 2], 0)
    worker.intent(torch.tensor([3]), 2, 5)
    worker.intent([4], 0, gapm.CLOCK_MAX)
    worker.intent([], 3)
    worker.advance_clock()
    worker.advance_clock()
    assert worker.clock == 2
    with pytest.raises(gapm.UsageError, match="end clock 3 is not after start clock 3"):
        worker.intent([1], 3, 3)
    with pytest.raises(gapm.UsageError, match="negative"):
        worker.intent([1], -1)
    with pytest.raises(gapm.UsageError, match="end clock 0"):
        worker.intent([1], 0, 0)
    with pytest.raises(gapm.UsageError, match="out of range"):
        worker.intent([100], 5)


def test_wait_all_wait_sync(worker):
    worker.push([1], torch.ones(3, dtype=torch.int64))
    worker.wait_all()
    worker.wait_sync()


def test_finalize(make_node):
    worker = make_node(tables="10x3").worker(0)  # one worker: finalize ends in a barrier of all workers
    worker.finalize()
    assert worker.clock == gapm.WORKER_FINISHED
    with pytest.raises(gapm.UsageError, match="after finalize"):
        worker.pull([1])
    with pytest.raises(gapm.UsageError, match="after finalize"):
        worker.advance_clock()


@pytest.mark.parametrize("scheme", ["naive", "preloc", "pool", "local"])
def test_sampling(make_node, scheme):
    node = make_node(tables="20x2,30x4", dtype=torch.int64, sampling_scheme=scheme)
    node.set_uniform_sampler(20, 50, seed=3)
    w = node.worker(0)
    w.push(torch.arange(20, 50), torch.arange(20, 50).repeat_interleave(4))  # row = (k, k, k, k)
    sample = w.prepare_sample(6, 0, 2)
    keys, rows = w.pull_sample(sample, 4)
    assert keys.shape == (4,) and rows.shape == (4, 4)
    assert ((keys >= 20) & (keys < 50)).all()
    assert torch.equal(rows, keys.unsqueeze(1).expand(4, 4))
    keys, rows = w.pull_sample(sample, 2)
    assert keys.shape == (2,)
    with pytest.raises(gapm.UsageError, match="left"):
        w.pull_sample(sample, 1)
    w.finish_sample(sample)
    with pytest.raises(gapm.UsageError, match="unknown or finished"):
        w.finish_sample(sample)


def test_sampling_with_mixed_row_lengths(make_node):
    node = make_node(tables="20x2,30x4", dtype=torch.int64, sampling_scheme="naive")
    node.set_uniform_sampler(0, 50, seed=1)
    w = node.worker(0)
    keys, rows = w.pull_sample(w.prepare_sample(40, 0), 40)
    assert rows.numel() == sum(2 if k < 20 else 4 for k in keys.tolist())


def test_python_sampler(make_node):
    node = make_node(tables="20x2", dtype=torch.int64, sampling_scheme="naive")
    drawn = iter(range(3, 20))
    node.set_sampler(lambda: next(drawn))
    w = node.worker(0)
    keys, _ = w.pull_sample(w.prepare_sample(3, 0), 3)
    assert keys.tolist() == [3, 4, 5]


def test_sampler_errors(make_node):
    node = make_node(tables="20x2", dtype=torch.int64, sampling_scheme="naive")
    w = node.worker(0)
    with pytest.raises(gapm.UsageError, match="no sampler"):
        w.prepare_sample(3, 0)
    with pytest.raises(gapm.UsageError, match="key range"):
        node.set_uniform_sampler(5, 30)

    def failing():
        raise KeyError("from the sampler")
    node.set_sampler(failing)
    with pytest.raises(KeyError, match="from the sampler"):
        w.prepare_sample(3, 0)
    node.set_sampler(lambda: 99)
    with pytest.raises(gapm.UsageError, match="key 99"):
        w.prepare_sample(3, 0)


def test_barrier_releases_the_gil(make_node):
    """Two workers of one node meet at the barrier from two threads: a barrier that held the
    GIL would keep the second thread from ever arriving."""
    node = make_node(tables="10x2", workers=2)
    arrived = []

    def second():
        node.worker(1).barrier()
        arrived.append(1)

    thread = threading.Thread(target=second)
    thread.start()
    node.worker(0).barrier()
    thread.join(timeout=20)
    assert arrived == [1]


def test_one_worker_two_threads_is_refused(make_node):
    node = make_node(tables="10x2", workers=2)
    w0, w1 = node.worker(0), node.worker(1)
    inside = threading.Event()
    errors = []

    def blocked_in_barrier():
        inside.set()
        try:
            w0.barrier()  # waits for worker 1
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    thread = threading.Thread(target=blocked_in_barrier)
    thread.start()
    inside.wait()
    for _ in range(200):  # until the thread is inside the barrier, i.e. w0 is busy
        try:
            w0.pull([1])
        except gapm.UsageError as e:
            assert "another thread" in str(e)
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("a second thread could use worker 0 during its barrier")
    with pytest.raises(gapm.UsageError, match="worker 0 is in a call in another thread"):
        node.close()  # would pull the worker from under the barrier
    w1.barrier()
    thread.join(timeout=20)
    assert not errors


def test_fused_steps_match_their_formulas(make_node):
    w = make_node(tables="6x4,6x6", dtype=torch.float64).worker(0)
    start = torch.rand(6, 4, dtype=torch.float64)
    w.set(torch.arange(6), start)
    g = torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=torch.float64)
    # AdaGrad on rows [param(2) | acc(2)], torch.optim.Adagrad's formula (eps after the sqrt).
    assert w.apply_adagrad([1, 4], g, lr=0.1, eps=1e-6).is_local
    acc = start[[1, 4], 2:] + g * g
    expected = torch.cat([start[[1, 4], :2] - 0.1 * g / (acc.sqrt() + 1e-6), acc], dim=1)
    assert torch.equal(w.pull([1, 4]), expected)
    # SGD on the same rows (row_factor 1: the whole row is parameters).
    w.apply_sgd([0], torch.ones(1, 4, dtype=torch.float64), lr=0.5)
    assert torch.equal(w.pull([0]), start[[0]] - 0.5)
    # Adam on rows [param(2) | m(2) | v(2)] of the second table, from zero rows.
    ga = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    w.apply_adam([7], ga, lr=0.01, t=1)
    m, v = 0.1 * ga, 0.001 * ga * ga
    param = -0.01 * (m / 0.1) / ((v / 0.001).sqrt() + 1e-8)
    assert torch.allclose(w.pull([7]), torch.cat([param, m, v], dim=1), rtol=0, atol=1e-15)


def test_fused_steps_check_their_arguments(make_node):
    w = make_node(tables="6x3", dtype=torch.float32).worker(0)
    with pytest.raises(ValueError, match="do not split into 2 parts"):
        w.apply_adagrad([1], torch.ones(1, 1), lr=0.1)
    with pytest.raises(ValueError, match="grads"):
        w.apply_sgd([1], torch.ones(2), lr=0.1)
    assert torch.equal(w.pull([1]), torch.zeros(1, 3))
