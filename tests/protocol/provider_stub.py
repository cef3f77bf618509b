"""A grpcio client for the tfplugin6 Provider service, built from our own descriptors.

grpcio-tools could generate a `_pb2_grpc` module, but the provider needs no grpcio at run
time: this builds the same client (one multi-callable per RPC of the service descriptor)
for the tests and the benchmarks, which use grpcio as an independent gRPC implementation.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.message_factory import GetMessageClass
from tfnimble.plugin._gen import tfplugin6_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["Provider"]


class ProviderStub:
    """`stub.GetProviderSchema(request, timeout=...)`, and so on for every RPC."""

    def __init__(self, channel: grpc.Channel) -> None:
        for method in SERVICE.methods:
            request = GetMessageClass(method.input_type)
            response = GetMessageClass(method.output_type)
            call: Any = channel.unary_unary(
                f"/{SERVICE.full_name}/{method.name}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )
            setattr(self, method.name, call)

    def __getattr__(self, name: str) -> Any:  # for type checkers: every RPC is an attribute
        raise AttributeError(name)
