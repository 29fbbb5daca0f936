#!/usr/bin/env python3
"""Writes the shipped sample month (October 2026) of tests/data/reports/.
The files are committed; this script says how they were made. Run it from
anywhere: python3 tests/data/reports/make_samples.py"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = ["Ärende-ID", "Datum", "Rubrik", "Beskrivning", "Kategori",
          "Allvarlighetsgrad", "Personuppgifter", "Skola", "Handläggare"]
ROWS = [
    ("SD-2026-1001", "2026-10-01 08:12", "Lösenord delat i klassens chatt",
     "Elev på Björkskolan delade lärarens lösenord i klassens chatt.", "Obehörig åtkomst", "Hög", "Ja", "Björkskolan", "Anna Ek"),
    ("SD-2026-1002", "2026-10-01", "Borttappad dator", "Lärardator glömd på bussen; krypterad med BitLocker.", "Förlust av utrustning", "Medel", "Nej", "Ekbackens skola", "Per Lind"),
    ("SD-2026-1003", "2026-10-02 13:45", "Phishing-mejl till personal",
     "Mejl med länk till falsk inloggningssida.\nTre personer klickade; två angav lösenord.", "Nätfiske", "Hög", "Ja", "Centralt", "Anna Ek"),
    ("SD-2026-1004", "2026-10-03 09:00", "Fel mottagare av åtgärdsprogram", "Åtgärdsprogram skickat till fel vårdnadshavare.", "Felskickad information", "Hög", "J", "Tallåsens skola", "Lena Öberg"),
    ("SD-2026-1005", "2026-10-05 14:30", "Skrivare skrev ut elevlista i fel rum", "Elevlista med personnummer; utskriften hämtades av obehörig.", "Felskickad information", "Medel", "Ja", "Björkskolan", "Per Lind"),
    ("SD-2026-1006", "2026-10-06", "Konto låst efter många inloggningsförsök", "Rektorns konto låstes; 48 misslyckade försök från okänd IP.", "Obehörig åtkomst", "Medel", "Nej", "Ekbackens skola", "Anna Ek"),
    ("SD-2026-1007", "2026-10-07 10:15", "USB-minne hittat i personalrum", "Okänt USB-minne; lämnat till IT, ej anslutet.", "Övrigt", "Låg", "", "Tallåsens skola", "Lena Öberg"),
    ("SD-2026-1008", "2026-10-08 16:40", "Betyg synliga för andra elever",
     "Behörighetsfel i lärplattformen; elever i 9B såg varandras betyg – i ca 20 minuter.", "Behörighetsfel", "Hög", "Ja", "Björkskolan", "Per Lind"),
    ("SD-2026-1009", "2026-10-09", "Misstänkt skadlig kod på elevdator", "Antivirus larmade; datorn isolerad; ominstallerad.", "Skadlig kod", "Medel", "Nej", "Ekbackens skola", "Anna Ek"),
    ("SD-2026-1010", "2026-10-12 07:55", "Vårdnadshavare fick annans schema", "Schema med skyddad adress skickat; se ärende hos registrator.", "Felskickad information", "Kritisk", "Ja", "Tallåsens skola", "Lena Öberg"),
    ("SD-2026-1011", "2026-10-13 11:20", "Delad mapp öppen för alla", "Mappen \"Elevhälsa; anteckningar\" var delad med hela kommunen.", "Behörighetsfel", "Kritisk", "Ja", "Centralt", "Anna Ek"),
    ("SD-2026-1012", "2026-10-14", "Stulen surfplatta", "Surfplatta stulen ur låst skåp; polisanmäld.", "Förlust av utrustning", "Låg", "Nej", "Björkskolan", "Per Lind"),
    ("SD-2026-1013", "2026-10-15 15:05", "Inloggning från utlandet", "Lärarkonto loggade in från två länder inom en timme.", "Obehörig åtkomst", "Hög", "Nej", "Ekbackens skola", "Anna Ek"),
    ("SD-2026-1014", "2026-10-16 08:30", "Elev fotograferade skärm med omdömen", "Bild på omdömen spreds i sociala medier.", "Obehörig åtkomst", "Medel", "Ja", "Tallåsens skola", "Lena Öberg"),
    ("SD-2026-1015", "2026-10-19", "Felaktig radering av frånvaro", "Frånvarouppgifter för årskurs 7 raderade av misstag; återställda från backup.", "Riktighet", "Medel", "Ja", "Björkskolan", "Per Lind"),
    ("SD-2026-1016", "2026-10-20 12:00", "Avbrott i lärplattformen", "Plattformen nere 3 timmar; leverantören utreder.", "Tillgänglighet", "Medel", "Nej", "Centralt", "Anna Ek"),
    ("SD-2026-1017", "2026-10-21 09:45", "Mejl med personnummer okrypterat",
     "Kurator skickade utredning; med personnummer;\nokrypterat till extern mottagare.", "Felskickad information", "Hög", "Ja", "Ekbackens skola", "Lena Öberg"),
    ("SD-2026-1018", "2026-10-22", "Gäst-wifi utan lösenord", "Gästnätet saknade lösenord efter byte av accesspunkt.", "Nätverk", "Låg", "N", "Tallåsens skola", "Per Lind"),
    ("SD-2026-1019", "2026-10-26 14:10", "Misstänkt obehörig i serverrum", "Dörren till serverrummet stod öppen; loggar granskas.", "Fysisk säkerhet", "Medel", "Nej", "Centralt", "Anna Ek"),
    ("SD-2026-1020", "2026-10-29 10:05", "Utskick till fel klass", "Information om elev med särskilda behov skickades till hela klassen.", "Felskickad information", "Hög", "Ja", "Björkskolan", "Lena Öberg"),
]


def csv_field(s):
    if any(c in s for c in ';"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def csv_text():
    lines = [";".join(HEADER)] + [";".join(csv_field(f) for f in r) for r in ROWS]
    return "\r\n".join(lines) + "\r\n"


SUPPLIER_V1 = [
    {"id": "SP-301", "occurred_at": "2026-10-02 13:40", "title": "Nätfiskesida mot skolans inloggning",
     "description": "Falsk inloggningssida registrerad; blockerad i proxy.", "system": "Skolportalen",
     "unit": "Centralt", "category": "Nätfiske", "cia_impact": "K", "severity": "Hög",
     "personal_data": "ja", "verdict": "Incident", "status": "Åtgärdad", "actions": "Domän blockerad; lösenord återställda.",
     "log_ref": "SIEM-88412", "ticket_system": "Jira"},
    {"id": "SP-302", "occurred_at": "2026-10-08 16:35", "title": "Behörighetsfel efter uppdatering",
     "description": "Rollmappning fel efter release 4.12; betyg synliga i 9B.", "system": "Lärplattformen",
     "unit": "Björkskolan", "category": "Behörighetsfel", "cia_impact": "K", "severity": "Hög",
     "personal_data": "yes", "verdict": "Incident", "status": "Utreds", "actions": "Release återställd.",
     "log_ref": "SIEM-88530"},
    {"id": "SP-303", "occurred_at": "2026-10-15 15:00", "title": "Ovanlig inloggning",
     "description": "Inloggning från två länder inom en timme.", "system": "Skolportalen",
     "unit": "Ekbackens skola", "category": "Obehörig åtkomst", "cia_impact": "K", "severity": "Medel",
     "personal_data": "", "verdict": "Utreds", "status": "Öppen", "actions": "Konto spärrat.",
     "log_ref": "SIEM-88701"},
    {"id": "SP-304", "occurred_at": "2026-10-20 09:00", "title": "Driftstopp i lärplattformen",
     "description": "Databasserver full; tre timmars avbrott.", "system": "Lärplattformen",
     "unit": "Centralt", "category": "Tillgänglighet", "cia_impact": "T", "severity": "Medel",
     "personal_data": "nej", "verdict": "Ingen incident", "status": "Stängd", "actions": "Disk utökad.",
     "log_ref": "SIEM-88790"},
    {"id": "SP-305", "occurred_at": "2026-10-23 22:10", "title": "Massnedladdning av elevregister",
     "description": "Ett lärarkonto laddade ned 1 200 elevposter på 4 minuter.", "system": "Elevregistret",
     "unit": "Tallåsens skola", "category": "Dataexfiltration", "cia_impact": "K", "severity": "Kritisk",
     "personal_data": "ja", "protected_identity": "ja", "verdict": "Utreds", "status": "Öppen",
     "actions": "Konto spärrat; logg säkrad.", "log_ref": "SIEM-88912"},
    {"id": "SP-306", "occurred_at": "2026-10-28", "title": "Sårbarhet i inloggningstjänst",
     "description": "Kritisk sårbarhet åtgärdad innan utnyttjande.", "system": "Skolportalen",
     "unit": "Centralt", "category": "Sårbarhet", "cia_impact": "", "severity": "Låg",
     "personal_data": "nej", "verdict": "Ingen incident", "status": "Stängd", "actions": "Patchad 2026-10-28.",
     "log_ref": "SIEM-89020"},
]


def supplier_v2():
    v2 = [dict(e) for e in SUPPLIER_V1 if e["id"] != "SP-304"]    # removed
    for e in v2:
        if e["id"] == "SP-302":                                   # changed: status, actions
            e["status"] = "Åtgärdad"
            e["actions"] = "Release återställd; rollmappning rättad."
        if e["id"] == "SP-303":                                   # changed: verdict
            e["verdict"] = "Ingen incident"
    v2.append({"id": "SP-307", "occurred_at": "2026-10-30 07:45", "title": "Skadlig bilaga i mejl",
               "description": "Bilaga med makro stoppad av e-postfiltret; två öppnade den.",
               "system": "E-post", "unit": "Ekbackens skola", "category": "Skadlig kod",
               "cia_impact": "R", "severity": "Medel", "personal_data": "nej",
               "verdict": "Incident", "status": "Åtgärdad", "actions": "Datorerna ominstallerade.",
               "log_ref": "SIEM-89101"})
    return v2


def main():
    text = csv_text()
    with open(os.path.join(HERE, "servicedesk-2026-10.cp1252.csv"), "wb") as f:
        f.write(text.encode("cp1252"))
    with open(os.path.join(HERE, "servicedesk-2026-10.utf8.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + text.encode("utf-8"))
    for name, entries in (("supplier-2026-10.json", SUPPLIER_V1),
                          ("supplier-2026-10.v2.json", supplier_v2())):
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            json.dump({"entries": entries}, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
