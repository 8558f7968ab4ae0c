"""The A2A round trip of a Switchboard flow, driven by the official Python SDK.

    python round_trip.py BASE_URL jsonrpc|grpc GATE_ID

BASE_URL is where the agent card is (BASE_URL/.well-known/agent-card.json).
The script uses the SDK's ClientFactory with one transport, as any A2A
client would, and prints one JSON line per step for the test to check:
it reads the card, sends a message, streams a reply, gets the task,
cancels a running one (a turn of the Talker agent held by the gate
GATE_ID), completes an INPUT_REQUIRED round trip at the contact-centre
flow's approval wait, and asks for an unknown task.
"""

import asyncio
import json
import sys
import uuid

import grpc
import httpx
from google.protobuf import json_format, struct_pb2

from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)


def say(step, **facts):
    print(json.dumps({"step": step, **facts}), flush=True)


def message(text=None, context_id="", task_id="", data=None, metadata=None):
    parts = []
    if text is not None:
        parts.append(Part(text=text))
    if data is not None:
        parts.append(Part(data=json_format.ParseDict(data, struct_pb2.Value())))
    msg = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), context_id=context_id, task_id=task_id, parts=parts)
    if metadata:
        msg.metadata.update(metadata)
    return SendMessageRequest(message=msg)


def state_name(state):
    return TaskState.Name(state)


def texts(artifacts):
    return ["".join(p.text for p in a.parts) for a in artifacts]


async def send(client, request):
    """Sends one message and reads every event: returns the task and what streamed."""
    task = None
    kinds, chunks, final = [], [], None
    async for event in client.send_message(request):
        kind = event.WhichOneof("payload")
        kinds.append(kind)
        if kind == "task":
            task = event.task
            final = event.task.status
        elif kind == "artifact_update":
            chunks.append({"text": "".join(p.text for p in event.artifact_update.artifact.parts), "append": event.artifact_update.append})
        elif kind == "status_update":
            final = event.status_update.status
    return task, kinds, chunks, final


async def main():
    base, transport, gate = sys.argv[1], sys.argv[2], sys.argv[3]
    async with httpx.AsyncClient() as http:
        card = await A2ACardResolver(http, base).get_agent_card()
    say(
        "card",
        name=card.name,
        streaming=card.capabilities.streaming,
        skills=[s.id for s in card.skills],
        interfaces=[[i.protocol_binding, i.url, i.protocol_version] for i in card.supported_interfaces],
    )
    binding = "JSONRPC" if transport == "jsonrpc" else "GRPC"

    def config(streaming):
        return ClientConfig(
            streaming=streaming,
            supported_protocol_bindings=[binding],
            grpc_channel_factory=lambda url: grpc.aio.insecure_channel(url),
        )

    unary = ClientFactory(config(False)).create(card)
    streaming = ClientFactory(config(True)).create(card)

    # Send a message: a new context (session) and its first task (turn).
    task, _, _, _ = await send(unary, message("hello"))
    context = task.context_id
    say("send", task_id=task.id, context_id=context, state=state_name(task.status.state), replies=texts(task.artifacts))

    # Get the task back.
    got = await unary.get_task(GetTaskRequest(id=task.id))
    say("get", task_id=got.id, state=state_name(got.status.state), replies=texts(got.artifacts))

    # Stream a reply: the security code, answered piece by piece.
    _, kinds, chunks, final = await send(streaming, message("my code is 1234", context_id=context))
    say("stream", kinds=kinds, chunks=chunks, state=state_name(final.state))

    # The INPUT_REQUIRED round trip: a large refund waits for a supervisor,
    # who answers the same task with the approval event.
    task, _, _, final = await send(streaming, message("I want a refund of 250 for order B-9", context_id=context))
    waiting = "".join(p.text for p in final.message.parts)
    say("input_required", task_id=task.id, state=state_name(final.state), waiting=waiting)
    answer = message(
        context_id=context,
        task_id=task.id,
        data={"event": {"type": "approval.granted"}},
        metadata={"permissions": "refunds.approve", "actor": "supervisor-7"},
    )
    answered, _, chunks, final = await send(streaming, answer)
    say("answered", task_id=answered.id, state=state_name(final.state), reply="".join(c["text"] for c in chunks))
    got = await unary.get_task(GetTaskRequest(id=task.id))
    say("get_answered", state=state_name(got.status.state), replies=texts(got.artifacts))

    # Cancel a running task: the Talker holds the turn at the gate after
    # its first words; the cancel is a barge-in.
    events = streaming.send_message(message(f"gate:{gate}"))
    running_id, cancelled, states = None, None, []
    async for event in events:
        kind = event.WhichOneof("payload")
        if kind == "task":
            running_id = event.task.id
        elif kind == "status_update":
            states.append(state_name(event.status_update.status.state))
        elif kind == "artifact_update" and cancelled is None:
            cancelled = await unary.cancel_task(CancelTaskRequest(id=running_id))
    got = await unary.get_task(GetTaskRequest(id=running_id))
    say("cancel", cancel_state=state_name(cancelled.status.state), stream_states=states, get_state=state_name(got.status.state), replies=texts(got.artifacts))

    # An unknown task is the protocol's TaskNotFound.
    try:
        await unary.get_task(GetTaskRequest(id=f"{context}~no-such-turn"))
        say("unknown_task", error=None)
    except Exception as e:  # noqa: BLE001 - the error's class is what is checked
        say("unknown_task", error=type(e).__name__)

    await unary.close()
    await streaming.close()


asyncio.run(main())
