#!/usr/bin/python3
"""Topic administration against quire's Kafka listener (issue 13, item 5),
for kafka_admin.sh. Each command prints one result per line:

  kp-create BOOT TOPIC PARTS RF [--validate] [--assign 1:2,2:1] [K=V...]
      kafka-python KafkaAdminClient.create_topics: "ok" or the error's name
  kp-delete BOOT TOPIC        kafka-python delete_topics: "ok" or the error
  kp-describe BOOT TOPIC      kafka-python describe_configs (v2, with
      synonyms): "name=value source read_only sensitive" per entry, or the
      error's name
  kp-broker BOOT ID           describe_configs of broker ID: entry count
      and "name=value source" of a few keys, or the error's name
  ck-create BOOT TOPIC PARTS RF [K=V...]   confluent-kafka AdminClient
  ck-delete BOOT TOPIC
  ck-describe BOOT TOPIC      "name=value source" per entry
"""
import sys


def kp_admin(boot):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=boot, request_timeout_ms=30000)


def err_name(e):
    return type(e).__name__


def kp_create(boot, topic, parts, rf, rest):
    from kafka.admin import NewTopic
    validate, assign, cfg = False, None, {}
    it = iter(rest)
    for a in it:
        if a == "--validate":
            validate = True
        elif a == "--assign":
            assign = {}
            for p, reps in enumerate(next(it).split(",")):
                assign[p] = [int(b) for b in reps.split(":")]
        else:
            k, v = a.split("=", 1)
            cfg[k] = v
    if assign:
        parts = rf = -1
    nt = NewTopic(topic, int(parts), int(rf), replica_assignments=assign,
                  topic_configs=cfg)
    a = kp_admin(boot)
    try:
        a.create_topics([nt], timeout_ms=20000, validate_only=validate)
        print("ok")
    except Exception as e:  # kafka.errors.* name the error code
        print(err_name(e))
    a.close()


def kp_delete(boot, topic):
    a = kp_admin(boot)
    try:
        a.delete_topics([topic], timeout_ms=20000)
        print("ok")
    except Exception as e:
        print(err_name(e))
    a.close()


def kp_describe(boot, rtype, name):
    from kafka.admin import ConfigResource, ConfigResourceType
    a = kp_admin(boot)
    res = ConfigResource(ConfigResourceType[rtype], name)
    out = []
    try:
        for resp in a.describe_configs([res], include_synonyms=True):
            for r in resp.resources:
                if r[0] != 0:
                    out.append("error %d" % r[0])
                    continue
                for e in r[4]:
                    name, value, ro, source, sens, syn = e
                    out.append("%s=%s %d %d %d %s" % (
                        name, value, source, ro, sens,
                        ",".join("%s:%d" % (s[0], s[2]) for s in syn)))
    except Exception as e:
        out.append(err_name(e))
    a.close()
    print("\n".join(out))


_ck = []


def ck_admin(boot):
    from confluent_kafka.admin import AdminClient
    _ck.append(AdminClient({"bootstrap.servers": boot}))  # kept alive
    return _ck[-1]


def ck_result(futs):
    for _, f in futs.items():
        try:
            f.result(timeout=30)
            print("ok")
        except Exception as e:
            ke = e.args[0] if e.args else None
            print(ke.name() if hasattr(ke, "name") else repr(e))


def ck_create(boot, topic, parts, rf, rest):
    from confluent_kafka.admin import NewTopic
    cfg = dict(a.split("=", 1) for a in rest)
    nt = NewTopic(topic, num_partitions=int(parts),
                  replication_factor=int(rf), config=cfg)
    ck_result(ck_admin(boot).create_topics([nt], operation_timeout=20))


def ck_delete(boot, topic):
    ck_result(ck_admin(boot).delete_topics([topic], operation_timeout=20))


def ck_describe(boot, topic):
    from confluent_kafka.admin import ConfigResource
    futs = ck_admin(boot).describe_configs([ConfigResource("topic", topic)])
    for _, f in futs.items():
        try:
            for name, e in sorted(f.result(timeout=30).items()):
                print("%s=%s %d" % (name, e.value, e.source))
        except Exception as e:
            ke = e.args[0] if e.args else None
            print(ke.name() if hasattr(ke, "name") else repr(e))


def main(argv):
    cmd, boot = argv[1], argv[2]
    if cmd == "kp-create":
        kp_create(boot, argv[3], argv[4], argv[5], argv[6:])
    elif cmd == "kp-delete":
        kp_delete(boot, argv[3])
    elif cmd == "kp-describe":
        kp_describe(boot, "TOPIC", argv[3])
    elif cmd == "kp-broker":
        kp_describe(boot, "BROKER", argv[3])
    elif cmd == "ck-create":
        ck_create(boot, argv[3], argv[4], argv[5], argv[6:])
    elif cmd == "ck-delete":
        ck_delete(boot, argv[3])
    elif cmd == "ck-describe":
        ck_describe(boot, argv[3])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
