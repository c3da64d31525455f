"""Stock-quote feed (asyncio): one outbound socket reads a quote source, and each quote is
broadcast to the clients subscribed to its symbol (the group ``quote:SYMBOL``).

The protocol of every quotes example (examples/quotes.rs says it in full): ``/sub SYMBOL``
answers ``following SYMBOL``, then its quotes arrive as ``SYMBOL PRICE`` (``ACME 101.52``);
``/unsub SYMBOL`` answers ``no longer following SYMBOL``; an unknown symbol or command gets an
answer that lists what to send. The quote source is built in: a second connector in this
process that sends a random-walk price for ACME, GLOBEX and INITECH to whoever connects, every
200 ms.

Run: ``python examples/python/quotes.py [HOST:PORT]`` (default 127.0.0.1:8081). Ctrl-C stops.
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Union

import wsconnector

SYMBOLS = ("ACME", "GLOBEX", "INITECH")
SOURCE_ID = "quote-source"
COMMANDS = "send /sub SYMBOL or /unsub SYMBOL (symbols: ACME GLOBEX INITECH)"


def group(symbol: str) -> str:
    """The group of a symbol's subscribers."""
    return "quote:" + symbol


def command(socket: wsconnector.Socket, text: str) -> str:
    """A client's command, carried out; the answer to send back."""
    verb, _, symbol = text.partition(" ")
    symbol = symbol.strip().upper()
    if verb not in ("/sub", "/unsub"):
        return f"unknown command; {COMMANDS}"
    if symbol not in SYMBOLS:
        return f"unknown symbol {symbol}; symbols: {' '.join(SYMBOLS)}"
    if verb == "/sub":
        socket.subscribe(group(symbol))
        return f"following {symbol}"
    socket.unsubscribe(group(symbol))
    return f"no longer following {symbol}"


async def run_quote_source(source: wsconnector.Connector) -> None:
    """Sends a quote for each symbol to whoever listens, every 200 ms (a random walk)."""
    rng = random.Random(42)
    prices = dict(zip(SYMBOLS, (101.5, 48.25, 12.75)))
    while True:
        for symbol in SYMBOLS:
            prices[symbol] *= 1 + rng.uniform(-0.01, 0.01)
            source.broadcast(f"{symbol} {prices[symbol]:.2f}")
        await asyncio.sleep(0.2)


def make_feed(host: str, port: int) -> wsconnector.AsyncConnector:
    """The feed: commands from clients, quotes from the source to their subscribers. Its
    handlers run on the event loop, one socket's in order, different sockets' concurrently."""
    feed = wsconnector.AsyncConnector(host=host, port=port)

    @feed.on_inbound_message
    async def on_command(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        if isinstance(message, str):
            socket.send(command(socket, message))
        else:
            socket.send(f"text only, please; {COMMANDS}")

    @feed.on_outbound_message
    async def relay(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        symbol = str(message).partition(" ")[0]
        await feed.broadcast(message, socket_type="inbound", groups=group(symbol))

    return feed


async def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8081"
    host, _, port = address.rpartition(":")
    feed = make_feed(host, int(port))
    try:
        await feed.start()
    except wsconnector.WebSocketError as error:
        sys.exit(f"quotes: {error}")
    # The built-in source needs no triggers: give it one so that its events are consumed.
    source = wsconnector.Connector(host="127.0.0.1", port=0, on_inbound_connection=lambda socket: None)
    source.start()
    ticker = asyncio.create_task(run_quote_source(source))
    try:
        await feed.open_outbound(f"ws://127.0.0.1:{source.port}/quotes", socket_id=SOURCE_ID)
        url = f"ws://{host}:{feed.port}/quotes"
        print(f"quote feed on {url} (any path works)", flush=True)
        print("connect with any WebSocket client, for example:", flush=True)
        print(f"  python3 -m websockets {url}", flush=True)
        print("then type '/sub ACME' (symbols: ACME GLOBEX INITECH); '/unsub ACME' stops them. Ctrl-C stops.", flush=True)
        await feed.serve_forever()  # until Ctrl-C or SIGTERM
    finally:
        await feed.stop()
        ticker.cancel()
        source.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
