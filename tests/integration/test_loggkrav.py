"""docs/LOGGKRAV.md and its English twin promise contract managers things
about the monthly report that bevisd must hold to: a month without incidents
is reported as a report without entries, in CSV and in JSON; the servicedesk's
columns are those of the map conf/bevisd.conf ships, and a report lacking one
is refused whole, naming it. The two documents name the same requirements."""
import os
import re

from bevistest import ROOT, check, eq
from test_reports import Setup, ct


def shipped_servicedesk_map():
    """The [report_map servicedesk] section of conf/bevisd.conf, as text, and
    its column names in order."""
    with open(os.path.join(ROOT, "conf", "bevisd.conf"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^\[report_map servicedesk\]\n((?:[a-z_]+ = .*\n)+)", text, re.M)
    check(m, "conf/bevisd.conf ships [report_map servicedesk]")
    columns = [c.strip() for line in m.group(1).splitlines()
               for c in line.split("=", 1)[1].split("|")]
    return m.group(0), columns


def doc(name):
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        return f.read()


def test_documents_name_the_same_requirements(cluster):
    sv, en = doc("LOGGKRAV.md"), doc("LOGGKRAV.en.md")
    heads = [re.findall(r"^### (LK-\d+) .* \((ska|bör|shall|should)[^)]*\)$", t, re.M)
             for t in (sv, en)]
    eq([h[0] for h in heads[0]], [f"LK-{n}" for n in range(1, 17)], "Swedish requirements")
    eq([h[0] for h in heads[1]], [h[0] for h in heads[0]], "English requirements")
    eq([h[1] for h in heads[1]], [{"ska": "shall", "bör": "should"}[h[1]] for h in heads[0]],
       "ska is shall, bör is should")
    for t in (sv, en):
        rows = re.findall(r"^\| (LK-\d+) ", t, re.M)
        eq(rows, [f"LK-{n}" for n in range(1, 17)], "the overview table has every requirement")
    _, columns = shipped_servicedesk_map()
    for name, t in (("LOGGKRAV.md", sv), ("LOGGKRAV.en.md", en)):
        for c in columns:
            check(f"`{c}`" in t, f"{name} names the shipped servicedesk column {c}")


def test_monthly_report_as_the_requirements_describe_it(cluster):
    section, columns = shipped_servicedesk_map()
    s = Setup(cluster)
    try:
        # Setup's map is the one conf/bevisd.conf ships.
        with open(s.d.conf, encoding="utf-8") as f:
            check(section in f.read(), "bevisd runs with the shipped servicedesk map")
        # LK-13: a month without incidents is a report without entries.
        header = ";".join(columns[1:]) + "\n"   # Ärendenummer is the other id column
        r = s.send("servicedesk", ct("servicedesk", "2026-11"), header.encode())
        eq((r["status"], r["version"], r["entries"], r["quarantined"]), ("ok", 1, 0, 0),
           "a header-only CSV report: " + str(r))
        r = s.send("skolplattform", ct("supplier", "2026-11", fmt="json"),
                   b'{"entries": []}')
        eq((r["status"], r["version"], r["entries"], r["quarantined"]), ("ok", 1, 0, 0),
           "a JSON report with no entries: " + str(r))
        eq(s.db.value("SELECT count(*) FROM report WHERE period = '2026-11'"), "2",
           "both empty months are stored as reports")
        # LK-14: a servicedesk report lacking a shipped column is refused whole.
        lacking = ";".join(c for c in columns[1:] if c != "Personuppgifter") + "\n"
        r = s.send("servicedesk", ct("servicedesk", "2026-12"),
                   (lacking + "SD-1;2026-12-01;Rubrik;Text;Kategori;Hög\n").encode())
        eq((r["status"], r["error"]), ("error", "bad_report"), "a missing column: " + str(r))
        check("Personuppgifter" in r["message"], r["message"])
        eq(s.db.value("SELECT count(*) FROM report WHERE period = '2026-12'"), "0",
           "nothing of the refused report")
    finally:
        s.stop()
