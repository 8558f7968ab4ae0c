from switchboard.v1 import flow_pb2 as _flow_pb2
from switchboard.v1 import session_pb2 as _session_pb2
from switchboard.v1 import turn_pb2 as _turn_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SendTurnView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEND_TURN_VIEW_UNSPECIFIED: _ClassVar[SendTurnView]
    SEND_TURN_VIEW_BASIC: _ClassVar[SendTurnView]
    SEND_TURN_VIEW_FULL: _ClassVar[SendTurnView]
SEND_TURN_VIEW_UNSPECIFIED: SendTurnView
SEND_TURN_VIEW_BASIC: SendTurnView
SEND_TURN_VIEW_FULL: SendTurnView

class SendTurnRequest(_message.Message):
    __slots__ = ("session_id", "account_id", "flow_id", "turn_id", "input", "view")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    flow_id: str
    turn_id: str
    input: _turn_pb2.TurnInput
    view: SendTurnView
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., input: _Optional[_Union[_turn_pb2.TurnInput, _Mapping]] = ..., view: _Optional[_Union[SendTurnView, str]] = ...) -> None: ...

class SendTurnResponse(_message.Message):
    __slots__ = ("session_id", "turn_id", "output", "agent", "stage_completed", "next_stage", "is_complete", "session", "replayed", "interrupted")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STAGE_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    NEXT_STAGE_FIELD_NUMBER: _ClassVar[int]
    IS_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    output: str
    agent: str
    stage_completed: str
    next_stage: str
    is_complete: bool
    session: _session_pb2.Session
    replayed: bool
    interrupted: bool
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., output: _Optional[str] = ..., agent: _Optional[str] = ..., stage_completed: _Optional[str] = ..., next_stage: _Optional[str] = ..., is_complete: _Optional[bool] = ..., session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., replayed: _Optional[bool] = ..., interrupted: _Optional[bool] = ...) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("open", "turn", "input", "barge_in")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    open: ConverseOpen
    turn: ConverseTurn
    input: ConverseInput
    barge_in: BargeIn
    def __init__(self, open: _Optional[_Union[ConverseOpen, _Mapping]] = ..., turn: _Optional[_Union[ConverseTurn, _Mapping]] = ..., input: _Optional[_Union[ConverseInput, _Mapping]] = ..., barge_in: _Optional[_Union[BargeIn, _Mapping]] = ...) -> None: ...

class ConverseOpen(_message.Message):
    __slots__ = ("session_id", "account_id", "flow_id", "resume_after_seq", "view")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    account_id: str
    flow_id: str
    resume_after_seq: int
    view: SendTurnView
    def __init__(self, session_id: _Optional[str] = ..., account_id: _Optional[str] = ..., flow_id: _Optional[str] = ..., resume_after_seq: _Optional[int] = ..., view: _Optional[_Union[SendTurnView, str]] = ...) -> None: ...

class ConverseTurn(_message.Message):
    __slots__ = ("turn_id", "input", "input_streaming", "enqueue")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    INPUT_STREAMING_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    input: _turn_pb2.TurnInput
    input_streaming: bool
    enqueue: bool
    def __init__(self, turn_id: _Optional[str] = ..., input: _Optional[_Union[_turn_pb2.TurnInput, _Mapping]] = ..., input_streaming: _Optional[bool] = ..., enqueue: _Optional[bool] = ...) -> None: ...

class ConverseInput(_message.Message):
    __slots__ = ("text", "final", "audio")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    text: str
    final: bool
    audio: bytes
    def __init__(self, text: _Optional[str] = ..., final: _Optional[bool] = ..., audio: _Optional[bytes] = ...) -> None: ...

