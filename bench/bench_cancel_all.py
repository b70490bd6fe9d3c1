"""Cancel All over three simulated venues: 1,000 open orders, all confirmed by their venues.

The three simulators (Bitfinex 334 open orders, Bybit 333 over its categories, the B2TRADER broker
"Acme" 333 over its two trading accounts; no automatic flow) run in a child process, as venues
would on their own machines, so the clients' event loop and the venues' run on different cores.
In this process the real Engine and the three real clients (as demo mode builds them) connect, and
once all 1,000 rows are in the store and every account is live, the time runs from the call of
``engine.cancel(CancelScope.everything())`` until it returns: every order then has its venue's
answer. Also timed: until the store is empty, and when each venue's last plan returned. Afterwards
the child reports how many orders each venue still holds open (must be 0).

Each round starts a fresh child and fresh clients (the venues' rate-limit windows and the
clients' state start clean). The baseline, in the same process and round, is 1,000 sequential
HTTP round trips (httpx, keep-alive, as the clients use) to the Bybit simulator's public time
endpoint in the child: what cancelling every order one request at a time would cost on the
loopback wire alone, with nothing signed, parsed or waited for. cancel-all / baseline < 1 means
the clients beat a naive one-request-per-order loop; the ratio is steadier than the seconds on a
noisy machine.

The 3 s budget is reported (PASS / MISS), never enforced; the exit status is 1 only when an order
was not confirmed cancelled (another outcome, a row left in the store, an order left at a venue).

    python bench/bench_cancel_all.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORDERS = {"bitfinex": 334, "bybit": 333, "b2trader": 333}
BUDGET = 3.0
BASELINE_REQUESTS = 1000
SEED = 20240501
LABELS = {"bitfinex": "Bitfinex", "bybit": "Bybit", "b2trader": "Acme (B2TRADER)"}


# -- the venues' side (child process) -----------------------------------------------------------
async def serve() -> None:
    """Run the three simulators; print their describe() lines as one JSON line, then answer
    ``open`` with the open-order count per venue; ``quit`` or the end of stdin stops."""
    from blotter.sim import SIMULATORS

    sims: dict[str, Any] = {}
    try:
        for name, count in ORDERS.items():
            sim = SIMULATORS[name](initial_orders=count, flow_rate=0.0, seed=SEED)
            await sim.start(host="127.0.0.1", port=0)
            sims[name] = sim
        print(json.dumps({"venues": [s.describe() for s in sims.values()]}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = line.decode().strip()
            if command == "open":
                counts = {name: len(sim.open_orders()) for name, sim in sims.items()}
                print(json.dumps({"open": counts, "requests": requests(sims)}), flush=True)
            elif command == "quit":
                break
    finally:
        for sim in sims.values():
            await sim.stop()


def requests(sims: dict[str, Any]) -> dict[str, str]:
    """What each venue was asked since it started (REST calls and websocket inputs), to see
    where a venue's time went."""
    bfx, byb, b2t = sims["bitfinex"], sims["bybit"], sims["b2trader"]
    return {
        "bitfinex": f"{len(bfx.inputs_received)} ws inputs, {len(bfx.rest_calls)} REST calls",
        "bybit": ", ".join(f"{n}x {path}" for path, n in Counter(byb.rest_calls).items()),
        "b2trader": f"{len(b2t.cancel_requests)} DELETEs; {b2t.items_sent} OpenOrders items "
                    "sent (each the account's full open list)",
    }


class VenueProcess:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.venues: dict[str, dict[str, Any]] = {}

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not line:
            raise SystemExit("the simulators' process did not start")
        self.venues = {v["venue"]: v for v in json.loads(line)["venues"]}

    async def ask(self, command: str, timeout: float = 10) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await asyncio.wait_for(self.proc.stdout.readline(), timeout))

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"quit\n")
            proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 5)
        except (TimeoutError, OSError, ConnectionError):
            proc.kill()
            await proc.wait()

    def kill(self) -> None:
        """Last resort (no loop to await on): the child must not outlive us."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass


# -- the clients' side ----------------------------------------------------------------------------
def make_clients(venues: dict[str, dict[str, Any]], store: Any, notices: Any, states: Any,
                 nonce_dir: str) -> list[Any]:
    """The three demo accounts' clients, built the way the app builds every client."""
    from blotter.accounts import make_client
    from blotter.config import make_account
    from blotter.venues.registry import spec_for

    clients = []
    for venue in ("bitfinex", "bybit", "b2trader"):
        spec, sim = spec_for(venue), venues[venue]
        account = make_account(spec.demo_account, venue, rest_url=sim["rest_url"],
                               ws_url=sim["ws_url"], **spec.demo_options)
        clients.append(make_client(account, sim["credentials"], store=store, notices=notices,
                                   states=states, nonce_dir=nonce_dir))
    return clients


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


