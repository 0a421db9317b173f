# Plays systemd's side of sd_notify(3) for tests: binds an AF_UNIX datagram socket (a path,
# or "@name" in the abstract namespace), asks the kernel for each sender's credentials
# (SO_PASSCRED, as systemd does to enforce NotifyAccess=main) and prints one JSON line per
# datagram: {"pid": sender pid, "fields": {VARIABLE: value}}. "ready" once bound.
import json, socket, struct, sys

where = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + where[1:] if where.startswith("@") else where)
print("ready", flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iii", payload[:12])[0]
    fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
    print(json.dumps({"pid": pid, "fields": fields}), flush=True)
