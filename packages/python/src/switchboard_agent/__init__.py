"""switchboard_agent serves a Switchboard agent (switchboard.v1.AgentService)
from one async handler, with gRPC health and reflection, and keeps it
registered with an orchestrator.

    async def handler(turn: Turn, out: Output) -> turn_pb2.AgentResult:
        await out.delta("You said: ")
        await out.delta(turn.text)
        return turn_pb2.AgentResult(next=turn_pb2.NextAction(action=turn_pb2.ACTION_ADVANCE))

    server = await serve(card, handler, port=7002)   # in an event loop, or:
    run(card, handler, port=7002, orchestrator="http://127.0.0.1:50051")
"""

from .registration import Registrar, Registration
from .run import run
from .server import AgentServer, Handler, Output, Turn, TurnOver, serve

__all__ = ["AgentServer", "Handler", "Output", "Registrar", "Registration", "Turn", "TurnOver", "run", "serve"]
