#!/usr/bin/python3
"""zkproxy: a TCP proxy between ZooKeeper clients and one ZooKeeper server
that loses connections on purpose (issue 21's fault injection).

    zkproxy.py UPSTREAM_HOST:PORT

It listens on 127.0.0.1 (a free port), prints "PORT <port>" on standard
output, then reads commands from standard input, one a line, and answers
each with "OK" (or "ERR <why>"). What it did later is printed as
"EVENT ..." lines. It stops at "quit", at end of input or on SIGTERM.

ZooKeeper's wire format: each direction is a stream of frames, a 4-byte
big-endian length and that many bytes. The first frame each way is the
connect handshake; after it a request starts with (xid, type) and a reply
with (xid, zxid, err), both big-endian; the replies of one connection come
in the order of its requests. Paths are (length, bytes) right after the
request header for the requests named below.

Requests are matched by OP, a name (create = 1 and 15, delete = 2,
exists = 3, get = 4, set = 5, children = 8 and 12, multi = 14) or a number,
the Nth match from now (N >= 1), and optionally PATH, a substring of the
request's path (with the chroot). Commands:

  cut-reply OP N [PATH]    forward the request; when the server's reply
                           comes, drop it and close the connection (the
                           request was applied, its answer lost)
  cut-request OP N [PATH]  drop the request and close the connection (not
                           applied)
  hold-reply OP N [PATH]   forward the request; hold its reply and every
                           later one of that connection until "release"
  release                  send the held replies
  cut                      close every connection now
  block / unblock          refuse new connections (accept and close them)
  autoblock on|off         block as soon as a cut-* rule has cut (the
                           client stays away until "unblock")
  delay MS                 delay every reply by MS milliseconds (0: none)
  log on|off               print "EVENT req <conn> <type> <path>" for each
                           request forwarded
  clear                    forget armed cut-*/hold-* rules
  quit
Events: "EVENT cut-reply <type> <path>", "EVENT cut-request <type> <path>",
"EVENT held <type> <path>", "EVENT cut" (a "cut" command's connections).
"""
import heapq
import os
import selectors
import signal
import socket
import struct
import sys
import time

OPS = {
    "create": {1, 15},
    "delete": {2},
    "exists": {3},
    "get": {4},
    "set": {5},
    "children": {8, 12},
    "multi": {14},
}
PATH_OPS = {1, 2, 3, 4, 5, 8, 12, 15}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_ops(word):
    if word in OPS:
        return OPS[word]
    return {int(word)}


class Rule:
    def __init__(self, kind, ops, n, path):
        self.kind, self.ops, self.left, self.path = kind, ops, n, path

    def match(self, op, path):
        if op not in self.ops:
            return False
        if self.path is not None and (path is None or self.path not in path):
            return False
        self.left -= 1
        return self.left == 0


class Conn:
    seq = 0

    def __init__(self, proxy, csock, ssock):
        Conn.seq += 1
        self.id = Conn.seq
        self.proxy = proxy
        self.c, self.s = csock, ssock
        self.cbuf = b""
        self.sbuf = b""
        self.c_hand = False
        self.s_hand = False
        self.pending = []  # (xid, op, path, action) in request order
        self.holding = False
        self.held = []
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for sock in (self.c, self.s):
            try:
                self.proxy.sel.unregister(sock)
            except (KeyError, ValueError):
                pass
            try:
                sock.close()
            except OSError:
                pass
        self.proxy.conns.discard(self)

    def send_server(self, data):
        if self.closed:
            return False
        try:
            self.s.sendall(data)
            return True
        except OSError:
            self.close()
            return False

    def send_client(self, data):
        if self.closed:
            return
        try:
            self.c.sendall(data)
        except OSError:
            self.close()

    def from_client(self, data):
        self.cbuf += data
        while len(self.cbuf) >= 4:
            (n,) = struct.unpack(">i", self.cbuf[:4])
            if len(self.cbuf) < 4 + n:
                return
            frame = self.cbuf[: 4 + n]
            self.cbuf = self.cbuf[4 + n :]
            if not self.c_hand:
                self.c_hand = True
                if not self.send_server(frame):
                    return
                continue
            xid, op = struct.unpack(">ii", frame[4:12])
            path = None
            if op in PATH_OPS and n >= 12:
                (plen,) = struct.unpack(">i", frame[12:16])
                if 0 <= plen <= n - 12:
                    path = frame[16 : 16 + plen].decode("utf-8", "replace")
            action = self.proxy.match(op, path)
            if action == "cut-request":
                self.proxy.cut_done()
                out("EVENT cut-request %d %s" % (op, path))
                self.close()
                return
            if self.proxy.log and op != 11:
                out("EVENT req %d %d %s" % (self.id, op, path))
            if not self.send_server(frame):
                return
            if xid >= 0 or xid in (-4, -8):
                self.pending.append((xid, op, path, action))

    def from_server(self, data):
        self.sbuf += data
        while len(self.sbuf) >= 4:
            (n,) = struct.unpack(">i", self.sbuf[:4])
            if len(self.sbuf) < 4 + n:
                return
            frame = self.sbuf[: 4 + n]
            self.sbuf = self.sbuf[4 + n :]
            if not self.s_hand:
                self.s_hand = True
                self.reply(frame)
                continue
            (xid,) = struct.unpack(">i", frame[4:8])
            action, op, path = None, None, None
            if xid not in (-1, -2):
                for i, (pxid, pop, ppath, pact) in enumerate(self.pending):
                    if pxid == xid:
                        action, op, path = pact, pop, ppath
                        del self.pending[i]
                        break
            if action == "cut-reply":
                self.proxy.cut_done()
                out("EVENT cut-reply %d %s" % (op, path))
                self.close()
                return
            if action == "hold-reply":
                out("EVENT held %d %s" % (op, path))
                self.holding = True
            self.reply(frame)

    def reply(self, frame):
        if self.holding:
            self.held.append(frame)
        elif self.proxy.delay > 0:
            self.proxy.later(self.proxy.delay, self, frame)
        else:
            self.send_client(frame)

    def release(self):
        self.holding = False
        held, self.held = self.held, []
        for frame in held:
            self.reply(frame)


