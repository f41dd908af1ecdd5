"""One node of the dead-peer test (test_multiprocess.py): after a first barrier, rank 1 dies
without a word; rank 0 must get a gapm.CommError from its next barrier, within seconds."""

import os
import sys
import time

import gapm

node = gapm.Node(tables="10x2", peer_timeout_s=1, print_stats=False)
worker = node.worker(0)
worker.barrier()
if node.rank == 1:
    os._exit(0)
start = time.monotonic()
try:
    worker.barrier()
except gapm.CommError as e:
    print(f"COMM_ERROR after {time.monotonic() - start:.1f} s: {e}")
    node.close()
    sys.exit(0)
print("no error")
sys.exit(1)
