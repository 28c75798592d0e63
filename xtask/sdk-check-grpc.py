"""The gRPC admin service (veloera.admin.v1) from Python, as integrators who do not write Rust call it.

Run by `cargo xtask sdk-check` after the SDK checks (so usage exists) with: <gRPC address> <personal access token>
<proto root>. Two ways in: stubs generated at check time by grpcio-tools from the committed .proto, and server
reflection alone (grpcio-reflection), as grpcurl works. Every check asserts; the first failure exits non-zero.
"""
import importlib
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_tools import protoc

address, token, proto_root = sys.argv[1], sys.argv[2], sys.argv[3]
auth = [("authorization", f"Bearer {token}")]
SERVICE = "veloera.admin.v1.AdminService"


def check(name, condition, detail):
    if not condition:
        sys.exit(f"FAILED {name}: {detail!r}")
    print(f"ok  {name}")


# Stubs from the committed .proto, generated now.
out = tempfile.mkdtemp(prefix="veloera-grpc-")
proto = "veloera/admin/v1/admin.proto"
code = protoc.main(["grpc_tools.protoc", f"-I{proto_root}", f"--python_out={out}", f"--grpc_python_out={out}", proto])
check("stubs generated from admin.proto", code == 0, code)
sys.path.insert(0, out)
pb = importlib.import_module("veloera.admin.v1.admin_pb2")
stubs = importlib.import_module("veloera.admin.v1.admin_pb2_grpc")

channel = grpc.insecure_channel(address)
admin = stubs.AdminServiceStub(channel)

users = admin.ListUsers(pb.ListUsersRequest(page=pb.PageRequest(page=1, page_size=10)), metadata=auth, timeout=10)
check("ListUsers", users.total >= 1 and any(u.username == "root" for u in users.users), users)
created = admin.CreateUser(pb.CreateUserRequest(username="py_portal", password="py-portal-pass"), metadata=auth,
                           timeout=10)
check("CreateUser", created.id > 0 and created.role == pb.ROLE_USER, created)
found = admin.FindUser(pb.FindUserRequest(username="py_portal"), metadata=auth, timeout=10)
check("FindUser", found.id == created.id, found)
credited = admin.AdjustUserQuota(pb.AdjustUserQuotaRequest(id=created.id, delta=1000, reason="python check"),
                                 metadata=auth, timeout=10)
check("AdjustUserQuota", credited.quota == 1000, credited)
made = admin.CreateToken(pb.CreateTokenRequest(user_id=created.id, name="py", remain_quota=500), metadata=auth,
                         timeout=10)
check("CreateToken", made.key.startswith("sk-") and made.token.user_id == created.id, made)
totals = admin.AggregateUsage(pb.AggregateUsageRequest(group_by=pb.GROUP_BY_MODEL), metadata=auth, timeout=10)
check("AggregateUsage", len(totals.totals) >= 1 and totals.totals[0].requests > 0, totals)

events = admin.WatchUsage(pb.WatchUsageRequest(cursor=0), metadata=auth, timeout=10)
first = next(events)
events.cancel()
check("WatchUsage", first.cursor > 0 and first.entry.type == 2, first)
resumed = admin.WatchUsage(pb.WatchUsageRequest(cursor=first.cursor), metadata=auth, timeout=10)
after = next(resumed)
resumed.cancel()
check("WatchUsage resumed after its cursor", after.cursor > first.cursor, after)

for name, call in [
    ("anonymous is UNAUTHENTICATED", lambda: admin.ListUsers(pb.ListUsersRequest(), timeout=10)),
    ("bad page size is INVALID_ARGUMENT",
     lambda: admin.ListUsers(pb.ListUsersRequest(page=pb.PageRequest(page_size=1000)), metadata=auth, timeout=10)),
    ("unknown user is NOT_FOUND", lambda: admin.GetUser(pb.GetUserRequest(id=987654), metadata=auth, timeout=10)),
    ("taken username is ALREADY_EXISTS",
     lambda: admin.CreateUser(pb.CreateUserRequest(username="py_portal", password="py-portal-pass"), metadata=auth,
                              timeout=10)),
]:
    expected = {"anonymous": grpc.StatusCode.UNAUTHENTICATED, "bad": grpc.StatusCode.INVALID_ARGUMENT,
                "unknown": grpc.StatusCode.NOT_FOUND, "taken": grpc.StatusCode.ALREADY_EXISTS}[name.split()[0]]
    try:
        call()
        check(name, False, "accepted")
    except grpc.RpcError as e:
        check(name, e.code() == expected, (e.code(), e.details()))

# Reflection alone: no .proto, no stubs.
database = ProtoReflectionDescriptorDatabase(grpc.insecure_channel(address))
services = list(database.get_services())
check("reflection lists the service", SERVICE in services and "grpc.health.v1.Health" in services, services)
pool = descriptor_pool.DescriptorPool(database)
method = pool.FindServiceByName(SERVICE).FindMethodByName("GetUser")
Request = message_factory.GetMessageClass(method.input_type)
Reply = message_factory.GetMessageClass(method.output_type)
get_user = grpc.insecure_channel(address).unary_unary(
    f"/{SERVICE}/GetUser", request_serializer=Request.SerializeToString, response_deserializer=Reply.FromString)
reply = get_user(Request(id=created.id), metadata=auth, timeout=10)
check("GetUser through reflection only", reply.username == "py_portal", reply)
print("all gRPC checks passed")
