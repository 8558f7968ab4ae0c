"""switchboard_agent serves a Switchboard agent (switchboard.v1.AgentService)
from one async handler, with gRPC health and reflection, and keeps it
registered with an orchestrator.

    async def handler(turn: Turn, out: Output) -> turn_pb2.AgentResult:
        await out.delta("You said: ")
        await out.delta(turn.text)
        return turn_pb2.AgentResult(next=turn_pb2.NextAction(action=turn_pb2.ACTION_ADVANCE))

    server = await serve(card, handler, port=7002)
"""

import sys
from pathlib import Path

# The generated code (agents/python/gen, made by `npm run generate`) imports
# itself as the top-level package `switchboard.v1`, the way protoc lays it
# out; put it on the import path once, here.
_gen = str(Path(__file__).resolve().parent.parent / "gen")
if _gen not in sys.path:
    sys.path.insert(0, _gen)

from .registration import Registrar, Registration  # noqa: E402
from .server import AgentServer, Handler, Output, Turn, TurnOver, serve  # noqa: E402

__all__ = ["AgentServer", "Handler", "Output", "Registrar", "Registration", "Turn", "TurnOver", "serve"]
