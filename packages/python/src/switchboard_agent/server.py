"""The agent server: one HandleTurn stream becomes one handler call."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable, Optional

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from switchboard.v1 import agent_pb2, agent_pb2_grpc, turn_pb2

log = logging.getLogger("switchboard_agent")

# The most input deltas buffered for a handler that has not read them yet;
# the orchestrator waits (flow control) beyond that.
INPUT_BUFFER = 64


class TurnOver(Exception):
    """TurnOver is raised by Output.delta once the turn is cancelled, past its
    deadline, or finished: the handler should stop."""


@dataclass
class Turn:
    """Turn is what a handler gets for one turn."""

    start: agent_pb2.TurnStart
    """The start message: session, stage, intent, input, state, history, budget."""
    deadline: float
    """When the turn's time runs out, on the event loop's clock (loop.time())."""
    _input: "asyncio.Queue[Optional[agent_pb2.InputDelta]]" = field(repr=False)

    @property
    def text(self) -> str:
        """The user's words."""
        return self.start.input.text

    def remaining(self) -> float:
        """Seconds left before the deadline."""
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    async def input(self) -> AsyncIterator[agent_pb2.InputDelta]:
        """More input, when the user's input is streamed (start.input_streaming)."""
        while (delta := await self._input.get()) is not None:
            yield delta


class Output:
    """Output streams a turn's reply to the orchestrator."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context
        self._closed = False
        self._text: list[str] = []

    async def delta(self, text: str) -> None:
        """Sends a piece of the reply; raises TurnOver once the turn is over."""
        if self._closed:
            raise TurnOver()
        self._text.append(text)
        await self._context.write(agent_pb2.HandleTurnResponse(delta=agent_pb2.OutputDelta(text=text)))

    def _close(self) -> str:
        self._closed = True
        return "".join(self._text)


Handler = Callable[[Turn, Output], Awaitable[turn_pb2.AgentResult]]
"""Handler serves one turn: it streams with `await out.delta(text)` and returns
the final AgentResult (an empty text becomes the streamed text). The task
running it is cancelled when the orchestrator cancels the turn or the turn's
time runs out, and whatever it returns then is discarded."""


class _Cancelled(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, card: agent_pb2.AgentCard, handler: Handler) -> None:
        self._card = card
        self._handler = handler

    async def Describe(self, request, context):  # noqa: N802 (gRPC method name)
        return agent_pb2.DescribeResponse(card=self._card)

    async def HandleTurn(self, request_iterator, context: grpc.aio.ServicerContext):  # noqa: N802
        first = await context.read()
        if first is grpc.aio.EOF:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the HandleTurn stream ended before its first message; send `start` first",
            )
        kind = first.WhichOneof("kind")
        if kind != "start":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the first message of a HandleTurn stream must be `start`, got `{kind or 'nothing'}`",
            )
        start = first.start
        loop = asyncio.get_running_loop()

        # The turn's time: the earlier of the gRPC deadline and start.budget.
        limits = []
        remaining = context.time_remaining()
        if remaining is not None:
            limits.append(remaining)
        budget = start.budget.ToTimedelta().total_seconds() if start.HasField("budget") else 0
        if budget > 0:
            limits.append(budget)
        timeout = min(limits) if limits else None
        deadline = loop.time() + (timeout if timeout is not None else 24 * 3600)

        inputs: asyncio.Queue[Optional[agent_pb2.InputDelta]] = asyncio.Queue(INPUT_BUFFER)
        cancelled: asyncio.Future[str] = loop.create_future()

        async def read_rest() -> None:
            # More input for the handler, and a cancel that ends the turn.
            try:
                while (req := await context.read()) is not grpc.aio.EOF:
                    which = req.WhichOneof("kind")
                    if which == "input":
                        await inputs.put(req.input)
                    elif which == "cancel":
                        if not cancelled.done():
                            cancelled.set_result(req.cancel.reason or "no reason given")
                        return
            finally:
                if inputs.full():
                    inputs.get_nowait()
                inputs.put_nowait(None)

        out = Output(context)
        turn = Turn(start=start, deadline=deadline, _input=inputs)
        work = asyncio.ensure_future(self._handler(turn, out))
        reader = asyncio.ensure_future(read_rest())
        try:
            done, _ = await asyncio.wait({work, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            text = out._close()
            if work not in done:
                # Stop the handler and answer at once: a handler that ignores
                # the cancellation is left behind, and its output goes nowhere.
                work.cancel()
                if cancelled in done:
                    reason = cancelled.result()
                    log.info("turn cancelled: %s (session %s, turn %s)", reason, start.session_id, start.turn_id)
                    await context.abort(grpc.StatusCode.CANCELLED, f"the orchestrator cancelled the turn: {reason}")
                what = f"the turn's budget of {budget:g}s ran out" if budget > 0 and budget == timeout else "the turn's deadline passed"
                log.info("%s (session %s, turn %s)", what, start.session_id, start.turn_id)
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, what)
            try:
                result = work.result()
            except grpc.aio.AbortError:
                raise
            except Exception as e:  # the handler's own failure
                log.exception("handler failed (session %s, turn %s)", start.session_id, start.turn_id)
                await context.abort(grpc.StatusCode.INTERNAL, f"agent {self._card.name} failed: {e}")
            if result is None:
                result = turn_pb2.AgentResult()
            if not result.text:
                result.text = text
            await context.write(agent_pb2.HandleTurnResponse(result=result))
        finally:
            # Also runs when the caller cancels the stream: the coroutine is
            # cancelled, and so is the handler.
            work.cancel()
            reader.cancel()


@dataclass
class AgentServer:
    """AgentServer is a running agent: its gRPC server, port and health."""

    server: grpc.aio.Server
    port: int
    url: str
    health: health.aio.HealthServicer

    async def stop(self, grace: float = 5.0) -> None:
        """Reports NOT_SERVING, lets running turns finish for up to `grace`
        seconds, then closes every stream."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def serve(card: agent_pb2.AgentCard, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> AgentServer:
    """serve runs `handler` as a switchboard.v1.AgentService (with gRPC health
    and reflection) on host:port (0: a free port) and returns once it listens."""
    if not card.name:
        raise ValueError("serve: the card needs a name")
    server = grpc.aio.server()
    agent_pb2_grpc.add_AgentServiceServicer_to_server(_AgentService(card, handler), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_name = agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name
    reflection.enable_server_reflection(
        [service_name, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    await server.start()
    for name in ("", service_name):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    url_host = f"[{host}]" if ":" in host else host
    return AgentServer(server=server, port=bound, url=f"http://{url_host}:{bound}", health=health_servicer)