async def baseline(rest_url: str) -> float:
    """BASELINE_REQUESTS sequential GETs of Bybit's public time endpoint, keep-alive."""
    import httpx

    async with httpx.AsyncClient(base_url=rest_url, trust_env=False) as http:
        (await http.get("/v5/market/time")).raise_for_status()  # connect outside the timing
        t0 = time.perf_counter()
        for _ in range(BASELINE_REQUESTS):
            response = await http.get("/v5/market/time")
            if response.status_code != 200:
                raise SystemExit(f"baseline request answered {response.status_code}")
        return time.perf_counter() - t0


async def one_round(number: int) -> dict[str, Any]:
    from blotter.core.cancel import CancelScope, Outcome
    from blotter.core.notices import Level, NoticeBus, StateBus, VenueState
    from blotter.core.store import OrderStore
    from blotter.engine import Engine

    loop = asyncio.get_running_loop()
    venue = VenueProcess()
    engine: Engine | None = None
    nonce_dir = tempfile.mkdtemp(prefix="blotter-bench-nonce-")
    try:
        await venue.start()
        store, notices, states = OrderStore(), NoticeBus(), StateBus()
        engine = Engine(store, notices, states)

        # flush the store as the window does (at most 30 Hz), so it is not an ever-growing diff
        flush_due = [False]

        def flush() -> None:
            flush_due[0] = False
            store.flush()

        def dirty() -> None:
            if not flush_due[0]:
                flush_due[0] = True
                loop.call_later(1 / 30, flush)

        store.add_dirty_listener(dirty)

        t_connect = time.perf_counter()
        for client in make_clients(venue.venues, store, notices, states, nonce_dir):
            engine.add_client(client)
        total = sum(ORDERS.values())

        def ready() -> bool:
            live = all((s := states.current.get(a)) is not None and s.state is VenueState.LIVE
                       for a in engine.clients)
            return live and len(store) >= total

        await until(ready, 30, f"every account live with {total} rows")
        connect_s = time.perf_counter() - t_connect
        if len(store) != total:
            raise SystemExit(f"the store holds {len(store)} rows, expected {total}")
        await asyncio.sleep(0.3)  # let the snapshot's flushes and any follow-up reads settle

        base_s = await baseline(venue.venues["bybit"]["rest_url"])

        # per plan: when its CancelResult came back (a venue's time is its slowest plan's)
        plan_done: list[tuple[str, float, int]] = []
        original = engine._cancel_plan
        t0 = 0.0

        async def timed_plan(plan: Any) -> Any:
            result = await original(plan)
            plan_done.append((plan.account.venue, time.perf_counter() - t0, len(result.outcomes)))
            return result

        engine._cancel_plan = timed_plan  # type: ignore[method-assign]

        emptied: list[float] = []

        def closed(*_: Any) -> None:
            if not emptied and len(store) == 0:
                emptied.append(time.perf_counter() - t0)

        store.add_close_listener(closed)
        said: list[Any] = []
        notices.subscribe(lambda n: said.append(n) if not n.transient else None)

        t0 = time.perf_counter()
        results = await asyncio.wait_for(engine.cancel(CancelScope.everything()), 30)
        total_s = time.perf_counter() - t0
        if not emptied and len(store) == 0:
            emptied.append(total_s)

        outcomes: Counter[str] = Counter()
        per_venue_outcomes: dict[str, Counter[str]] = {}
        for r in results:
            for o in r.outcomes.values():
                outcomes[o.outcome.value] += 1
                per_venue_outcomes.setdefault(r.plan.account.venue, Counter())[
                    o.outcome.value] += 1
        per_venue: dict[str, float] = {}
        for name, at, _ in plan_done:
            per_venue[name] = max(per_venue.get(name, 0.0), at)
        asked = await venue.ask("open")
        left_at_venues = asked["open"]
        trouble = [n for n in said if n.level in (Level.WARNING, Level.ERROR)]
        summary = next((n.text for n in reversed(said)
                        if n.venue == "blotter" and n.text.startswith("Cancelled")), "")
        ok = (outcomes.get(Outcome.CANCELLED.value, 0) == total and sum(outcomes.values()) == total
              and len(store) == 0 and not any(left_at_venues.values()))
        return {
            "round": number, "connect": connect_s, "baseline": base_s, "total": total_s,
            "empty": emptied[0] if emptied else None, "per_venue": per_venue,
            "plans": len(results), "outcomes": dict(outcomes),
            "per_venue_outcomes": {k: dict(v) for k, v in per_venue_outcomes.items()},
            "store_left": dict(Counter(o.venue for o in store.orders())),
            "venue_left": left_at_venues, "ok": ok,
            "trouble": [f"{n.venue}/{n.account} {n.level.value}: {n.line()}"[:200]
                        for n in trouble],
            "summary": summary, "requests": asked["requests"],
        }
    finally:
        try:
            if engine is not None:
                await asyncio.wait_for(engine.stop(), 10)
        finally:
            try:
                await venue.stop()
            finally:
                venue.kill()
                shutil.rmtree(nonce_dir, ignore_errors=True)


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:6.3f} s"


