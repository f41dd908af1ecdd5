"""mf.py: matrix factorisation in PyTorch with gapm, launched by torchrun or gapm-run.

It learns X ~ W H^T (R x C, rank k) from the revealed cells of X by AdaGrad on the squared
error. W and H are gapm.torch.Embedding tables (table 0: rows, table 1: columns, each row
[factor | AdaGrad accumulator]), so their backward pushes the AdaGrad step into gapm. Every
process (node) trains on the cells of its own block of matrix rows, and only *signals intent*:
  - its rows, for good ([0, CLOCK_MAX)): gapm relocates those homed elsewhere here, once;
  - the columns of the next batch, one batch (one clock) ahead: gapm replicates the popular
    columns to every node that needs them and brings the others just in time.
The matrix is synthetic, as in the AdaPM experiments: a random rank-k truth plus noise, with
column popularity Zipf(1.1), generated identically by every process from --seed.

  python3 -m torch.distributed.run --nproc-per-node=2 samples/python/mf.py    (torchrun)
  build/tools/gapm-run -n 2 -- python3 samples/python/mf.py
  python3 samples/python/mf.py                                                (one process)

Rank 0 prints the loss of the initial model and, per epoch, the training loss (mean squared
error over the epoch's batches) and the test loss of all nodes together; every rank prints
its share of local pulls. Options: see --help; --gapm.NAME=VALUE sets a gapm option.
--expect-loss-drop F exits 1 unless the last training loss is below the initial one / F.
"""

import argparse
import sys
import time

import torch

import gapm
import gapm.torch


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="Any --gapm.NAME=VALUE sets a gapm option (e.g. --gapm.techniques=none).")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--cols", type=int, default=500)
    p.add_argument("--cells", type=int, default=40000, help="revealed cells (10%% of them held out for testing)")
    p.add_argument("--rank", type=int, default=8, help="factor dimension k")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect-loss-drop", type=float, default=0, metavar="F")
    args, rest = p.parse_known_args()
    unknown = [a for a in rest if not a.startswith("--gapm.")]  # those go to gapm.Node(argv=sys.argv)
    if unknown:
        p.error(f"unrecognised arguments: {' '.join(unknown)}")
    return args


def synthetic_matrix(args):
    """(rows, cols, values) of the revealed cells: X = W* H*^T + noise, columns ~ Zipf(1.1)."""
    g = torch.Generator().manual_seed(args.seed)
    truth_w = torch.randn(args.rows, args.rank, generator=g) / args.rank ** 0.25
    truth_h = torch.randn(args.cols, args.rank, generator=g) / args.rank ** 0.25
    zipf = 1.0 / torch.arange(1, args.cols + 1, dtype=torch.float64) ** 1.1
    cols = torch.multinomial(zipf, args.cells, replacement=True, generator=g)
    cols = torch.randperm(args.cols, generator=g)[cols]  # popular columns anywhere in the key range
    rows = torch.randint(0, args.rows, (args.cells,), generator=g)
    values = (truth_w[rows] * truth_h[cols]).sum(1) + 0.1 * torch.randn(args.cells, generator=g)
    return rows, cols, values


def main():
    args = parse_args()
    dim2 = 2 * args.rank  # [factor | AdaGrad accumulator]
    # Table 2 holds the loss sums of all nodes: key e = (train SSE, train cells, test SSE, test cells) of epoch e.
    node = gapm.Node(tables=[(args.rows, dim2), (args.cols, dim2), (args.epochs + 1, 4)], dtype=torch.float32,
                     argv=sys.argv)
    rank, world = node.rank, node.world_size
    worker = node.worker(0)
    W = gapm.torch.Embedding(args.rows, args.rank, node, table=0, optimizer="adagrad", lr=args.lr, worker=worker)
    H = gapm.torch.Embedding(args.cols, args.rank, node, table=1, optimizer="adagrad", lr=args.lr, worker=worker)
    W.reset_parameters(std=0.1, seed=args.seed)  # collective: every node writes its share, then a barrier
    H.reset_parameters(std=0.1, seed=args.seed + 1)
    metrics = args.rows + args.cols  # the first key of table 2

    rows, cols, values = synthetic_matrix(args)
    first_row, end_row = rank * args.rows // world, (rank + 1) * args.rows // world
    mine = (rows >= first_row) & (rows < end_row)  # this node's cells: those of its block of rows
    test = torch.arange(args.cells) % 10 == 0
    train_cells = [t[mine & ~test] for t in (rows, cols, values)]
    test_cells = [t[mine & test] for t in (rows, cols, values)]
    if rank == 0:
        print(f"mf: {args.rows} x {args.cols} matrix, {args.cells} cells, rank {args.rank}, {world} node(s), "
              f"store '{node.store_name}', batch {args.batch}, AdaGrad lr {args.lr}", flush=True)

    W.intent(torch.arange(first_row, end_row), 0, gapm.CLOCK_MAX)  # my rows, for good

    def squared_error(cells):
        with torch.no_grad():
            r, c, v = cells
            return float(((W(r) * H(c)).sum(1) - v).pow(2).sum()), len(v)

    def report(epoch, train, test_sums, seconds):
        worker.push([metrics + epoch], torch.tensor([*train, *test_sums], dtype=torch.float32))
        worker.wait_all()
        worker.barrier()  # every node's sums have landed in the main copy
        if rank == 0:
            sse, n, test_sse, test_n = worker.pull([metrics + epoch])[0].tolist()
            label = "initial model" if epoch == 0 else f"epoch {epoch}"
            timing = "" if epoch == 0 else f"  ({seconds:.2f} s)"
            print(f"{label:>13}: train loss {sse / n:.4f}  test loss {test_sse / test_n:.4f}{timing}", flush=True)
            return sse / n
        return None

    first_loss = report(0, squared_error(train_cells), squared_error(test_cells), 0)
    last_loss = first_loss
    g = torch.Generator().manual_seed(args.seed * 1000 + rank)
    for epoch in range(1, args.epochs + 1):
        start = time.monotonic()
        order = torch.randperm(len(train_cells[0]), generator=g)
        batches = [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
        H.intent(train_cells[1][batches[0]], worker.clock)
        sse = 0.0
        for b, batch in enumerate(batches):
            r, c, v = (t[batch] for t in train_cells)
            if b + 1 < len(batches):
                H.intent(train_cells[1][batches[b + 1]], worker.clock + 1)  # the next batch's columns
            loss = ((W(r) * H(c)).sum(1) - v).pow(2)
            loss.sum().backward()  # pushes the AdaGrad steps of W's and H's rows
            sse += float(loss.detach().sum())
            worker.advance_clock()
        train_loss = report(epoch, (sse, len(order)), squared_error(test_cells), time.monotonic() - start)
        last_loss = train_loss if rank == 0 else last_loss

    s = node.stats()
    pulls = s["pulls_local"] + s["pulls_remote"]
    print(f"rank {rank}: {100 * s['pulls_local'] / max(pulls, 1):.1f}% of {pulls} pulled rows local, "
          f"{s['relocations']} relocations here, {s['replicas_created']} replicas created", flush=True)
    worker.finalize()
    node.shutdown()
    if rank == 0 and args.expect_loss_drop and not last_loss < first_loss / args.expect_loss_drop:
        print(f"mf: the training loss fell from {first_loss:.4f} to {last_loss:.4f}, less than "
              f"{args.expect_loss_drop}x", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
