"""The binding on real processes: exactness with int64 values while intents relocate and
replicate keys (3 nodes), a snapshot taken on 3 nodes and loaded on 1, and a dead peer."""

import json

import torch

import gapm
from cluster import check_all_passed, run_cluster


def test_exactness_with_intents_on_three_nodes(tmp_path):
    snapshot = tmp_path / "snapshot"
    results = run_cluster("exactness.py", 3, 300, snapshot, timeout=60)
    check_all_passed(results)
    reports = [json.loads(out.strip().splitlines()[-1]) for _, out in results]
    assert [r["wrong"] for r in reports] == [0, 0, 0], reports
    assert len({r["checksum"] for r in reports}) == 1  # every node read the same values
    stats = [r["stats"] for r in reports]
    assert sum(s["relocations"] for s in stats) > 0, stats
    assert sum(s["replicas_created"] for s in stats) > 0, stats
    assert sum(s["pulls_remote"] for s in stats) > 0, stats
    assert sum(r["remote_tickets"] for r in reports) > 0  # pull_async went remote at least once

    # The snapshot of the 3 nodes, loaded on one node, holds the same values.
    with gapm.Node(tables=[(300, 3), (60, 2)], dtype=torch.int64, print_stats=False) as node:
        node.load(snapshot)
        values = node.worker(0).pull(torch.arange(360)).tolist()
        assert sum((i + 1) * v for i, v in enumerate(values)) == reports[0]["checksum"]


def test_dead_peer_is_a_comm_error():
    results = run_cluster("dead_peer.py", 2, timeout=30)
    code, output = results[0]
    assert code == 0 and "COMM_ERROR" in output, output
    assert "node 1" in output or "rank 1" in output, output