class BargeIn(_message.Message):
    __slots__ = ("turn_id", "heard_chars", "heard_ms")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    HEARD_CHARS_FIELD_NUMBER: _ClassVar[int]
    HEARD_MS_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    heard_chars: int
    heard_ms: int
    def __init__(self, turn_id: _Optional[str] = ..., heard_chars: _Optional[int] = ..., heard_ms: _Optional[int] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: SessionEvent
    def __init__(self, event: _Optional[_Union[SessionEvent, _Mapping]] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("seq", "session_id", "turn_id", "accepted", "output", "transition", "completed", "failed", "interrupted", "opened", "rejected", "taken_over")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    TAKEN_OVER_FIELD_NUMBER: _ClassVar[int]
    seq: int
    session_id: str
    turn_id: str
    accepted: TurnAccepted
    output: OutputChunk
    transition: StageTransition
    completed: TurnCompleted
    failed: TurnFailed
    interrupted: TurnInterrupted
    opened: StreamOpened
    rejected: RequestRejected
    taken_over: StreamTakenOver
    def __init__(self, seq: _Optional[int] = ..., session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., accepted: _Optional[_Union[TurnAccepted, _Mapping]] = ..., output: _Optional[_Union[OutputChunk, _Mapping]] = ..., transition: _Optional[_Union[StageTransition, _Mapping]] = ..., completed: _Optional[_Union[TurnCompleted, _Mapping]] = ..., failed: _Optional[_Union[TurnFailed, _Mapping]] = ..., interrupted: _Optional[_Union[TurnInterrupted, _Mapping]] = ..., opened: _Optional[_Union[StreamOpened, _Mapping]] = ..., rejected: _Optional[_Union[RequestRejected, _Mapping]] = ..., taken_over: _Optional[_Union[StreamTakenOver, _Mapping]] = ...) -> None: ...

class StreamOpened(_message.Message):
    __slots__ = ("last_seq", "session", "replayed")
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    session: _session_pb2.Session
    replayed: int
    def __init__(self, last_seq: _Optional[int] = ..., session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., replayed: _Optional[int] = ...) -> None: ...

class RequestRejected(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StreamTakenOver(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class TurnAccepted(_message.Message):
    __slots__ = ("stage", "agent")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    stage: str
    agent: str
    def __init__(self, stage: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("text", "audio", "agent")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    text: str
    audio: bytes
    agent: str
    def __init__(self, text: _Optional[str] = ..., audio: _Optional[bytes] = ..., agent: _Optional[str] = ...) -> None: ...

class StageTransition(_message.Message):
    __slots__ = ("to",)
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    to: str
    def __init__(self, to: _Optional[str] = ..., **kwargs) -> None: ...

class TurnCompleted(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: SendTurnResponse
    def __init__(self, result: _Optional[_Union[SendTurnResponse, _Mapping]] = ...) -> None: ...

class TurnFailed(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TurnInterrupted(_message.Message):
    __slots__ = ("heard", "heard_ms", "result", "after_completion")
    HEARD_FIELD_NUMBER: _ClassVar[int]
    HEARD_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    AFTER_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    heard: str
    heard_ms: int
    result: SendTurnResponse
    after_completion: bool
    def __init__(self, heard: _Optional[str] = ..., heard_ms: _Optional[int] = ..., result: _Optional[_Union[SendTurnResponse, _Mapping]] = ..., after_completion: _Optional[bool] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token", "flow_id", "flow_version", "agent")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    status: _session_pb2.SessionStatus
    page_size: int
    page_token: str
    flow_id: str
    flow_version: str
    agent: str
    def __init__(self, status: _Optional[_Union[_session_pb2.SessionStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., flow_id: _Optional[str] = ..., flow_version: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[_session_pb2.Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[_session_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListStepsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStepsResponse(_message.Message):
    __slots__ = ("steps", "next_page_token")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[_session_pb2.Step]
    next_page_token: str
    def __init__(self, steps: _Optional[_Iterable[_Union[_session_pb2.Step, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots", "next_page_token")
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[_session_pb2.Snapshot]
    next_page_token: str
    def __init__(self, snapshots: _Optional[_Iterable[_Union[_session_pb2.Snapshot, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackSessionRequest(_message.Message):
    __slots__ = ("session_id", "version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RollbackSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ("session_id", "version", "new_session_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    version: int
    new_session_id: str
    def __init__(self, session_id: _Optional[str] = ..., version: _Optional[int] = ..., new_session_id: _Optional[str] = ...) -> None: ...

class ForkSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class MigrateSessionRequest(_message.Message):
    __slots__ = ("session_id", "to_version", "validate_only")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    to_version: str
    validate_only: bool
    def __init__(self, session_id: _Optional[str] = ..., to_version: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class MigrateSessionResponse(_message.Message):
    __slots__ = ("session", "from_version", "from_stage")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STAGE_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    from_version: str
    from_stage: str
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., from_version: _Optional[str] = ..., from_stage: _Optional[str] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ("session_id", "after_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_seq: int
    def __init__(self, session_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WatchSessionResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: SessionEvent
    def __init__(self, event: _Optional[_Union[SessionEvent, _Mapping]] = ...) -> None: ...

class ListFlowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFlowsResponse(_message.Message):
    __slots__ = ("flows",)
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    flows: _containers.RepeatedCompositeFieldContainer[_flow_pb2.Flow]
    def __init__(self, flows: _Optional[_Iterable[_Union[_flow_pb2.Flow, _Mapping]]] = ...) -> None: ...

class ReloadFlowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadFlowsResponse(_message.Message):
    __slots__ = ("added", "loaded")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedScalarFieldContainer[str]
    loaded: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, added: _Optional[_Iterable[str]] = ..., loaded: _Optional[_Iterable[str]] = ...) -> None: ...
