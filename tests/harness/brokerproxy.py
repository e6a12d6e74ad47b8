#!/usr/bin/python3
"""brokerproxy: a TCP proxy in front of one quire broker that loses
responses on purpose, so a producer's request is written by the broker but
its answer never arrives and the producer retries it (issue 22's test of
idempotence).

    brokerproxy.py UPSTREAM_HOST:PORT

It listens on 127.0.0.1 (a free port), prints "PORT <port>", then reads
commands from standard input, one a line, answering "OK" (or "ERR <why>"),
with the same protocol as zkproxy.py (tests/harness/qt_zkproxy.h drives
both). quire's frames: a 4-byte big-endian length and that many bytes;
responses come in request order.

  upstream HOST:PORT   where new connections go (the broker restarted)
  cut-every N          drop every Nth response frame (counted over all
                       connections; 0: none) and close that connection
                       at once: the request was handled, its answer lost
  cut                  close every connection now
  stats                print "EVENT stats cuts=<n> responses=<n>"
  quit
"""
import os
import selectors
import signal
import socket
import struct
import sys


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Pair:
    def __init__(self, client, upstream):
        self.c, self.u = client, upstream
        self.rbuf = b""  # bytes from upstream not yet forwarded
        self.closed = False


class Proxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.sel = selectors.DefaultSelector()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.sel.register(self.lsock, selectors.EVENT_READ, ("accept", None))
        self.sel.register(sys.stdin, selectors.EVENT_READ, ("cmd", None))
        self.pairs = []
        self.every = 0
        self.responses = 0
        self.cuts = 0
        self.stdin_buf = b""

    def close(self, pair):
        if pair.closed:
            return
        pair.closed = True
        for s in (pair.c, pair.u):
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self.pairs.remove(pair)

    def accept(self):
        c, _ = self.lsock.accept()
        host, port = self.upstream.rsplit(":", 1)
        try:
            u = socket.create_connection((host, int(port)), timeout=2)
        except OSError:
            c.close()
            return
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(True)
        pair = Pair(c, u)
        self.pairs.append(pair)
        self.sel.register(c, selectors.EVENT_READ, ("down", pair))
        self.sel.register(u, selectors.EVENT_READ, ("up", pair))

    def from_client(self, pair):
        try:
            data = pair.c.recv(1 << 20)
            if data:
                pair.u.sendall(data)
                return
        except OSError:
            pass
        self.close(pair)

    def from_upstream(self, pair):
        try:
            data = pair.u.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self.close(pair)
            return
        pair.rbuf += data
        send = b""
        while len(pair.rbuf) >= 4:
            n = struct.unpack(">I", pair.rbuf[:4])[0]
            if len(pair.rbuf) < 4 + n:
                break
            frame, pair.rbuf = pair.rbuf[: 4 + n], pair.rbuf[4 + n:]
            self.responses += 1
            if self.every and self.responses % self.every == 0:
                self.cuts += 1
                try:
                    if send:
                        pair.c.sendall(send)
                except OSError:
                    pass
                self.close(pair)
                return
            send += frame
        try:
            if send:
                pair.c.sendall(send)
        except OSError:
            self.close(pair)

    def command(self, line):
        words = line.split()
        if not words:
            return
        if words[0] == "upstream" and len(words) == 2:
            self.upstream = words[1]
        elif words[0] == "cut-every" and len(words) == 2:
            self.every = int(words[1])
        elif words[0] == "cut":
            for pair in list(self.pairs):
                self.close(pair)
        elif words[0] == "stats":
            out("EVENT stats cuts=%d responses=%d" % (self.cuts, self.responses))
        elif words[0] == "quit":
            out("OK")
            sys.exit(0)
        else:
            out("ERR unknown command")
            return
        out("OK")

    def run(self):
        out("PORT %d" % self.lsock.getsockname()[1])
        while True:
            for key, _ in self.sel.select():
                kind, pair = key.data
                if kind == "accept":
                    self.accept()
                elif kind == "cmd":
                    chunk = os.read(sys.stdin.fileno(), 4096)
                    if not chunk:
                        sys.exit(0)
                    self.stdin_buf += chunk
                    while b"\n" in self.stdin_buf:
                        line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
                        self.command(line.decode())
                elif pair is not None and not pair.closed:
                    if kind == "down":
                        self.from_client(pair)
                    else:
                        self.from_upstream(pair)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Proxy(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:1").run()
