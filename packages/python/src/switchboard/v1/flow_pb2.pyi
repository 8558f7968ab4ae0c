import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Join(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_UNSPECIFIED: _ClassVar[Join]
    JOIN_ALL: _ClassVar[Join]
    JOIN_ANY: _ClassVar[Join]
    JOIN_AT_LEAST: _ClassVar[Join]

class Merge(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MERGE_UNSPECIFIED: _ClassVar[Merge]
    MERGE_DISJOINT: _ClassVar[Merge]
    MERGE_BY_BRANCH: _ClassVar[Merge]
    MERGE_LAST_WINS: _ClassVar[Merge]

class FailurePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILURE_POLICY_UNSPECIFIED: _ClassVar[FailurePolicy]
    FAILURE_POLICY_TOLERATE: _ClassVar[FailurePolicy]
    FAILURE_POLICY_FAIL_FAST: _ClassVar[FailurePolicy]
JOIN_UNSPECIFIED: Join
JOIN_ALL: Join
JOIN_ANY: Join
JOIN_AT_LEAST: Join
MERGE_UNSPECIFIED: Merge
MERGE_DISJOINT: Merge
MERGE_BY_BRANCH: Merge
MERGE_LAST_WINS: Merge
FAILURE_POLICY_UNSPECIFIED: FailurePolicy
FAILURE_POLICY_TOLERATE: FailurePolicy
FAILURE_POLICY_FAIL_FAST: FailurePolicy

class Flow(_message.Message):
    __slots__ = ("id", "version", "description", "initial_stage", "stages", "invariants", "max_chain", "session_ttl", "state_keys", "migrations", "outcomes")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INITIAL_STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    INVARIANTS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHAIN_FIELD_NUMBER: _ClassVar[int]
    SESSION_TTL_FIELD_NUMBER: _ClassVar[int]
    STATE_KEYS_FIELD_NUMBER: _ClassVar[int]
    MIGRATIONS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    description: str
    initial_stage: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    invariants: _containers.RepeatedCompositeFieldContainer[Check]
    max_chain: int
    session_ttl: _duration_pb2.Duration
    state_keys: _containers.RepeatedScalarFieldContainer[str]
    migrations: _containers.RepeatedCompositeFieldContainer[Migration]
    outcomes: FlowOutcomes
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., initial_stage: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ..., invariants: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., max_chain: _Optional[int] = ..., session_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., state_keys: _Optional[_Iterable[str]] = ..., migrations: _Optional[_Iterable[_Union[Migration, _Mapping]]] = ..., outcomes: _Optional[_Union[FlowOutcomes, _Mapping]] = ...) -> None: ...

class Migration(_message.Message):
    __slots__ = ("stages", "state")
    class StagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FROM_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    stages: _containers.ScalarMap[str, str]
    state: StateMigration
    def __init__(self, stages: _Optional[_Mapping[str, str]] = ..., state: _Optional[_Union[StateMigration, _Mapping]] = ..., **kwargs) -> None: ...

class StateMigration(_message.Message):
    __slots__ = ("rename", "remove", "defaults", "set")
    class RenameEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SetEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RENAME_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    rename: _containers.ScalarMap[str, str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    defaults: _struct_pb2.Struct
    set: _containers.ScalarMap[str, str]
    def __init__(self, rename: _Optional[_Mapping[str, str]] = ..., remove: _Optional[_Iterable[str]] = ..., defaults: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., set: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FlowOutcomes(_message.Message):
    __slots__ = ("hand_off_stages", "contained_stages")
    HAND_OFF_STAGES_FIELD_NUMBER: _ClassVar[int]
    CONTAINED_STAGES_FIELD_NUMBER: _ClassVar[int]
    hand_off_stages: _containers.RepeatedScalarFieldContainer[str]
    contained_stages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hand_off_stages: _Optional[_Iterable[str]] = ..., contained_stages: _Optional[_Iterable[str]] = ...) -> None: ...

class Stage(_message.Message):
    __slots__ = ("name", "description", "agent", "intent_agents", "allowed_intents", "fallback_agent", "event_intents", "timeout", "retry", "transitions", "preconditions", "postconditions", "parallel", "compensation", "auto_continue", "max_visits", "on_max_visits", "terminal", "wait_reason", "on_failure")
    class IntentAgentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EventIntentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INTENT_AGENTS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_INTENTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_AGENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_INTENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    PRECONDITIONS_FIELD_NUMBER: _ClassVar[int]
    POSTCONDITIONS_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    AUTO_CONTINUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VISITS_FIELD_NUMBER: _ClassVar[int]
    ON_MAX_VISITS_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    WAIT_REASON_FIELD_NUMBER: _ClassVar[int]
    ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    agent: str
    intent_agents: _containers.ScalarMap[str, str]
    allowed_intents: _containers.RepeatedScalarFieldContainer[str]
    fallback_agent: str
    event_intents: _containers.ScalarMap[str, str]
    timeout: _duration_pb2.Duration
    retry: RetryPolicy
    transitions: _containers.RepeatedCompositeFieldContainer[Transition]
    preconditions: _containers.RepeatedCompositeFieldContainer[Check]
    postconditions: _containers.RepeatedCompositeFieldContainer[Check]
    parallel: Parallel
    compensation: Compensation
    auto_continue: bool
    max_visits: int
    on_max_visits: str
    terminal: bool
    wait_reason: str
    on_failure: OnFailure
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., agent: _Optional[str] = ..., intent_agents: _Optional[_Mapping[str, str]] = ..., allowed_intents: _Optional[_Iterable[str]] = ..., fallback_agent: _Optional[str] = ..., event_intents: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., transitions: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., preconditions: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., postconditions: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., parallel: _Optional[_Union[Parallel, _Mapping]] = ..., compensation: _Optional[_Union[Compensation, _Mapping]] = ..., auto_continue: _Optional[bool] = ..., max_visits: _Optional[int] = ..., on_max_visits: _Optional[str] = ..., terminal: _Optional[bool] = ..., wait_reason: _Optional[str] = ..., on_failure: _Optional[_Union[OnFailure, _Mapping]] = ...) -> None: ...

class OnFailure(_message.Message):
    __slots__ = ("compensate", "to")
    COMPENSATE_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    compensate: bool
    to: str
    def __init__(self, compensate: _Optional[bool] = ..., to: _Optional[str] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("to", "when", "back")
    TO_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    BACK_FIELD_NUMBER: _ClassVar[int]
    to: str
    when: str
    back: bool
    def __init__(self, to: _Optional[str] = ..., when: _Optional[str] = ..., back: _Optional[bool] = ...) -> None: ...

class Check(_message.Message):
    __slots__ = ("name", "expr", "message")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    expr: str
    message: str
    def __init__(self, name: _Optional[str] = ..., expr: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_backoff", "max_backoff")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BACKOFF_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_backoff: _duration_pb2.Duration
    max_backoff: _duration_pb2.Duration
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_backoff: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Parallel(_message.Message):
    __slots__ = ("branches", "join", "min_successes", "branch_timeout", "merge", "failure_policy")
    BRANCHES_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    MIN_SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    BRANCH_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MERGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_POLICY_FIELD_NUMBER: _ClassVar[int]
    branches: _containers.RepeatedCompositeFieldContainer[Branch]
    join: Join
    min_successes: int
    branch_timeout: _duration_pb2.Duration
    merge: Merge
    failure_policy: FailurePolicy
    def __init__(self, branches: _Optional[_Iterable[_Union[Branch, _Mapping]]] = ..., join: _Optional[_Union[Join, str]] = ..., min_successes: _Optional[int] = ..., branch_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., merge: _Optional[_Union[Merge, str]] = ..., failure_policy: _Optional[_Union[FailurePolicy, str]] = ...) -> None: ...

class Branch(_message.Message):
    __slots__ = ("name", "agent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    agent: str
    def __init__(self, name: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class Compensation(_message.Message):
    __slots__ = ("agent", "intent")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    agent: str
    intent: str
    def __init__(self, agent: _Optional[str] = ..., intent: _Optional[str] = ...) -> None: ...
