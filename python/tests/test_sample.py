"""Smoke runs of samples/python/mf.py on 2 processes, under torchrun (python3 -m
torch.distributed.run) and under gapm-run: it must run and its training loss must fall."""

import os
import re
import subprocess
import sys

import pytest

from cluster import SOURCE_DIR, build_dir, free_port

SAMPLE = SOURCE_DIR / "samples" / "python" / "mf.py"
ARGS = ["--rows", "1000", "--cols", "300", "--cells", "20000", "--epochs", "4", "--expect-loss-drop", "2", "--gapm.print_stats=false"]
# Debian 12's torch 1.13 on Python 3.11 rejects the default --redirects/--tee value "0"
# (Std.from_str returns None); a map for a local rank that does not exist means "none".
TORCHRUN_WORKAROUND = ["--redirects=9:0", "--tee=9:0"]


def run(command):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    result = subprocess.run(command, env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=120)
    return result.returncode, result.stdout


def losses(output):
    return [float(x) for x in re.findall(r"(?:initial model|epoch \d+): train loss ([0-9.]+)", output)]


def check_learned(code, output):
    assert code == 0, output
    train = losses(output)
    assert len(train) == 5, output  # the initial model and 4 epochs, printed by rank 0
    assert train[-1] < train[0] / 2, output
    assert len(re.findall(r"rank \d: [0-9.]+% of \d+ pulled rows local", output)) == 2, output


def test_sample_under_torchrun():
    code, output = run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                        f"--master_port={free_port()}", *TORCHRUN_WORKAROUND, str(SAMPLE), *ARGS])
    check_learned(code, output)


def test_sample_under_gapm_run():
    gapm_run = build_dir() / "tools" / "gapm-run"
    if not gapm_run.exists():
        pytest.skip(f"no gapm-run at {gapm_run} (set BUILD_DIR to the build tree)")
    check_learned(*run([str(gapm_run), "-n", "2", "--", sys.executable, str(SAMPLE), *ARGS]))
