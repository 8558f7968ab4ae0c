import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import turn_pb2 as _turn_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    SESSION_STATUS_ACTIVE: _ClassVar[SessionStatus]
    SESSION_STATUS_WAITING: _ClassVar[SessionStatus]
    SESSION_STATUS_COMPLETED: _ClassVar[SessionStatus]
    SESSION_STATUS_FAILED: _ClassVar[SessionStatus]

class StepKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_KIND_UNSPECIFIED: _ClassVar[StepKind]
    STEP_KIND_TURN: _ClassVar[StepKind]
    STEP_KIND_ROLLBACK: _ClassVar[StepKind]
    STEP_KIND_FORK: _ClassVar[StepKind]
    STEP_KIND_COMPENSATION: _ClassVar[StepKind]
    STEP_KIND_BRANCH: _ClassVar[StepKind]
    STEP_KIND_INTERRUPTION: _ClassVar[StepKind]
    STEP_KIND_MIGRATION: _ClassVar[StepKind]

class StepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATUS_UNSPECIFIED: _ClassVar[StepStatus]
    STEP_STATUS_OK: _ClassVar[StepStatus]
    STEP_STATUS_FAILED: _ClassVar[StepStatus]
    STEP_STATUS_INTERRUPTED: _ClassVar[StepStatus]
SESSION_STATUS_UNSPECIFIED: SessionStatus
SESSION_STATUS_ACTIVE: SessionStatus
SESSION_STATUS_WAITING: SessionStatus
SESSION_STATUS_COMPLETED: SessionStatus
SESSION_STATUS_FAILED: SessionStatus
STEP_KIND_UNSPECIFIED: StepKind
STEP_KIND_TURN: StepKind
STEP_KIND_ROLLBACK: StepKind
STEP_KIND_FORK: StepKind
STEP_KIND_COMPENSATION: StepKind
STEP_KIND_BRANCH: StepKind
STEP_KIND_INTERRUPTION: StepKind
STEP_KIND_MIGRATION: StepKind
STEP_STATUS_UNSPECIFIED: StepStatus
STEP_STATUS_OK: StepStatus
STEP_STATUS_FAILED: StepStatus
STEP_STATUS_INTERRUPTED: StepStatus