class Proxy:
    def __init__(self, upstream):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.sel = selectors.DefaultSelector()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.sel.register(self.lsock, selectors.EVENT_READ, ("listen", None))
        self.sel.register(sys.stdin, selectors.EVENT_READ, ("stdin", None))
        self.conns = set()
        self.rules = []
        self.blocked = False
        self.autoblock = False
        self.delay = 0.0
        self.log = False
        self.timers = []  # (due, seq, conn, frame)
        self.tseq = 0
        self.stdin_buf = b""
        self.running = True

    def match(self, op, path):
        for rule in self.rules:
            if rule.match(op, path):
                self.rules.remove(rule)
                return rule.kind
        return None

    def cut_done(self):
        if self.autoblock:
            self.blocked = True

    def later(self, delay, conn, frame):
        self.tseq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.tseq, conn, frame))

    def accept(self):
        csock, _ = self.lsock.accept()
        if self.blocked:
            csock.close()
            return
        try:
            ssock = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            csock.close()
            return
        ssock.settimeout(None)
        for sock in (csock, ssock):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self, csock, ssock)
        self.conns.add(conn)
        self.sel.register(csock, selectors.EVENT_READ, ("c", conn))
        self.sel.register(ssock, selectors.EVENT_READ, ("s", conn))

    def command(self, line):
        words = line.split()
        if not words:
            return
        cmd, args = words[0], words[1:]
        if cmd in ("cut-reply", "cut-request", "hold-reply") and len(args) in (2, 3):
            self.rules.append(
                Rule(cmd, parse_ops(args[0]), int(args[1]), args[2] if len(args) == 3 else None)
            )
        elif cmd == "release":
            for conn in list(self.conns):
                conn.release()
        elif cmd == "cut":
            for conn in list(self.conns):
                conn.close()
            out("EVENT cut")
        elif cmd == "block":
            self.blocked = True
        elif cmd == "unblock":
            self.blocked = False
        elif cmd == "autoblock" and len(args) == 1:
            self.autoblock = args[0] == "on"
        elif cmd == "delay" and len(args) == 1:
            self.delay = int(args[0]) / 1000.0
        elif cmd == "log" and len(args) == 1:
            self.log = args[0] == "on"
        elif cmd == "clear":
            self.rules = []
        elif cmd == "quit":
            self.running = False
        else:
            out("ERR unknown command: " + line)
            return
        out("OK")

    def stdin(self):
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            self.running = False
            return
        self.stdin_buf += data
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            self.command(line.decode().strip())

    def run(self):
        out("PORT %d" % self.lsock.getsockname()[1])
        while self.running:
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            for key, _ in self.sel.select(timeout):
                kind, conn = key.data
                if kind == "listen":
                    self.accept()
                elif kind == "stdin":
                    self.stdin()
                elif conn.closed:
                    continue
                else:
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        conn.close()
                    elif kind == "c":
                        conn.from_client(data)
                    else:
                        conn.from_server(data)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, conn, frame = heapq.heappop(self.timers)
                conn.send_client(frame)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: zkproxy.py UPSTREAM_HOST:PORT\n")
        sys.exit(2)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Proxy(sys.argv[1]).run()


if __name__ == "__main__":
    main()
