"""gapm.Node: construction from keywords, the environment and argv; properties; workers;
stats; shutdown and close; snapshots."""

import pytest
import torch

import gapm


def test_module_surface():
    assert gapm.__version__
    assert "sync.max_per_sec" in gapm.option_names()
    assert gapm.default_options()["sync.max_per_sec"] == "1000"
    assert gapm.CLOCK_MAX > 2**62
    for name in ("Node", "Worker", "Ticket", "Error", "UsageError", "CommError", "UnsupportedError"):
        assert hasattr(gapm, name)


@pytest.mark.parametrize("tables", ["100x4,20x2", [(100, 4), (20, 2)], ((100, 4), [20, 2])])
def test_tables_as_text_or_pairs(make_node, tables):
    node = make_node(tables=tables)
    assert node.tables == [(100, 4), (20, 2)]
    assert node.num_keys == 120
    assert node.row_length(0) == 4 and node.row_length(99) == 4 and node.row_length(100) == 2
    with pytest.raises(gapm.UsageError, match="out of range"):
        node.row_length(120)


@pytest.mark.parametrize("dtype,expected", [(torch.float32, torch.float32), (torch.float64, torch.float64),
                                            (torch.int64, torch.int64), ("float64", torch.float64),
                                            ("int64", torch.int64)])
def test_dtype(make_node, dtype, expected):
    node = make_node(tables="10x2", dtype=dtype)
    assert node.dtype == expected
    assert node.worker(0).pull([3]).dtype == expected


def test_default_dtype_is_float32(make_node):
    assert make_node(tables="10x2").dtype == torch.float32


def test_bad_dtype(make_node):
    with pytest.raises(gapm.UsageError, match="dtype must be"):
        make_node(tables="10x2", dtype=torch.int32)


def test_single_node_properties(make_node):
    node = make_node(tables="10x2")
    assert (node.rank, node.world_size) == (0, 1)
    assert node.store_name == "cpu"
    assert not node.closed
    assert "rank 0 of 1" in repr(node)


def test_keywords_are_options(make_node):
    node = make_node(tables="10x2", workers=2, sync_max_per_sec=500, time_intent_actions=False,
                     sync_threshold=float("inf"), techniques="replication_only", **{"sampling.pool_size": 7})
    o = node.options
    assert o["workers"] == "2"
    assert float(o["sync.max_per_sec"]) == 500
    assert o["time_intent_actions"] == "false"
    assert o["sync.threshold"] == "inf"
    assert o["techniques"] == "replication_only"
    assert o["sampling.pool_size"] == "7"


def test_unknown_option_is_named(make_node):
    with pytest.raises(gapm.UsageError, match="unknown option 'sync_max_per_second'") as failure:
        make_node(tables="10x2", sync_max_per_second=5)
    assert "sync_max_per_sec" in str(failure.value)  # the list of options helps to spot the typo
    assert isinstance(failure.value, ValueError)


def test_malformed_option_values(make_node):
    with pytest.raises(gapm.UsageError, match="workers"):
        make_node(tables="10x2", workers="many")
    with pytest.raises(gapm.UsageError, match="option 'workers' takes a str, bool, int or float"):
        make_node(tables="10x2", workers=[1])
    with pytest.raises(gapm.UsageError, match="tables"):
        make_node(tables=[(10,)])
    with pytest.raises(gapm.UsageError, match="tables"):
        make_node(tables="ten by two")


def test_tables_are_required(make_node):
    with pytest.raises(gapm.UsageError, match="tables"):
        make_node()


def test_environment_overrides_keywords(make_node, monkeypatch):
    monkeypatch.setenv("GAPM_SYNC_MAX_PER_SEC", "123")
    monkeypatch.setenv("GAPM_TABLES", "30x3")
    node = make_node(tables="10x2", sync_max_per_sec=500)
    assert float(node.options["sync.max_per_sec"]) == 123
    assert node.tables == [(30, 3)]
    assert float(make_node(tables="10x2", env=False).options["sync.max_per_sec"]) == 1000