class Session(_message.Message):
    __slots__ = ("id", "account_id", "tenant", "flow_id", "flow_version", "stage", "completed_stages", "state", "status", "version", "create_time", "update_time", "expire_time", "waiting", "history", "previous_stage", "stage_visits", "summary", "origin", "agent", "intent", "compensations", "tally", "last_seq")
    class StageVisitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_STAGES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_VISITS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    COMPENSATIONS_FIELD_NUMBER: _ClassVar[int]
    TALLY_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    tenant: str
    flow_id: str
    flow_version: str
    stage: str
    completed_stages: _containers.RepeatedScalarFieldContainer[str]
    state: _struct_pb2.Struct
    status: SessionStatus
    version: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    waiting: Waiting
    history: _containers.RepeatedCompositeFieldContainer[_turn_pb2.TranscriptEntry]
    previous_stage: str
    stage_visits: _containers.ScalarMap[str, int]
    summary: SessionSummary
    origin: SessionOrigin
    agent: str
    intent: str
    compensations: _containers.RepeatedCompositeFieldContainer[PendingCompensation]
    tally: SessionTally
    last_seq: int
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., tenant: _Optional[str] = ..., flow_id: _Optional[str] = ..., flow_version: _Optional[str] = ..., stage: _Optional[str] = ..., completed_stages: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., waiting: _Optional[_Union[Waiting, _Mapping]] = ..., history: _Optional[_Iterable[_Union[_turn_pb2.TranscriptEntry, _Mapping]]] = ..., previous_stage: _Optional[str] = ..., stage_visits: _Optional[_Mapping[str, int]] = ..., summary: _Optional[_Union[SessionSummary, _Mapping]] = ..., origin: _Optional[_Union[SessionOrigin, _Mapping]] = ..., agent: _Optional[str] = ..., intent: _Optional[str] = ..., compensations: _Optional[_Iterable[_Union[PendingCompensation, _Mapping]]] = ..., tally: _Optional[_Union[SessionTally, _Mapping]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class PendingCompensation(_message.Message):
    __slots__ = ("stage", "agent", "intent", "turn_id", "version")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    stage: str
    agent: str
    intent: str
    turn_id: str
    version: int
    def __init__(self, stage: _Optional[str] = ..., agent: _Optional[str] = ..., intent: _Optional[str] = ..., turn_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SessionTally(_message.Message):
    __slots__ = ("intents", "agents", "turns", "stage_durations", "stage_since", "barge_ins")
    class StageDurationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _duration_pb2.Duration
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    STAGE_DURATIONS_FIELD_NUMBER: _ClassVar[int]
    STAGE_SINCE_FIELD_NUMBER: _ClassVar[int]
    BARGE_INS_FIELD_NUMBER: _ClassVar[int]
    intents: _containers.RepeatedScalarFieldContainer[str]
    agents: _containers.RepeatedScalarFieldContainer[str]
    turns: int
    stage_durations: _containers.MessageMap[str, _duration_pb2.Duration]
    stage_since: _timestamp_pb2.Timestamp
    barge_ins: int
    def __init__(self, intents: _Optional[_Iterable[str]] = ..., agents: _Optional[_Iterable[str]] = ..., turns: _Optional[int] = ..., stage_durations: _Optional[_Mapping[str, _duration_pb2.Duration]] = ..., stage_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., barge_ins: _Optional[int] = ...) -> None: ...

class Waiting(_message.Message):
    __slots__ = ("reason", "stage", "since")
    REASON_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    stage: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, reason: _Optional[str] = ..., stage: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionOrigin(_message.Message):
    __slots__ = ("session_id", "version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SessionSummary(_message.Message):
    __slots__ = ("outcome", "stages", "intents", "agents", "turns", "duration", "stage_durations")
    class StageDurationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _duration_pb2.Duration
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    STAGE_DURATIONS_FIELD_NUMBER: _ClassVar[int]
    outcome: str
    stages: _containers.RepeatedScalarFieldContainer[str]
    intents: _containers.RepeatedScalarFieldContainer[str]
    agents: _containers.RepeatedScalarFieldContainer[str]
    turns: int
    duration: _duration_pb2.Duration
    stage_durations: _containers.MessageMap[str, _duration_pb2.Duration]
    def __init__(self, outcome: _Optional[str] = ..., stages: _Optional[_Iterable[str]] = ..., intents: _Optional[_Iterable[str]] = ..., agents: _Optional[_Iterable[str]] = ..., turns: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stage_durations: _Optional[_Mapping[str, _duration_pb2.Duration]] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ("session_id", "id", "version", "turn_id", "kind", "stage", "intent", "input", "agent", "instance", "attempts", "status", "latency", "output", "state_patch", "next", "next_stage", "error", "start_time", "end_time", "breaker", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STATE_PATCH_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    NEXT_STAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    id: str
    version: int
    turn_id: str
    kind: StepKind
    stage: str
    intent: str
    input: _turn_pb2.TurnInput
    agent: str
    instance: str
    attempts: int
    status: StepStatus
    latency: _duration_pb2.Duration
    output: str
    state_patch: _struct_pb2.Struct
    next: _turn_pb2.NextAction
    next_stage: str
    error: StepError
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    breaker: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, session_id: _Optional[str] = ..., id: _Optional[str] = ..., version: _Optional[int] = ..., turn_id: _Optional[str] = ..., kind: _Optional[_Union[StepKind, str]] = ..., stage: _Optional[str] = ..., intent: _Optional[str] = ..., input: _Optional[_Union[_turn_pb2.TurnInput, _Mapping]] = ..., agent: _Optional[str] = ..., instance: _Optional[str] = ..., attempts: _Optional[int] = ..., status: _Optional[_Union[StepStatus, str]] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., output: _Optional[str] = ..., state_patch: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., next: _Optional[_Union[_turn_pb2.NextAction, _Mapping]] = ..., next_stage: _Optional[str] = ..., error: _Optional[_Union[StepError, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., breaker: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StepError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("session_id", "version", "session", "create_time", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    session: Session
    create_time: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ..., session: _Optional[_Union[Session, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...
