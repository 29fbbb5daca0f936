"""Issue 14, item 4: suppliers' own product JSON (Suricata EVE, AWS
CloudTrail, Kubernetes audit) through the field maps of conf/json_maps.conf,
sent by CURVE-authenticated suppliers through a real bevisd into
PostgreSQL; and the json_maps file's errors at `bevisd -n`."""
import hashlib
import json
import os
import subprocess
import tempfile

from bevistest import BEVISD, ROOT, Daemon, check, eq, run_bevis
from test_curve import Keys, curve_client, curve_daemon

MAPPED = b"application/x-mapped-ndjson"
DATA = os.path.join(ROOT, "tests", "data")
SAMPLES = {
    "skolnat-ids": ("suricata", "crowdsec-hub_suricata-eve-detect.log", 4),
    "skolmoln": ("cloudtrail", "crowdsec-hub_aws-cloudtrail.log", 2),
    "elevplattform-k8s": ("kubernetes", "crowdsec-hub_k8s-audit-pod-exec-file.log", 1),
}


def maps_file(d):
    """conf/json_maps.conf as shipped, with the three suppliers assigned."""
    text = open(os.path.join(ROOT, "conf", "json_maps.conf")).read()
    assign = "".join(f"{s} = {m}\n" for s, (m, _, _) in SAMPLES.items())
    text = text.replace("[suppliers]\n", "[suppliers]\n" + assign, 1)
    path = os.path.join(d, "json_maps.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def row(db, supplier, where):
    return db.sql("SELECT source_event_id, occurred_at AT TIME ZONE 'UTC', "
                  "coalesce(severity::text, '-'), coalesce(category, '-'), "
                  "coalesce(action, '-'), coalesce(outcome, '-'), "
                  "coalesce(actor_user, '-'), coalesce(host(src_ip), '-'), "
                  "coalesce(target, '-'), coalesce(message, '-') "
                  "FROM event e JOIN supplier s ON s.id = e.supplier_id "
                  f"WHERE s.name = '{supplier}' AND {where} ORDER BY item_no")


def test_sample_files_through_field_maps(cluster):
    """Every JSON sample under tests/data, sent as its product's supplier:
    all items stored, none quarantined, the mapped fields exact, the rest in
    attrs, the body byte for byte."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    for s in SAMPLES:
        keys.supplier(db, s)
    d = curve_daemon(db, keys, json_maps=maps_file(keys.dir))
    try:
        for s, (_, fn, n) in SAMPLES.items():
            body = open(os.path.join(DATA, fn), "rb").read()
            c = curve_client(d, keys, s)
            reply = c.events(body, ct=MAPPED, rid=f"sample-{s}".encode())
            c.close()
            eq((reply.get("status"), reply.get("items"), reply.get("accepted"),
                reply.get("quarantined")), ("ok", n, n, 0), f"{fn}: {reply}")
            got = db.sql("SELECT body, content_type FROM submission s JOIN "
                         f"supplier p ON p.id = s.supplier_id WHERE p.name = '{s}'")
            eq(len(got), 1, f"{fn}: submissions")
            eq(bytes.fromhex(got[0][0][2:]), body, f"{fn}: body as sent")
            eq(got[0][1], "application/x-mapped-ndjson", f"{fn}: content type")
        eq(db.count("event"), 7, "events")
        eq(db.count("quarantine"), 0, "quarantined")

        # Suricata: no event id, so the SHA-256 of each line.
        lines = open(os.path.join(DATA, SAMPLES["skolnat-ids"][1]), "rb").read().split(b"\n")
        ids = [r[0] for r in db.sql("SELECT source_event_id FROM event e JOIN "
                                    "supplier s ON s.id = e.supplier_id WHERE "
                                    "s.name = 'skolnat-ids' ORDER BY item_no")]
        eq(ids, [hashlib.sha256(l).hexdigest() for l in lines if l], "suricata ids")
        eq(row(db, "skolnat-ids", "item_no = 0")[0][1:],
           ["2022-07-12 06:22:33.415742", "4", "alert", "allowed", "-", "-",
            "1.2.3.4", "1.2.3.5", "ET EXPLOIT Apache HTTP Server 2.4.49 - Path "
            "Traversal Attempt (CVE-2021-41773) M2"], "suricata line 1")
        eq(row(db, "skolnat-ids", "item_no = 3")[0][1:3],
           ["2022-07-12 11:26:36.407881", "3"], "suricata line 4")
        attrs = json.loads(db.value("SELECT attrs FROM event e JOIN supplier s "
                                    "ON s.id = e.supplier_id WHERE s.name = "
                                    "'skolnat-ids' AND item_no = 0"))
        eq((attrs["flow_id"], attrs["alert"]["signature_id"], "src_ip" in attrs,
            "signature" in attrs["alert"]), (1398609176796675, 2034125, False, False),
           "suricata attrs")

        # CloudTrail.
        eq(row(db, "skolmoln", "true"),
           [["<eventId>", "2023-04-11 15:24:00", "-", "Management", "ConsoleLogin",
             "Failure", "<userName>", "1.2.3.4", "signin.amazonaws.com",
             "Failed authentication"],
            ["<eventid>", "2023-03-29 14:39:10", "-", "Management",
             "GetCallerIdentity", "-", "-", "1.2.3.4", "sts.amazonaws.com", "-"]],
           "cloudtrail rows")
        eq(db.value("SELECT attrs::jsonb -> 'tlsDetails' ->> 'tlsVersion' FROM "
                    "event WHERE source_event_id = '<eventid>'"), "TLSv1.2",
           "cloudtrail attrs")

        # Kubernetes audit: one object, no final newline, UTF-8 in attrs.
        eq(row(db, "elevplattform-k8s", "true"),
           [["57a794de-44d3-40ee-a0ad-c0eb096eef6c", "2023-05-17 15:08:22.76396", "-",
             "pods", "create", "allow", "minikube-user", "192.168.49.1",
             "test-pod-1", "/api/v1/namespaces/foo/pods/test-pod-1/exec?command="
             "%2Fbin%2Fbash&container=centos&stdin=true&stdout=true&tty=true"]],
           "kubernetes row")
        eq(db.value("SELECT attrs::jsonb -> 'annotations' ->> "
                    "'apiserver.latency.k8s.io/etcd' FROM event WHERE "
                    "source_event_id = '57a794de-44d3-40ee-a0ad-c0eb096eef6c'"),
           "561.927\u00b5s", "kubernetes attrs")

        # A resend is a duplicate, Suricata's hash ids included.
        body = open(os.path.join(DATA, SAMPLES["skolnat-ids"][1]), "rb").read()
        c = curve_client(d, keys, "skolnat-ids")
        reply = c.events(body, ct=MAPPED, rid=b"sample-again")
        c.close()
        eq((reply.get("accepted"), reply.get("duplicate")), (0, 4), f"resend: {reply}")
        # A clean exit (under SANITIZE=1: no ASan or UBSan report).
        eq(d.stop(), 0, "bevisd's exit status: " + d.logtext()[-2000:])
    finally:
        d.stop()


def test_mapped_json_refusals(cluster):
    """A supplier without a map, and an item the map cannot read, are
    quarantined with a precise reason; the others of the request stored."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "skolmoln")
    keys.supplier(db, "utan-karta")
    d = curve_daemon(db, keys, json_maps=maps_file(keys.dir))
    try:
        c = curve_client(d, keys, "utan-karta")
        reply = c.events(b'{"eventID":"x","eventTime":"2026-01-01T00:00:00Z"}\n',
                         ct=MAPPED, rid=b"r1")
        c.close()
        eq((reply.get("accepted"), reply.get("quarantined")), (0, 1), f"{reply}")
        eq(db.value("SELECT reason FROM quarantine_item WHERE request_id = 'r1'"),
           "no field map for supplier 'utan-karta': json_maps assigns none",
           "no map")
        c = curve_client(d, keys, "skolmoln")
        reply = c.events(b'{"eventID":"a","eventTime":"2026-01-01T00:00:00Z"}\n'
                         b'{"eventID":"b"}\n'
                         b'{"eventID":"c","eventTime":"2026-01-01T00:00:00Z",'
                         b'"sourceIPAddress":"AWS Internal"}\n', ct=MAPPED, rid=b"r2")
        c.close()
        eq((reply.get("accepted"), reply.get("quarantined")), (2, 1), f"{reply}")
        eq(db.sql("SELECT item_no, reason FROM quarantine_item WHERE request_id = 'r2'"),
           [["1", "field map 'cloudtrail': time /eventTime names nothing in the item"]],
           "no time")
        # Identity numbers are masked in the mapped fields, as in every format.
        c = curve_client(d, keys, "skolmoln")
        reply = c.events(b'{"eventID":"p","eventTime":"2026-01-01T00:00:00Z",'
                         b'"userIdentity":{"userName":"121212-1212"}}\n',
                         ct=MAPPED, rid=b"r3")
        c.close()
        eq(reply.get("accepted"), 1, f"{reply}")
        eq(db.sql("SELECT actor_user, personal_data FROM event WHERE "
                  "source_event_id = 'p'"), [["121212-XXXX", "t"]], "masked")
        eq(db.value("SELECT attrs FROM event WHERE source_event_id = 'c'"),
           '{"sourceIPAddress":"AWS Internal","parse_warnings":["src.ip: '
           '/sourceIPAddress is not an IP address; left in attrs"]}', "lenient ip")
    finally:
        d.stop()


def test_json_maps_errors_at_check(cluster):
    """`bevisd -n` reads json_maps and names the line of a mistake."""
    d = tempfile.mkdtemp(prefix="bevis-maps-")
    maps = os.path.join(d, "maps.conf")
    conf = os.path.join(d, "bevisd.conf")
    with open(conf, "w") as f:
        f.write(f"[bevisd]\nallow_plaintext = yes\njson_maps = {maps}\n")
    cases = [
        ("[map a]\ntime = /t\nactor.name = /u\n",
         f"{maps}:3: unknown field 'actor.name' in [map a]; a map sets id, time, "
         "severity, category, action, outcome, actor.user, target, message, "
         "src.ip and severity_values\n"),
        ("[map a]\ntime = /t\nid = /x~9\n",
         f"{maps}:3: field 'id': '/x~9' is not a JSON Pointer: '~' at character "
         "3 must be followed by 0 or 1\n"),
        ("[suppliers]\nacme = b\n[map a]\ntime = /t\n",
         f"{maps}:2: supplier 'acme': there is no [map b] in this file\n"),
    ]
    for text, want in cases:
        with open(maps, "w") as f:
            f.write(text)
        out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True, text=True)
        eq((out.returncode, out.stdout, out.stderr), (1, "", want), f"bevisd -n: {text!r}")
    with open(maps, "w") as f:
        f.write(open(os.path.join(ROOT, "conf", "json_maps.conf")).read())
    out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True, text=True)
    eq((out.returncode, out.stdout, out.stderr), (0, "configuration OK\n", ""),
       "bevisd -n on the shipped maps")
    os.unlink(maps)
    out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True, text=True)
    eq((out.returncode, out.stderr), (1, f"{maps}:0: cannot open: No such file or "
       "directory\n"), "missing maps file")


def test_bevis_send_type_mapped(cluster):
    """`bevis send --type mapped` sends a product's lines unchanged as
    application/x-mapped-ndjson, under the supplier's key."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    pub, sec = keys.supplier(db, "elevplattform-k8s")
    server_pub = keys.write("server.pub", keys.server_pub, 0o644)
    key = keys.write("k8s.key", sec, 0o600)
    d = curve_daemon(db, keys, json_maps=maps_file(keys.dir))
    try:
        path = os.path.join(DATA, SAMPLES["elevplattform-k8s"][1])
        out = run_bevis(db, "send", "--endpoint", d.endpoint, "--server-key",
                        server_pub, "--key", key, "--type", "mapped", path)
        eq((out.returncode, out.stderr.decode()), (0, ""), "bevis send")
        check(b"1 items in 1 requests: 1 accepted" in out.stdout, out.stdout)
        eq(db.sql("SELECT s.content_type, e.source_event_id FROM event e JOIN "
                  "submission s ON s.id = e.submission_id"),
           [["application/x-mapped-ndjson", "57a794de-44d3-40ee-a0ad-c0eb096eef6c"]],
           "stored through the map")
    finally:
        d.stop()
