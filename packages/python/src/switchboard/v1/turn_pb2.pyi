from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_ADVANCE: _ClassVar[Action]
    ACTION_CONTINUE: _ClassVar[Action]
    ACTION_WAIT: _ClassVar[Action]
    ACTION_GOTO: _ClassVar[Action]
    ACTION_HANDOFF: _ClassVar[Action]
    ACTION_END: _ClassVar[Action]
    ACTION_FAIL: _ClassVar[Action]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_USER: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]
    ROLE_SYSTEM: _ClassVar[Role]
ACTION_UNSPECIFIED: Action
ACTION_ADVANCE: Action
ACTION_CONTINUE: Action
ACTION_WAIT: Action
ACTION_GOTO: Action
ACTION_HANDOFF: Action
ACTION_END: Action
ACTION_FAIL: Action
ROLE_UNSPECIFIED: Role
ROLE_USER: Role
ROLE_AGENT: Role
ROLE_SYSTEM: Role

class TurnInput(_message.Message):
    __slots__ = ("text", "intent", "event", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    text: str
    intent: str
    event: Event
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, text: _Optional[str] = ..., intent: _Optional[str] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("type", "data")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    type: str
    data: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class NextAction(_message.Message):
    __slots__ = ("action", "target_stage", "target_agent", "reason")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_STAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    action: Action
    target_stage: str
    target_agent: str
    reason: str
    def __init__(self, action: _Optional[_Union[Action, str]] = ..., target_stage: _Optional[str] = ..., target_agent: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AgentResult(_message.Message):
    __slots__ = ("text", "state_patch", "next", "intent", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STATE_PATCH_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    text: str
    state_patch: _struct_pb2.Struct
    next: NextAction
    intent: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, text: _Optional[str] = ..., state_patch: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., next: _Optional[_Union[NextAction, _Mapping]] = ..., intent: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TranscriptEntry(_message.Message):
    __slots__ = ("role", "text", "agent", "turn_id", "stage", "interrupted", "heard_ms")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    HEARD_MS_FIELD_NUMBER: _ClassVar[int]
    role: Role
    text: str
    agent: str
    turn_id: str
    stage: str
    interrupted: bool
    heard_ms: int
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., text: _Optional[str] = ..., agent: _Optional[str] = ..., turn_id: _Optional[str] = ..., stage: _Optional[str] = ..., interrupted: _Optional[bool] = ..., heard_ms: _Optional[int] = ...) -> None: ...
