#!/usr/bin/python3
"""load_check.py: reads every file quire-load wrote and checks it against
what load_produce sent (issue 12). Avro files are read with python3-avro,
an implementation independent of the libavro that wrote them.

  load_check.py --dir OUT --topic T --format avro|json|text EXPECTED...

Checks: every record sent appears exactly once, in the file of its
partition whose name's offset range holds it, in the directory of its
timestamp's UTC hour, with its key, value, headers, offset and timestamp;
nothing else is there; no temporary file is left in the layout. Prints one
summary line; exit 0 when all holds, 1 otherwise (the first problems are
printed).
"""
import argparse
import base64
import json
import os
import re
import sys
import time

T0_MS = 1767225600000


def expected_record(i, plain):
    if plain:
        return None, b"line %d" % i, {}
    key = None if i % 11 == 0 else b"k%d" % i
    value = None
    if i % 13 != 0:
        value = b"v%d 0123456789abcdefghij" % i
        if i % 17 == 0:
            value += b"\ttab\nnl\\"
    headers = {"h1": b"%d" % i, "h2": None if i % 7 == 0 else b"x"}
    return key, value, headers


def read_avro(path):
    from avro.datafile import DataFileReader
    from avro.io import DatumReader
    with open(path, "rb") as f:
        reader = DataFileReader(f, DatumReader())
        codec = reader.get_meta("avro.codec")
        out = []
        for r in reader:
            ts = r["timestamp"]
            if not isinstance(ts, int):  # timestamp-millis as datetime
                ts = int(ts.timestamp() * 1000)
            out.append((r["topic"], r["partition"], r["offset"], ts,
                        r["key"], r["value"], r["headers"]))
        reader.close()
    return out, codec.decode() if codec else "null"


def b64(v):
    return None if v is None else base64.b64decode(v)


def read_json(path):
    out = []
    with open(path, "rb") as f:
        for line in f:
            o = json.loads(line)
            out.append((o["topic"], o["partition"], o["offset"],
                        o["timestamp"], b64(o["key"]), b64(o["value"]),
                        {k: b64(v) for k, v in o["headers"].items()}))
    return out, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--format", default="avro")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--codec", default=None)
    ap.add_argument("expected", nargs="+")
    a = ap.parse_args()
    sent = {}  # (partition, offset) -> (i, timestamp)
    for path in a.expected:
        with open(path) as f:
            for line in f:
                i, p, o, ts = map(int, line.split())
                sent[(p, o)] = (i, ts)
    ext = {"avro": "avro", "json": "json", "text": "txt"}[a.format]
    name_re = re.compile(r"^%s\+(\d+)\+(\d+)\+(\d+)\.%s$" %
                         (re.escape(a.topic), ext))
    seen = {}
    problems = []
    files = 0
    top = os.path.join(a.dir, a.topic)
    for root, dirs, names in os.walk(top):
        for name in names:
            path = os.path.join(root, name)
            m = name_re.match(name)
            if not m:
                problems.append("unexpected file %s" % path)
                continue
            files += 1
            part, first, last = map(int, m.groups())
            hour_dir = os.path.relpath(root, top)
            if a.format == "avro":
                recs, codec = read_avro(path)
                if a.codec and codec != a.codec:
                    problems.append("%s: codec %s, not %s" %
                                    (path, codec, a.codec))
            elif a.format == "json":
                recs, _ = read_json(path)
            else:
                with open(path, "rb") as f:
                    values = f.read().split(b"\n")[:-1]
                # text files hold values only: take the partition's
                # offsets in the name's range, in order
                offs = sorted(o for (p, o) in sent
                              if p == part and first <= o <= last)
                if len(offs) != len(values):
                    problems.append("%s: %d lines for %d offsets" %
                                    (path, len(values), len(offs)))
                    continue
                recs = [(a.topic, part, o, sent[(part, o)][1], None, v, {})
                        for o, v in zip(offs, values)]
            for (t, p, o, ts, k, v, h) in recs:
                if (t, p) != (a.topic, part) or not first <= o <= last:
                    problems.append("%s: record %s-%d@%d outside the name" %
                                    (path, t, p, o))
                hour = time.strftime("%Y/%m/%d/%H", time.gmtime(ts // 1000))
                if hour != hour_dir:
                    problems.append("%s: record @%d of hour %s" %
                                    (path, o, hour))
                if (p, o) in seen:
                    problems.append("%s: %d@%d again (first in %s)" %
                                    (path, p, o, seen[(p, o)]))
                seen[(p, o)] = path
                if (p, o) not in sent:
                    problems.append("%s: %d@%d was never sent" % (path, p, o))
                    continue
                i, sts = sent[(p, o)]
                ek, ev, eh = expected_record(i, a.plain)
                if a.format == "text":
                    ek, eh = None, {}
                    if ev is None:
                        ev = b""
                if (k, v, h, ts) != (ek, ev, eh, sts):
                    problems.append("%s: %d@%d is %r, not %r" %
                                    (path, p, o, (k, v, h, ts),
                                     (ek, ev, eh, sts)))
    missing = [po for po in sent if po not in seen]
    if missing:
        problems.append("%d record(s) missing, e.g. %s" %
                        (len(missing), sorted(missing)[:5]))
    tmp = os.path.join(a.dir, "_temporary")
    for root, dirs, names in os.walk(tmp):
        for name in names:
            if name.endswith(".tmp"):
                problems.append("temporary file left: %s" % name)
    print("load_check: %d files, %d records read, %d sent, %d problem(s)" %
          (files, len(seen), len(sent), len(problems)))
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
