"""A weather desk as an A2A agent, written with the official A2A SDK (a2a-sdk).

Switchboard calls it from a flow stage named by its card URL
(flows/a2a-weather.yaml). It serves its Agent Card at
/.well-known/agent-card.json and the JSON-RPC binding at /a2a, and answers
every message with a streamed task:

- "forecast for CITY": the forecast, one word per artifact update (append);
- "forecast" without a city: INPUT_REQUIRED, asking which city; the next
  message of the same task completes it;
- "slow ...": works for a long time (until cancelled), for deadlines;
- "stall ...": says "Checking", then works until cancelled, for barge-ins;
- "refuse ...": REJECTED; "break ...": FAILED.

    .cache/a2a-venv/bin/python examples/a2a-agent/agent.py --port 9100

It prints "listening on PORT" once it serves (port 0 picks a free one).
"""

import argparse
import asyncio
import socket

import uvicorn
from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Role
from starlette.applications import Starlette


class WeatherDesk(AgentExecutor):
    """WeatherDesk answers forecasts as streamed artifacts."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input().strip()
        task = context.current_task
        if task is None:
            task = new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        asked_for_city = len(task.history) > 1
        if text.startswith("refuse"):
            await updater.reject(self._say(updater, "I only do weather."))
            return
        if text.startswith("break"):
            await updater.failed(self._say(updater, "the forecast service is down"))
            return
        if text.startswith("slow"):
            # Works until cancelled: a caller's deadline ends it.
            await asyncio.sleep(3600)
            return
        if text.startswith("stall"):
            # Says a word, then works until cancelled: a barge-in ends it.
            await updater.add_artifact([new_text_part("Checking")], artifact_id="forecast", name="forecast")
            await asyncio.sleep(3600)
            return
        city = text.removeprefix("forecast for").removeprefix("forecast").strip()
        if asked_for_city and city == "":
            city = text
        if city == "":
            await updater.requires_input(self._say(updater, "Which city?"))
            return
        words = f"Sunny in {city}, 21 degrees.".split(" ")
        for i, word in enumerate(words):
            await updater.add_artifact(
                [new_text_part(word if i == 0 else " " + word)],
                artifact_id="forecast",
                name="forecast",
                append=i > 0,
                last_chunk=i == len(words) - 1,
            )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is not None:
            print(f"cancelled {task.id}", flush=True)
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()

    @staticmethod
    def _say(updater: TaskUpdater, text: str):
        return new_text_message(text, context_id=updater.context_id, task_id=updater.task_id, role=Role.ROLE_AGENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--name", default="Weather desk")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    card = AgentCard(
        name=args.name,
        description="Forecasts by city, streamed word by word.",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=f"http://{args.host}:{port}/a2a", protocol_binding="JSONRPC", protocol_version="1.0")],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="forecast", name="Forecast", description="The weather in a city", tags=["weather"])],
    )
    handler = DefaultRequestHandler(agent_executor=WeatherDesk(), task_store=InMemoryTaskStore(), agent_card=card)
    app = Starlette(routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, "/a2a")])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    print(f"listening on {port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
