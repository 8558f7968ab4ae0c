"""The sample Switchboard agent in Python.

    agents/python/.venv/bin/python agents/python/sample_agent.py --port 7002 \
        [--name python] [--orchestrator http://127.0.0.1:50051]

It repeats what it hears, streaming word by word; records in the session
state what it received (so a conversation shows the state and transcript
crossing languages); hands the conversation to another agent named with
"@name"; and ends it on "bye". The Go agent (agents/go) behaves the same.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import signal
import sys
from pathlib import Path

# The SDK from this repository (packages/python/src); an agent of one's own
# installs it instead: pip install switchboard_agent-*.whl
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packages" / "python" / "src"))

from google.protobuf import json_format  # noqa: E402
from switchboard.v1 import agent_pb2, turn_pb2  # noqa: E402
from switchboard_agent import Output, Registrar, Registration, Turn, serve  # noqa: E402

MENTION = re.compile(r"@([A-Za-z0-9][A-Za-z0-9._-]*)")
BYE = re.compile(r"\bbye\b", re.IGNORECASE)
# The TurnStart metadata key the conformance kit sets; "slow" asks for a
# long, slowly streamed answer it can cancel or time out.
CONFORMANCE_KEY = "switchboard.conformance"


def sample_handler(name: str):
    async def handler(turn: Turn, out: Output) -> turn_pb2.AgentResult:
        start = turn.start
        if start.metadata.get(CONFORMANCE_KEY) == "slow":
            return await slow_turn(out)
        said = turn.text.strip()
        handoff_from = start.handoff_from
        if handoff_from:
            reply = f"{name} here, taking over from {handoff_from}. You said: {said}"
        else:
            reply = f"{name} heard: {said}"
        for i, word in enumerate(reply.split(" ")):
            await out.delta(word if i == 0 else f" {word}")

        state = json_format.MessageToDict(start.state) if start.HasField("state") else {}
        mine = state.get(name) if isinstance(state.get(name), dict) else {}
        served_by = state.get("served_by") if isinstance(state.get("served_by"), list) else []
        result = turn_pb2.AgentResult()
        result.state_patch.update(
            {
                name: {
                    "turns": mine.get("turns", 0) + 1,
                    "language": "python",
                    "history": len(start.history),
                    "last_message": last_message(start.history),
                    "handoff_from": handoff_from,
                    "state_keys": sorted(state.keys()),
                },
                "served_by": [*served_by, name],
            }
        )
        mention = MENTION.search(said)
        if mention and mention.group(1) != name and not handoff_from:
            result.next.action = turn_pb2.ACTION_HANDOFF
            result.next.target_agent = mention.group(1)
        elif BYE.search(said):
            result.next.action = turn_pb2.ACTION_END
        else:
            result.next.action = turn_pb2.ACTION_ADVANCE
        return result

    return handler


def last_message(history) -> str:
    """Describes the newest transcript entry, e.g. "go: ..."."""
    if not history:
        return ""
    last = history[-1]
    who = last.agent or turn_pb2.Role.Name(last.role).removeprefix("ROLE_").lower()
    return f"{who}: {last.text}"


async def slow_turn(out: Output) -> turn_pb2.AgentResult:
    """Streams a tick every 50ms for up to 30s; the server cancels it as soon
    as the turn is cancelled or its deadline passes."""
    for i in range(1, 601):
        await asyncio.sleep(0.05)
        await out.delta(f"tick {i}. ")
    return turn_pb2.AgentResult(next=turn_pb2.NextAction(action=turn_pb2.ACTION_ADVANCE))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, like the orchestrator's logs."""

    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname.lower(), "agent": self.agent, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description="The sample Switchboard agent in Python.")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument("--port", type=int, default=0, help="listen port (0: a free one)")
    parser.add_argument("--name", default="python", help="the agent's name: flows route to it by this name")
    parser.add_argument(
        "--orchestrator",
        default=os.environ.get("SWITCHBOARD_ORCHESTRATOR", ""),
        help="orchestrator URL to register with (env SWITCHBOARD_ORCHESTRATOR); none: no registration",
    )
    parser.add_argument("--advertise", default="", help="the URL the orchestrator reaches this agent at (default: http://HOST:PORT)")
    parser.add_argument(
        "--registry-token",
        default=os.environ.get("SWITCHBOARD_REGISTRY_TOKEN", ""),
        help="registration token (env SWITCHBOARD_REGISTRY_TOKEN)",
    )
    parser.add_argument("--lease", type=float, default=30.0, help="the registration lease to ask for, in seconds")
    args = parser.parse_args()

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(args.name))
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    card = agent_pb2.AgentCard(
        name=args.name,
        version="1.0.0",
        description="The sample Python agent: repeats what it hears, hands over on @name, ends on bye.",
        intents=["chat"],
        metadata={"language": "python", "runtime": f"python{platform.python_version()}"},
    )
    server = await serve(card, sample_handler(args.name), host=args.host, port=args.port)
    print(json.dumps({"msg": "agent listening", "agent": args.name, "url": server.url, "port": server.port}), flush=True)

    registrar = None
    if args.orchestrator:
        registrar = Registrar(
            Registration(
                orchestrator=args.orchestrator,
                endpoint=args.advertise or server.url,
                card=card,
                lease=args.lease,
                token=args.registry_token,
            )
        ).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger("switchboard_agent").info("shutting down")
    if registrar is not None:
        await registrar.close()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
