"""The asyncio front: `async with`, awaitable operations, `async for` over events, and
cancellation of a connect, with `websockets` (asyncio API) as the peer."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Awaitable, TypeVar

import pytest
import websockets.asyncio.client
import websockets.asyncio.server

import wsconnector

WAIT = 10.0
T = TypeVar("T")


def bounded(awaitable: Awaitable[T]) -> Awaitable[T]:
    return asyncio.wait_for(awaitable, WAIT)


async def next_event(events: AsyncIterator[wsconnector.Event]) -> wsconnector.Event:
    return await bounded(events.__anext__())


def test_async_with_events_and_awaitable_operations() -> None:
    async def main() -> None:
        async def echo(ws: Any) -> None:
            async for message in ws:
                await ws.send(message)

        async with websockets.asyncio.server.serve(echo, "127.0.0.1", 0) as peer:
            peer_port = peer.sockets[0].getsockname()[1]
            async with wsconnector.AsyncConnector(host="127.0.0.1", port=0) as connector:
                assert connector.is_running and connector.port
                events = connector.events()
                url = f"ws://127.0.0.1:{connector.port}/live"
                async with websockets.asyncio.client.connect(url, proxy=None) as client:
                    event = await next_event(events)
                    assert isinstance(event, wsconnector.InboundConnection)
                    inbound = event.socket
                    await client.send("from client")
                    event = await next_event(events)
                    assert isinstance(event, wsconnector.InboundMessage)
                    assert (event.socket.id, event.message) == (inbound.id, "from client")
                    assert type(event).__match_args__ == ("socket", "message")

                    out = await connector.open_outbound(
                        f"ws://127.0.0.1:{peer_port}/", groups=["peers"]
                    )
                    assert await connector.send(out, b"ping") is True
                    event = await next_event(events)
                    assert isinstance(event, wsconnector.OutboundMessage)
                    assert (event.socket.id, event.message) == (out, b"ping")

                    await connector.subscribe(inbound.id, ["peers", "x"])
                    await connector.unsubscribe(inbound.id, "x")
                    assert connector.socket(inbound.id).groups == ["peers"]
                    result = await connector.broadcast("all peers", groups="peers", socket_type="inbound")
                    assert result.delivered == 1
                    assert await bounded(client.recv()) == "all peers"
                    assert [s.id for s in connector.sockets(socket_type="outbound")] == [out]

                    await connector.close(out, 4001, "done")
                    event = await next_event(events)
                    assert isinstance(event, wsconnector.SocketClosed)
                    assert (event.socket.id, event.code, event.reason) == (out, 4001, "done")
                    assert await connector.bulk_close(path="/live") == 1
                    event = await next_event(events)
                    assert isinstance(event, wsconnector.SocketClosed)
                    assert event.socket.id == inbound.id
            assert not connector.is_running

    asyncio.run(main())


def test_events_after_stop_are_still_delivered_then_iteration_ends() -> None:
    async def main() -> None:
        connector = wsconnector.AsyncConnector(host="127.0.0.1", port=0)
        with pytest.raises(wsconnector.InvalidStateError):
            connector.events()
        await connector.start()
        url = f"ws://127.0.0.1:{connector.port}/"
        async with websockets.asyncio.client.connect(url, proxy=None) as client:
            await client.send("before stop")
            await connector.stop()
            await bounded(client.wait_closed())
            assert client.close_code == 1001
        seen = [type(event).__name__ async for event in connector.events()]
        assert seen == ["InboundConnection", "InboundMessage", "SocketClosed"]

    asyncio.run(main())


def test_cancelling_open_outbound_abandons_the_connect() -> None:
    async def main() -> None:
        accepted = asyncio.Event()
        dropped = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set()  # read the upgrade request, never answer it
            while await reader.read(1024):
                pass
            dropped.set()
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, wsconnector.AsyncConnector(connect_timeout=60) as connector:
            connect = asyncio.ensure_future(connector.open_outbound(f"ws://127.0.0.1:{port}/"))
            await bounded(accepted.wait())
            connect.cancel()
            with pytest.raises(asyncio.CancelledError):
                await connect
            await bounded(dropped.wait())  # the connector closed the half-open connection
            assert connector.sockets() == []

    asyncio.run(main())


def test_failed_connect_raises_in_the_awaiting_task() -> None:
    async def main() -> None:
        async with wsconnector.AsyncConnector() as connector:
            with pytest.raises(wsconnector.ConnectivityError):
                await bounded(connector.open_outbound("ws://127.0.0.1:1/"))
            with pytest.raises(wsconnector.InvalidArgumentError):
                await connector.open_outbound("not a url")

    asyncio.run(main())


def test_the_loop_is_never_blocked_by_waiting_for_events() -> None:
    async def main() -> None:
        async with wsconnector.AsyncConnector(host="127.0.0.1", port=0) as connector:
            waiting = asyncio.ensure_future(connector.events().__anext__())
            ticks = 0
            for _ in range(20):  # the loop keeps running while the event pump waits
                await asyncio.sleep(0)
                ticks += 1
            assert ticks == 20 and not waiting.done()
            url = f"ws://127.0.0.1:{connector.port}/"
            async with websockets.asyncio.client.connect(url, proxy=None):
                assert isinstance(await bounded(waiting), wsconnector.InboundConnection)

    asyncio.run(main())
