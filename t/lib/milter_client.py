#!/usr/bin/env python3
"""milter_client.py - the MTA side of the milter protocol, for tests.

  milter_client.py SOCKET ACTIONS FROM RCPT [RCPT...]

SOCKET is unix:/path or inet:PORT@HOST; ACTIONS the action flags the "MTA"
offers, as a number (e.g. 0x8c = SMFIF_ADDRCPT|SMFIF_DELRCPT|
SMFIF_ADDRCPT_PAR, 0x0c = without SMFIF_ADDRCPT_PAR).  A RCPT may carry
ESMTP arguments after a space ("<bob@corp.example> NOTIFY=SUCCESS").

It speaks protocol version 6 as Postfix does (OPTNEG, CONNECT from
127.0.0.1, MAIL, each RCPT, then EOM when a recipient was accepted) and
prints one line per reply:

  negotiated actions=0x... protocol=0x...
  rcpt <bob@corp.example> continue | reject 550 ... | tempfail 451 ...
  eom addrcpt <to>            (SMFIR_ADDRCPT, '+')
  eom addrcpt_par <to> ARGS   (SMFIR_ADDRCPT_PAR, '2')
  eom delrcpt <rcpt>          ('-')
  eom header NAME VALUE       ('h')
  eom continue | tempfail ... (the final reply)
"""
import socket
import struct
import sys

# Steps the milter may ask to skip, and steps it may answer with no reply.
NOCONNECT, NOMAIL, NORCPT = 0x01, 0x04, 0x08
NR_CONN, NR_MAIL, NR_RCPT = 0x1000, 0x4000, 0x8000
# Protocol steps and reply options offered: everything Postfix offers.
OFFER_PROTOCOL = 0x001FFFFF


def connect(spec):
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(spec[5:])
    else:
        port, host = spec[5:].split("@", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(20)
    return s


def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("milter closed the connection")
        buf += chunk
    return buf


def recv(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    pkt = recv_exact(s, n)
    return pkt[:1], pkt[1:]


def cstrs(data):
    return [x.decode("utf-8", "replace") for x in data.split(b"\0")[:-1]]


def reply_line(cmd, data):
    if cmd == b"c":
        return "continue"
    if cmd == b"a":
        return "accept"
    if cmd == b"r":
        return "reject"
    if cmd == b"t":
        return "tempfail"
    if cmd == b"y":
        return "reply " + data.rstrip(b"\0").decode("utf-8", "replace")
    return "other " + cmd.decode()


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 64
    spec, actions, mail_from, rcpts = argv[1], int(argv[2], 0), argv[3], argv[4:]
    s = connect(spec)
    send(s, b"O", struct.pack(">III", 6, actions, OFFER_PROTOCOL))
    cmd, data = recv(s)
    if cmd != b"O":
        print("negotiation failed: %r" % cmd)
        return 1
    _, m_actions, m_proto = struct.unpack(">III", data[:12])
    print("negotiated actions=0x%x protocol=0x%x" % (m_actions, m_proto))

    def step(cmd, data, skip_flag, noreply_flag):
        if m_proto & skip_flag:
            return None
        send(s, cmd, data)
        return None if m_proto & noreply_flag else recv(s)

    send(s, b"D", b"C" + b"j\0mx.test\0")
    step(b"C", b"localhost\0" + b"4" + struct.pack(">H", 25) + b"127.0.0.1\0",
         NOCONNECT, NR_CONN)
    send(s, b"D", b"M" + b"i\0TESTQID\0")
    step(b"M", mail_from.encode() + b"\0", NOMAIL, NR_MAIL)
    accepted = 0
    for rcpt in rcpts:
        parts = rcpt.split(" ")
        send(s, b"D", b"R" + b"i\0TESTQID\0")
        r = step(b"R", b"".join(p.encode() + b"\0" for p in parts), NORCPT,
                 NR_RCPT)
        line = reply_line(*r) if r else "continue"
        print("rcpt %s %s" % (parts[0], line))
        if line == "continue":
            accepted += 1
    if accepted == 0:
        send(s, b"A")
        send(s, b"Q")
        return 0
    send(s, b"D", b"E" + b"i\0TESTQID\0")
    send(s, b"E")
    while True:
        cmd, data = recv(s)
        if cmd == b"+":
            print("eom addrcpt %s" % cstrs(data)[0])
        elif cmd == b"2":
            f = cstrs(data)
            print("eom addrcpt_par %s %s" % (f[0], f[1] if len(f) > 1 else ""))
        elif cmd == b"-":
            print("eom delrcpt %s" % cstrs(data)[0])
        elif cmd == b"h":
            f = cstrs(data)
            print("eom header %s %s" % (f[0], f[1]))
        elif cmd == b"p":
            continue
        else:
            print("eom %s" % reply_line(cmd, data))
            break
    send(s, b"Q")
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
