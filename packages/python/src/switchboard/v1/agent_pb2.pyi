import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from switchboard.v1 import turn_pb2 as _turn_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HandleTurnRequest(_message.Message):
    __slots__ = ("start", "input", "cancel")
    START_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    start: TurnStart
    input: InputDelta
    cancel: CancelTurn
    def __init__(self, start: _Optional[_Union[TurnStart, _Mapping]] = ..., input: _Optional[_Union[InputDelta, _Mapping]] = ..., cancel: _Optional[_Union[CancelTurn, _Mapping]] = ...) -> None: ...

class TurnStart(_message.Message):
    __slots__ = ("session_id", "turn_id", "account_id", "flow_id", "stage", "intent", "input", "state", "history", "budget", "attempt", "handoff_from", "metadata", "input_streaming")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FROM_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    INPUT_STREAMING_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    account_id: str
    flow_id: str
    stage: str
    intent: str
    input: _turn_pb2.TurnInput
    state: _struct_pb2.Struct
    history: _containers.RepeatedCompositeFieldContainer[_turn_pb2.TranscriptEntry]
    budget: _duration_pb2.Duration
    attempt: int
    handoff_from: str
    metadata: _containers.ScalarMap[str, str]
    input_streaming: bool
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., account_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., stage: _Optional[str] = ..., intent: _Optional[str] = ..., input: _Optional[_Union[_turn_pb2.TurnInput, _Mapping]] = ..., state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., history: _Optional[_Iterable[_Union[_turn_pb2.TranscriptEntry, _Mapping]]] = ..., budget: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., attempt: _Optional[int] = ..., handoff_from: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., input_streaming: _Optional[bool] = ...) -> None: ...

class InputDelta(_message.Message):
    __slots__ = ("text", "final", "audio")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    text: str
    final: bool
    audio: bytes
    def __init__(self, text: _Optional[str] = ..., final: _Optional[bool] = ..., audio: _Optional[bytes] = ...) -> None: ...

class CancelTurn(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class HandleTurnResponse(_message.Message):
    __slots__ = ("delta", "result")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    delta: OutputDelta
    result: _turn_pb2.AgentResult
    def __init__(self, delta: _Optional[_Union[OutputDelta, _Mapping]] = ..., result: _Optional[_Union[_turn_pb2.AgentResult, _Mapping]] = ...) -> None: ...

class OutputDelta(_message.Message):
    __slots__ = ("text", "audio")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    text: str
    audio: bytes
    def __init__(self, text: _Optional[str] = ..., audio: _Optional[bytes] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("card",)
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: AgentCard
    def __init__(self, card: _Optional[_Union[AgentCard, _Mapping]] = ...) -> None: ...

class AgentCard(_message.Message):
    __slots__ = ("name", "version", "description", "intents", "accepts_audio", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_AUDIO_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    intents: _containers.RepeatedScalarFieldContainer[str]
    accepts_audio: bool
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., intents: _Optional[_Iterable[str]] = ..., accepts_audio: _Optional[bool] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
