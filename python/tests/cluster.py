"""Starts a gapm cluster of local processes for the multi-process tests: each process gets
the torchrun-style environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)."""

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

PROCS = Path(__file__).parent / "procs"
SOURCE_DIR = Path(__file__).resolve().parents[2]


def free_port():
    """A TCP port that was free a moment ago (the rendezvous port of rank 0), below the kernel's
    ephemeral range (32768 and up on Linux) as in tools/free_port.hpp: one the kernel picked
    from that range could be taken by a node's outgoing connection before rank 0 binds it."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in [20000, 32000) after 200 tries")


def build_dir():
    return Path(os.environ.get("BUILD_DIR", SOURCE_DIR / "build"))


def run_cluster(script, processes, *args, timeout=60, env=None):
    """Runs procs/<script> as `processes` nodes; returns [(returncode, output)] by rank. Kills
    every process when one of them outlives `timeout` seconds."""
    port = free_port()
    children = []
    for rank in range(processes):
        child_env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(processes), LOCAL_RANK=str(rank),
                         MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), PYTHONUNBUFFERED="1", **(env or {}))
        children.append(subprocess.Popen([sys.executable, str(PROCS / script), *map(str, args)], env=child_env,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + timeout
    results = []
    try:
        for child in children:
            output, _ = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((child.returncode, output))
    except subprocess.TimeoutExpired:
        for child in children:
            child.kill()
        outputs = [child.communicate()[0] for child in children]
        raise AssertionError(f"{script}: timed out after {timeout} s\n" + "\n".join(
            f"--- rank {rank}:\n{out}" for rank, out in enumerate(outputs)))
    return results


def check_all_passed(results):
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"rank {rank} exited with {code}:\n{output}\n" + "\n".join(
            f"--- rank {r}:\n{out}" for r, (_, out) in enumerate(results) if r != rank)
