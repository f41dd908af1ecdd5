"""One node of the multi-process exactness test (test_multiprocess.py): every node pushes
known int64 deltas through the binding while its intents relocate keys (a partition of
table 0 only it uses, held with long-lived intent), replicate keys (a hot set every node
intends) and move others one batch ahead (table 1). After the quiescence recipe every node
must read exactly the sum of all pushes. Prints one JSON line: rank, wrong rows, checksum,
remote tickets seen, stats. argv: clocks [snapshot path]."""

import json
import sys

import torch

import gapm

TABLES = [(300, 3), (60, 2)]
HOT = 12        # keys 0..11: every node, all the time
LOOKAHEAD = 1   # table 1 keys are announced one batch ahead


def own_partition(rank, world):
    """Keys of table 0 only `rank` uses; their home is another node, so they must move."""
    return torch.tensor([k for k in range(HOT, TABLES[0][0]) if k % world == (rank + 1) % world])


def batch(rank, world, clock):
    g = torch.Generator().manual_seed(rank * 100003 + clock)
    own = own_partition(rank, world)
    return torch.cat([torch.randint(0, HOT, (2,), generator=g),
                      own[torch.randint(0, len(own), (3,), generator=g)],
                      TABLES[0][0] + torch.randint(0, TABLES[1][0], (2,), generator=g)])


def row_length(key):
    return TABLES[0][1] if key < TABLES[0][0] else TABLES[1][1]


def deltas(keys, rank, clock):
    return torch.tensor([(k + 1) * (j + 1) + rank * 7 + clock % 5
                         for k in keys.tolist() for j in range(row_length(k))], dtype=torch.int64)


def main():
    clocks = int(sys.argv[1])
    snapshot = sys.argv[2] if len(sys.argv) > 2 else None
    node = gapm.Node(tables=TABLES, dtype=torch.int64, print_stats=False)
    rank, world = node.rank, node.world_size
    w = node.worker(0)

    w.intent(own_partition(rank, world), 0, gapm.CLOCK_MAX)
    for c in range(LOOKAHEAD):
        w.intent(batch(rank, world, c)[5:], c)
    remote_tickets = 0
    for c in range(clocks):
        keys = batch(rank, world, c)
        w.intent(torch.arange(HOT), c, c + 2)
        w.intent(batch(rank, world, c + LOOKAHEAD)[5:], c + LOOKAHEAD)
        if c % 2:
            ticket = w.pull_async(keys)
            remote_tickets += not ticket.is_local
            rows = ticket.wait()
        else:
            rows = w.pull(keys)
        assert rows.shape == (sum(row_length(k) for k in keys.tolist()),)
        w.push(keys, deltas(keys, rank, c))
        w.advance_clock()

    w.wait_all()
    w.wait_sync()
    w.barrier()
    w.wait_sync()
    w.barrier()

    expected = {}
    for r in range(world):
        for c in range(clocks):
            keys = batch(r, world, c)
            d = deltas(keys, r, c).tolist()
            at = 0
            for k in keys.tolist():
                n = row_length(k)
                row = expected.setdefault(k, [0] * n)
                for j in range(n):
                    row[j] += d[at + j]
                at += n
    all_keys = torch.arange(sum(k for k, _ in TABLES))
    values = w.pull(all_keys).tolist()
    wrong, at = 0, 0
    for k in all_keys.tolist():
        n = row_length(k)
        wrong += values[at:at + n] != expected.get(k, [0] * n)
        at += n
    checksum = sum((i + 1) * v for i, v in enumerate(values))

    w.finalize()
    if snapshot:
        node.save(snapshot)
    print(json.dumps({"rank": rank, "wrong": wrong, "checksum": checksum, "remote_tickets": remote_tickets,
                      "stats": node.stats()}))
    node.shutdown()


if __name__ == "__main__":
    main()