def test_unknown_environment_option(make_node, monkeypatch):
    monkeypatch.setenv("GAPM_NO_SUCH_OPTION", "1")
    with pytest.raises(gapm.UsageError, match="GAPM_NO_SUCH_OPTION"):
        make_node(tables="10x2")


def test_argv_overrides_environment(make_node, monkeypatch):
    monkeypatch.setenv("GAPM_SYNC_MAX_PER_SEC", "123")
    node = make_node(tables="10x2", argv=["train.py", "--lr=0.1", "--gapm.sync.max_per_sec=77", "--gapm.workers", "3"])
    assert float(node.options["sync.max_per_sec"]) == 77
    assert node.options["workers"] == "3"
    with pytest.raises(gapm.UsageError, match="bogus"):
        make_node(tables="10x2", argv=["train.py", "--gapm.bogus=1"])


def test_worker_is_created_once(make_node):
    node = make_node(tables="10x2", workers=2)
    w0 = node.worker(0)
    assert node.worker(0) is w0
    assert node.worker() is w0
    assert node.worker(1).id == 1
    with pytest.raises(gapm.UsageError, match="out of range"):
        node.worker(2)


def test_worker_keeps_node_alive():
    worker = gapm.Node(tables="10x2", print_stats=False).worker(0)  # the node has no name
    worker.push([1], torch.ones(2))
    assert worker.pull([1]).tolist() == [[1.0, 1.0]]


def test_stats(make_node):
    node = make_node(tables="10x2")
    w = node.worker(0)
    w.pull([1, 2, 3])
    w.push([1], torch.ones(2))
    s = node.stats()
    assert s["pulls_local"] == 3 and s["pulls_remote"] == 0 and s["pushes_local"] == 1
    assert s["slots_capacity"] == 10
    assert isinstance(s["uptime_s"], float)
    assert "pull" in node.stats_summary()


def test_barrier_single_node(make_node):
    make_node(tables="10x2").barrier()


def test_shutdown_ends_workers(make_node):
    node = make_node(tables="10x2")
    w = node.worker(0)
    node.shutdown()
    node.shutdown()  # idempotent
    with pytest.raises(gapm.UsageError, match="shut down"):
        w.pull([1])


def test_close_ends_node_and_workers(make_node):
    node = make_node(tables="10x2")
    w = node.worker(0)
    node.close()
    node.close()  # idempotent
    assert node.closed and "closed" in repr(node)
    with pytest.raises(gapm.UsageError, match="closed"):
        w.pull([1])
    with pytest.raises(gapm.UsageError, match="closed"):
        node.worker(0)
    with pytest.raises(gapm.UsageError, match="closed"):
        node.stats()


def test_context_manager():
    with gapm.Node(tables="10x2", print_stats=False) as node:
        w = node.worker(0)
        w.push([0], torch.ones(2))
    with pytest.raises(gapm.UsageError):
        w.pull([0])


def test_context_manager_closes_on_error():
    with pytest.raises(KeyError):
        with gapm.Node(tables="10x2", print_stats=False) as node:
            raise KeyError("boom")
    assert node.closed


def test_save_and_load(make_node, tmp_path):
    path = tmp_path / "snapshot"
    node = make_node(tables="10x2,5x3", dtype=torch.int64)
    w = node.worker(0)
    keys = torch.arange(15)
    w.set(keys, torch.arange(35))
    node.save(path)  # a pathlib.Path
    w.push(keys, torch.ones(35, dtype=torch.int64))
    assert w.pull(keys)[0] == 1
    node.load(str(path))  # or a str
    assert w.pull(keys).tolist() == list(range(35))
    with pytest.raises(gapm.Error, match="snapshot|manifest|open|exist"):
        node.load(tmp_path / "missing")


def test_snapshot_of_other_tables_is_refused(make_node, tmp_path):
    path = tmp_path / "snapshot"
    make_node(tables="10x2", dtype=torch.int64).save(path)
    other = make_node(tables="10x3", dtype=torch.int64)
    with pytest.raises(gapm.Error):
        other.load(path)
