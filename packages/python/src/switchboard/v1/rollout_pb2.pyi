import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GuardMetric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUARD_METRIC_UNSPECIFIED: _ClassVar[GuardMetric]
    GUARD_METRIC_FAILED_TURN_RATE: _ClassVar[GuardMetric]
    GUARD_METRIC_HAND_OFF_RATE: _ClassVar[GuardMetric]
GUARD_METRIC_UNSPECIFIED: GuardMetric
GUARD_METRIC_FAILED_TURN_RATE: GuardMetric
GUARD_METRIC_HAND_OFF_RATE: GuardMetric

class Rollout(_message.Message):
    __slots__ = ("flow_id", "weights", "guard", "revision", "update_time", "updated_by")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    weights: _containers.RepeatedCompositeFieldContainer[VersionWeight]
    guard: RolloutGuard
    revision: int
    update_time: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, flow_id: _Optional[str] = ..., weights: _Optional[_Iterable[_Union[VersionWeight, _Mapping]]] = ..., guard: _Optional[_Union[RolloutGuard, _Mapping]] = ..., revision: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class VersionWeight(_message.Message):
    __slots__ = ("version", "weight")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    version: str
    weight: int
    def __init__(self, version: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class RolloutGuard(_message.Message):
    __slots__ = ("metric", "margin", "min_sessions")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    MIN_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    metric: GuardMetric
    margin: float
    min_sessions: int
    def __init__(self, metric: _Optional[_Union[GuardMetric, str]] = ..., margin: _Optional[float] = ..., min_sessions: _Optional[int] = ...) -> None: ...

class SetRolloutRequest(_message.Message):
    __slots__ = ("flow_id", "weights", "guard", "expected_revision")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    weights: _containers.RepeatedCompositeFieldContainer[VersionWeight]
    guard: RolloutGuard
    expected_revision: int
    def __init__(self, flow_id: _Optional[str] = ..., weights: _Optional[_Iterable[_Union[VersionWeight, _Mapping]]] = ..., guard: _Optional[_Union[RolloutGuard, _Mapping]] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class SetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class GetRolloutRequest(_message.Message):
    __slots__ = ("flow_id",)
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    def __init__(self, flow_id: _Optional[str] = ...) -> None: ...

class GetRolloutResponse(_message.Message):
    __slots__ = ("rollout", "served_revision", "newest_version")
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    SERVED_REVISION_FIELD_NUMBER: _ClassVar[int]
    NEWEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    served_revision: int
    newest_version: str
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ..., served_revision: _Optional[int] = ..., newest_version: _Optional[str] = ...) -> None: ...

class ClearRolloutRequest(_message.Message):
    __slots__ = ("flow_id",)
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    def __init__(self, flow_id: _Optional[str] = ...) -> None: ...

class ClearRolloutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RolloutChange(_message.Message):
    __slots__ = ("flow_id", "revision", "time", "actor", "action", "to", "reason")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    revision: int
    time: _timestamp_pb2.Timestamp
    actor: str
    action: str
    to: Rollout
    reason: str
    def __init__(self, flow_id: _Optional[str] = ..., revision: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., to: _Optional[_Union[Rollout, _Mapping]] = ..., reason: _Optional[str] = ..., **kwargs) -> None: ...

class ListRolloutChangesRequest(_message.Message):
    __slots__ = ("flow_id", "page_size")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    page_size: int
    def __init__(self, flow_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListRolloutChangesResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[RolloutChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[RolloutChange, _Mapping]]] = ...) -> None: ...

class GetFlowStatsRequest(_message.Message):
    __slots__ = ("flow_id", "since")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    since: _duration_pb2.Duration
    def __init__(self, flow_id: _Optional[str] = ..., since: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetFlowStatsResponse(_message.Message):
    __slots__ = ("versions", "hand_off_stages", "since")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    HAND_OFF_STAGES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[VersionStats]
    hand_off_stages: _containers.RepeatedScalarFieldContainer[str]
    since: _timestamp_pb2.Timestamp
    def __init__(self, versions: _Optional[_Iterable[_Union[VersionStats, _Mapping]]] = ..., hand_off_stages: _Optional[_Iterable[str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Rate(_message.Message):
    __slots__ = ("count", "total", "value", "low", "high")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    count: int
    total: int
    value: float
    low: float
    high: float
    def __init__(self, count: _Optional[int] = ..., total: _Optional[int] = ..., value: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ...) -> None: ...

class VersionStats(_message.Message):
    __slots__ = ("version", "started", "completed", "failed", "unfinished", "hand_off", "containment", "failed_turns", "barge_in", "turns", "turns_per_session", "median_duration")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    UNFINISHED_FIELD_NUMBER: _ClassVar[int]
    HAND_OFF_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TURNS_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    TURNS_PER_SESSION_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_DURATION_FIELD_NUMBER: _ClassVar[int]
    version: str
    started: int
    completed: int
    failed: int
    unfinished: int
    hand_off: Rate
    containment: Rate
    failed_turns: Rate
    barge_in: Rate
    turns: int
    turns_per_session: float
    median_duration: _duration_pb2.Duration
    def __init__(self, version: _Optional[str] = ..., started: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., unfinished: _Optional[int] = ..., hand_off: _Optional[_Union[Rate, _Mapping]] = ..., containment: _Optional[_Union[Rate, _Mapping]] = ..., failed_turns: _Optional[_Union[Rate, _Mapping]] = ..., barge_in: _Optional[_Union[Rate, _Mapping]] = ..., turns: _Optional[int] = ..., turns_per_session: _Optional[float] = ..., median_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
