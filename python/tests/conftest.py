"""Shared fixtures of the gapm Python tests.

The tests import gapm from the build tree: run them with python/run-pytest (generated into
<build>/python by CMake, run by scripts/run-tests.sh), or with PYTHONPATH=<build>/python.
"""

import os

import pytest

# A cluster environment inherited from the shell (or from a test launched under torchrun)
# would make every in-process Node try to join a cluster.
_CLUSTER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "OMPI_COMM_WORLD_RANK",
                      "OMPI_COMM_WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "TORCHELASTIC_USE_AGENT_STORE")


@pytest.fixture(autouse=True)
def single_node_environment(monkeypatch):
    for name in _CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("GAPM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_node():
    """gapm.Node(...) that is shut down after the test, whatever happens (print_stats off)."""
    import gapm

    nodes = []

    def make(*args, **kwargs):
        kwargs.setdefault("print_stats", False)
        node = gapm.Node(*args, **kwargs)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.close()
