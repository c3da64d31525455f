"""Stock-quote feed (asyncio): one outbound socket reads a quote source, and each update is
broadcast to the clients subscribed to that symbol's group.

Clients connect to ``ws://HOST:PORT/quotes?symbols=ACME,GLOBX`` and may send ``subscribe SYM``
or ``unsubscribe SYM``; each quote arrives as JSON, e.g. ``{"symbol": "ACME", "price": 101.5}``.
Without ``--source URL`` a tiny quote source (a second connector, ticking a random walk) runs in
the same process, so the example runs by itself.

Run: ``python examples/python/quotes.py [--host H] [--port P] [--source URL]``. Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from typing import Optional, Union

import wsconnector

SYMBOLS = ("ACME", "GLOBX", "INITECH", "UMBRL")
SOURCE_ID = "quote-source"


def group(symbol: str) -> str:
    """The group of a symbol's subscribers."""
    return "quote:" + symbol.upper()


async def run_quote_source(source: wsconnector.Connector, interval: float) -> None:
    """Ticks a random walk for every symbol and broadcasts each quote to whoever listens."""
    rng = random.Random(7)
    prices = {symbol: 100.0 for symbol in SYMBOLS}
    while True:
        for symbol in SYMBOLS:
            prices[symbol] = round(max(1.0, prices[symbol] * rng.uniform(0.99, 1.01)), 2)
            source.broadcast(json.dumps({"symbol": symbol, "price": prices[symbol]}))
        await asyncio.sleep(interval)


def make_feed(host: str, port: int) -> wsconnector.AsyncConnector:
    """The feed: subscriptions from clients, quotes from the source to their subscribers. Its
    handlers run on the event loop, one socket's in order, different sockets' concurrently."""
    feed = wsconnector.AsyncConnector(host=host, port=port)

    @feed.on_inbound_connection
    async def subscribe_from_query(socket: wsconnector.Socket) -> None:
        symbols = (socket.query_param("symbols") or "").split(",")
        groups = [group(s) for s in symbols if s.strip()]
        if groups:
            socket.subscribe(groups)

    @feed.on_inbound_message
    async def command(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        if not isinstance(message, str):
            return
        verb, _, symbol = message.partition(" ")
        if verb == "subscribe" and symbol.strip():
            socket.subscribe(group(symbol.strip()))
        elif verb == "unsubscribe" and symbol.strip():
            socket.unsubscribe(group(symbol.strip()))

    @feed.on_outbound_message
    async def relay(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        quote = json.loads(message)
        await feed.broadcast(message, socket_type="inbound", groups=group(quote["symbol"]))

    @feed.on_socket_closed
    async def closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
        if socket.id == SOURCE_ID and feed.is_running:
            print(f"the quote source closed ({code}); stopping", flush=True)
            await feed.stop()

    return feed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--source", help="ws:// URL of a quote source (default: a built-in one)")
    parser.add_argument("--interval", type=float, default=0.2, help="built-in source tick, s")
    args = parser.parse_args()

    source: Optional[wsconnector.Connector] = None
    ticker: Optional[asyncio.Task[None]] = None
    source_url = args.source
    if source_url is None:
        # The built-in source needs no triggers: give it one so that its events are consumed.
        source = wsconnector.Connector(
            host="127.0.0.1", port=0, on_inbound_connection=lambda socket: None
        )
        source.start()
        source_url = f"ws://127.0.0.1:{source.port}/"
        ticker = asyncio.create_task(run_quote_source(source, args.interval))

    feed = make_feed(args.host, args.port)
    try:
        await feed.start()
        await feed.open_outbound(source_url, socket_id=SOURCE_ID)
        print(f"quote feed on ws://{args.host}:{feed.port}/quotes?symbols=ACME", flush=True)
        await feed.serve_forever()  # until Ctrl-C, SIGTERM or the source closing
    finally:
        await feed.stop()
        if ticker is not None:
            ticker.cancel()
        if source is not None:
            source.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
