"""Requests to tgtd over its management socket, without tgtadm.

tgtadm takes a CHAP account's password only as a command-line argument (``--password P``),
where every local user can read it in ``ps``. tgtadm is a thin client: it packs the request
into a fixed header and a ``key=value,...`` text, writes both to tgtd's unix socket
``/var/run/tgtd/socket.<control port>`` and reads back a status and an optional text. Creating
an account this way keeps the password in this process's memory and the socket, nowhere else.

The wire facts (tgt 1.0.85, usr/tgtadm.h, usr/tgtadm.c, usr/mgmt.c):

- header ``struct tgtadm_req``: ``mode`` and ``op`` (C enums, int32), ``lld`` (char[64], NUL
  padded), ``len`` (u32: header plus text, the text's trailing NUL included), ``tid`` (i32),
  ``sid`` and ``lun`` (u64), then ``cid``, ``host_no``, ``device_type``, ``ac_dir``, ``pack``,
  ``force`` (u32 each): 120 bytes in the host's native layout.
- reply ``struct tgtadm_rsp``: ``err`` (u32, 0 = success) and ``len`` (u32: the reply's size,
  these 8 bytes included), then ``len - 8`` bytes of text.
- ``account new`` takes the text ``user=U,password=P``: tgtd cuts the user name at the first
  ``,`` and takes everything after ``password=`` as the password, so a user name cannot contain
  a comma (a Nimble object name cannot either) while a password may (a CHAP secret may).
- tgtd accepts a request only from a peer with uid 0 (SO_PEERCRED), as tgtadm does.
"""

from __future__ import annotations

import socket
import struct

from .dptools import DataPlaneError

SOCKET_DIR = "/var/run/tgtd"

# enum tgtadm_mode / enum tgtadm_op
MODE_ACCOUNT = 7
OP_NEW = 0

_REQ = struct.Struct("@ii64sIiQQIIIIII")
_RSP = struct.Struct("@II")
assert _REQ.size == 120 and _RSP.size == 8

# enum tgtadm_errno (usr/tgtadm_error.h): the codes an account request can answer
_ERRORS = {
    1: "unknown error",
    2: "out of memory",
    3: "no such driver",
    14: "the account exists already",
    16: "too many accounts",
    17: "invalid request",
    22: "this operation is not supported",
    23: "unknown parameter",
}

_MAX_REPLY = 1 << 20


def _recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise DataPlaneError("tgtd closed its management socket before replying")
        buf += chunk
    return bytes(buf)


def request(
    control_port: int,
    mode: int,
    op: int,
    text: str,
    *,
    lld: str = "iscsi",
    tid: int = -1,
    timeout: float = 20.0,
) -> str:
    """Send one management request to the tgtd on ``control_port``; its reply text.

    The text is never part of an error message: it may hold a password."""
    body = text.encode() + b"\0"
    # sid 0, lun "none" (UINT64_MAX, tgtadm's default), cid, host_no, device_type (disk),
    # ac_dir (incoming), pack, force: all 0
    head = _REQ.pack(
        mode, op, lld.encode(), _REQ.size + len(body), tid, 0, 2**64 - 1, 0, 0, 0, 0, 0, 0
    )
    path = f"{SOCKET_DIR}/socket.{control_port}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(head + body)
            err, length = _RSP.unpack(_recv_exactly(s, _RSP.size))
            if length < _RSP.size or length - _RSP.size > _MAX_REPLY:
                raise DataPlaneError(f"tgtd replied with a malformed length {length}")
            reply = _recv_exactly(s, length - _RSP.size)
    except OSError as e:
        raise DataPlaneError(f"tgtd management socket {path}: {e.strerror or e}") from None
    if err:
        raise DataPlaneError(f"tgtd refused the request: {_ERRORS.get(err, f'error {err}')}")
    return reply.rstrip(b"\0").decode(errors="replace")


def new_account(control_port: int, user: str, password: str) -> None:
    """``tgtadm --op new --mode account --user U --password P``, the password kept off argv."""
    if "," in user or "\0" in user + password:
        raise DataPlaneError("a tgtd CHAP account's user name cannot contain ',' nor either NUL")
    request(control_port, MODE_ACCOUNT, OP_NEW, f"user={user},password={password}")
