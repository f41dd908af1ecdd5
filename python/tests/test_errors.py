"""How gapm's C++ exceptions arrive in Python: the classes, their bases and their messages."""

import time

import pytest
import torch

import gapm
from cluster import free_port


def test_exception_hierarchy():
    assert issubclass(gapm.Error, RuntimeError)
    assert issubclass(gapm.UsageError, gapm.Error) and issubclass(gapm.UsageError, ValueError)
    assert issubclass(gapm.CommError, gapm.Error)
    assert issubclass(gapm.UnsupportedError, gapm.Error) and issubclass(gapm.UnsupportedError, NotImplementedError)
    assert issubclass(gapm.CudaError, gapm.Error)
    assert gapm.UsageError.__module__ == "gapm"


def test_usage_error_carries_gapms_message(make_node):
    w = make_node(tables="10x2").worker(0)
    with pytest.raises(ValueError) as failure:
        w.intent([1], 5, 2)
    assert type(failure.value) is gapm.UsageError
    assert str(failure.value) == "gapm: intent: end clock 2 is not after start clock 5"


def test_comm_error_when_the_rendezvous_times_out(monkeypatch):
    """Rank 1 of 2 with nobody at rank 0's rendezvous."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    start = time.monotonic()
    with pytest.raises(gapm.CommError) as failure:
        gapm.Node(tables="10x2", rendezvous_timeout_s=1, print_stats=False)
    assert isinstance(failure.value, gapm.Error) and not isinstance(failure.value, ValueError)
    assert "rendezvous" in str(failure.value) or "127.0.0.1" in str(failure.value)
    assert time.monotonic() - start < 15


def test_bad_launcher_environment_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(gapm.UsageError, match="RANK=2 is not below WORLD_SIZE=2"):
        gapm.Node(tables="10x2", print_stats=False)


def test_unsupported_error(make_node):
    w = make_node(tables="10x2").worker(0)
    with pytest.raises(NotImplementedError, match="store is 'cpu'"):
        w.pull([1], out=torch.empty(2, device="meta"))


def test_snapshot_errors_are_gapm_errors(make_node, tmp_path):
    node = make_node(tables="10x2")
    (tmp_path / "garbage").write_text("not a snapshot")
    with pytest.raises(gapm.Error) as failure:
        node.load(tmp_path / "garbage")
    assert str(failure.value).startswith("gapm")
