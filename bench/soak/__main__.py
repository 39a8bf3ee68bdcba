"""Soak the sender on one anvil: `python -m bench.soak [--senders 3] [--size 14]
[--seconds 480] [--load 2]`.

Each sender is a process with an account of its own that sends rounds of ``size`` transfers
through ``PipelinedSender.send_batched`` (keep-cd's send pattern: one batch, then wait for it),
for ``seconds``; ``load`` processes spin meanwhile, so that anvil's threads get preempted as on a
busy CI machine.  Prints one JSON object: per sender its rounds, transactions, the times anvil
stranded its next nonce and it was freed (``unstranded``), resends, and the error that stopped it,
if any.  It is how anvil's faults in docs/geth.md ("anvil's own faults") were found and how the
sender's answers to them were checked.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time

from bench.chains.anvil import start_anvil


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def _sender(url: str, chain_id: int, size: int, seconds: float, out) -> None:
    from eth_account import Account

    from bench.chains.anvil import rpc
    from chain.node import connect
    from chain.transactions import PipelinedSender, TxRequest

    account = Account.create()
    rpc(url, "anvil_setBalance", [account.address, hex(10**24)])
    sender = PipelinedSender(connect(url, chain_id), account, confirm_timeout=60)
    rounds, nonce, error = 0, 0, None
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sender.send_batched([TxRequest(f"transfer {i}", "0x" + "33" * 20, b"", value=1) for i in range(size)], nonce)
            rounds, nonce = rounds + 1, nonce + size
    except Exception as e:  # the finding: reported, not raised
        error = str(e).splitlines()[0][:300]
    out.put({"rounds": rounds, "txs": nonce, "unstranded": sender.stats.unstranded, "resends": sender.stats.resends, "error": error})


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--size", type=int, default=14, help="transfers per round")
    parser.add_argument("--seconds", type=float, default=480.0)
    parser.add_argument("--load", type=int, default=2, help="spinning processes beside the senders")
    args = parser.parse_args(argv)
    chain = start_anvil()
    out: multiprocessing.Queue = multiprocessing.Queue()
    started = time.monotonic()
    try:
        spinners = [multiprocessing.Process(target=_spin, args=(started + args.seconds,)) for _ in range(args.load)]
        senders = [
            multiprocessing.Process(target=_sender, args=(chain.url, chain.chain_id, args.size, args.seconds, out))
            for _ in range(args.senders)
        ]
        for p in spinners + senders:
            p.start()
        results = [out.get(timeout=args.seconds + 300) for _ in senders]
        for p in spinners + senders:
            p.join()
    finally:
        chain.stop()
    print(
        json.dumps(
            {
                "senders": results,
                "txs": sum(r["txs"] for r in results),
                "unstranded": sum(r["unstranded"] for r in results),
                "errors": sum(r["error"] is not None for r in results),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
