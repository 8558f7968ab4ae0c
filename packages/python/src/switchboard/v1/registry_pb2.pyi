import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import agent_pb2 as _agent_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InstanceHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTANCE_HEALTH_UNSPECIFIED: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_SERVING: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_NOT_SERVING: _ClassVar[InstanceHealth]
    INSTANCE_HEALTH_EJECTED: _ClassVar[InstanceHealth]

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]
INSTANCE_HEALTH_UNSPECIFIED: InstanceHealth
INSTANCE_HEALTH_SERVING: InstanceHealth
INSTANCE_HEALTH_NOT_SERVING: InstanceHealth
INSTANCE_HEALTH_EJECTED: InstanceHealth
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState

class RegisterRequest(_message.Message):
    __slots__ = ("card", "endpoint", "lease", "token")
    CARD_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    card: _agent_pb2.AgentCard
    endpoint: str
    lease: _duration_pb2.Duration
    token: str
    def __init__(self, card: _Optional[_Union[_agent_pb2.AgentCard, _Mapping]] = ..., endpoint: _Optional[str] = ..., lease: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("instance_id", "lease")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    lease: _duration_pb2.Duration
    def __init__(self, instance_id: _Optional[str] = ..., lease: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("instance_id", "token")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    token: str
    def __init__(self, instance_id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("lease_expire_time",)
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeregisterRequest(_message.Message):
    __slots__ = ("instance_id", "token")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    token: str
    def __init__(self, instance_id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class DeregisterResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("instances",)
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[AgentInstance]
    def __init__(self, instances: _Optional[_Iterable[_Union[AgentInstance, _Mapping]]] = ...) -> None: ...

class AgentInstance(_message.Message):
    __slots__ = ("instance_id", "card", "endpoint", "source", "health", "breaker", "in_flight", "recent_latency", "lease_expire_time")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    RECENT_LATENCY_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    card: _agent_pb2.AgentCard
    endpoint: str
    source: str
    health: InstanceHealth
    breaker: BreakerState
    in_flight: int
    recent_latency: _duration_pb2.Duration
    lease_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, instance_id: _Optional[str] = ..., card: _Optional[_Union[_agent_pb2.AgentCard, _Mapping]] = ..., endpoint: _Optional[str] = ..., source: _Optional[str] = ..., health: _Optional[_Union[InstanceHealth, str]] = ..., breaker: _Optional[_Union[BreakerState, str]] = ..., in_flight: _Optional[int] = ..., recent_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