async def main(rounds: int) -> int:
    print(f"cancel all: {sum(ORDERS.values())} open orders ("
          + ", ".join(f"{LABELS[v]} {n}" for v, n in ORDERS.items())
          + f"), {rounds} rounds, budget {BUDGET:g} s")
    print(f"baseline: {BASELINE_REQUESTS} sequential loopback HTTP GETs (httpx, keep-alive) to "
          "the venue process: one bare request per order, nothing signed or awaited")
    rows = []
    for n in range(1, rounds + 1):
        r = await one_round(n)
        rows.append(r)
        venues = "  ".join(f"{LABELS[v].split()[0]} {fmt(r['per_venue'].get(v))}" for v in ORDERS)
        print(f"round {n}: cancel all {fmt(r['total'])} (store empty {fmt(r['empty'])})  "
              f"{venues}  baseline {fmt(r['baseline'])}  ratio {r['total'] / r['baseline']:.2f}x"
              f"  [connected in {r['connect']:.2f} s, {r['plans']} plans]")
        if not r["ok"]:
            print(f"  NOT ALL CONFIRMED: outcomes {r['per_venue_outcomes']}, "
                  f"rows left {r['store_left']}, open at the venues {r['venue_left']}")
        for line in r["trouble"][:5]:
            print(f"  notice: {line}")
        if len(r["trouble"]) > 5:
            print(f"  … {len(r['trouble']) - 5} more warnings/errors")
    med = statistics.median
    total = med(r["total"] for r in rows)
    base = med(r["baseline"] for r in rows)
    ratio = med(r["total"] / r["baseline"] for r in rows)
    print()
    print(f"median cancel all (call → every order confirmed): {total:.3f} s  "
          f"[{'PASS' if total < BUDGET else 'MISS'} vs budget < {BUDGET:g} s]")
    empties = [r["empty"] for r in rows if r["empty"] is not None]
    if empties:
        print(f"median until the store is empty: {med(empties):.3f} s")
    for v, count in ORDERS.items():
        times = [r["per_venue"][v] for r in rows if v in r["per_venue"]]
        if times:
            print(f"median {LABELS[v]:<16} ({count} orders): {med(times):.3f} s")
    print(f"median baseline ({BASELINE_REQUESTS} bare requests): {base:.3f} s")
    print(f"median ratio cancel all / baseline: {ratio:.2f}x")
    print(f"venue summary (last round): {rows[-1]['summary']}")
    for v, text in rows[-1]["requests"].items():
        print(f"  {LABELS[v]} was asked (last round, incl. connecting): {text}")
    outcome_totals: Counter[str] = Counter()
    for r in rows:
        outcome_totals.update(r["outcomes"])
    print(f"outcomes over all rounds: {dict(outcome_totals)}")
    bad = [r["round"] for r in rows if not r["ok"]]
    print("all orders confirmed cancelled in every round" if not bad
          else f"NOT all orders confirmed cancelled in round(s) {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.serve:
            asyncio.run(serve())
            raise SystemExit(0)
        # a safety net only: the child is stopped by one_round's finally on any exit
        raise SystemExit(asyncio.run(asyncio.wait_for(main(args.rounds), 10 + 15 * args.rounds)))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
