"""run: serve an agent until the process is told to stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Optional

from switchboard.v1 import agent_pb2

from .registration import Registrar, Registration
from .server import Handler, serve

log = logging.getLogger("switchboard_agent")


def run(
    card: agent_pb2.AgentCard,
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    orchestrator: Optional[str] = None,
    endpoint: Optional[str] = None,
    token: str = "",
    lease: float = 30.0,
) -> None:
    """run serves `handler` as the agent `card` names (with gRPC health and
    reflection) until SIGTERM or SIGINT. With `orchestrator` (a URL such as
    http://127.0.0.1:50051) it registers there and keeps its lease alive;
    `endpoint` is the URL the orchestrator reaches it at (default: its own).
    On a signal it deregisters, lets running turns finish, and returns.

    A program with an event loop of its own uses `serve` and `Registrar`,
    which this puts together."""

    async def main() -> None:
        server = await serve(card, handler, host=host, port=port)
        log.info("agent %s listening on %s", card.name, server.url)
        registrar = None
        if orchestrator:
            registration = Registration(
                orchestrator=orchestrator, endpoint=endpoint or server.url, card=card, lease=lease, token=token
            )
            registrar = Registrar(registration).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            log.info("agent %s shutting down", card.name)
            if registrar is not None:
                await registrar.close()
            await server.stop()

    asyncio.run(main())
