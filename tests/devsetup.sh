#!/bin/sh
# devsetup.sh BUILD VAR PORT - migrates the `make run` database, creates the
# logins bevisd (ingest), isam and auditor, adds the demo and servicedesk suppliers, and writes
# VAR/bevisd.conf and VAR/env.sh.
set -eu
build=$(cd "$1" && pwd)
var=$(cd "$2" && pwd)
port=$3
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
sock="host=$var/pg/run port=$port dbname=bevis"
# The superuser only migrates and creates the logins; nothing else runs as it.
owner="$sock user=postgres"

"$build/bevis" --db "$owner" migrate

# The logins, as in production (docs/ROLES.md): bevisd ingests as `bevisd`,
# the README's commands run as the ISAM login `isam`, and `auditor` reads.
"$PGBIN/psql" -X -Atq -v ON_ERROR_STOP=1 -d "$owner" <<'SQL'
DO $$
DECLARE
    l record;
BEGIN
    FOR l IN SELECT * FROM (VALUES ('bevisd', 'bevis_ingest'), ('isam', 'bevis_isam'),
                                   ('auditor', 'bevis_auditor')) AS v(login, grp) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = l.login) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE',
                           l.login);
        END IF;
        EXECUTE format('GRANT %I TO %I', l.grp, l.login);
    END LOOP;
END
$$;
SQL
isam="$sock user=isam"

# CURVE keys: the server's, and the demo supplier's, registered once (by the
# ISAM login, as bevis_supplier_add() demands).
if [ ! -f "$var/keys/server.key" ]; then
	"$build/bevis" keygen --curve "$var/keys" --name server >/dev/null
	"$build/bevis" keygen --curve "$var/keys" --name demo >/dev/null
fi
if [ "$("$PGBIN/psql" -X -Atq -d "$isam" -c \
    "SELECT count(*) FROM supplier WHERE name = 'demo' AND public_key IS NOT NULL")" = 0 ]; then
	"$build/bevis" --db "$isam" supplier add demo --key-file "$var/keys/demo.pub" >/dev/null
fi
# The servicedesk sends its monthly report like a supplier, with a key of
# its own (README: bevis send --report).
if [ ! -f "$var/keys/servicedesk.key" ]; then
	"$build/bevis" keygen --curve "$var/keys" --name servicedesk >/dev/null
fi
if [ "$("$PGBIN/psql" -X -Atq -d "$isam" -c \
    "SELECT count(*) FROM supplier WHERE name = 'servicedesk'")" = 0 ]; then
	"$build/bevis" --db "$isam" supplier add servicedesk --key-file \
	    "$var/keys/servicedesk.pub" >/dev/null
fi
# bevisd will not run as root; under root, it becomes nobody once started.
user=
[ "$(id -u)" = 0 ] && user=nobody

# The key that signs tree heads; its public half is what auditors verify with.
if [ ! -f "$var/ledger/ledger.key" ]; then
	"$build/bevis" keygen --ledger "$var/ledger" --name bevis.local/ledger >/dev/null
fi

cat > "$var/bevisd.conf" <<CONF
; written by \`make run\` for local development; see conf/bevisd.conf
[bevisd]
endpoint = tcp://127.0.0.1:7341
db = $sock user=bevisd
log_level = info
ledger_key = $var/ledger/ledger.key
curve_secret_key = $var/keys/server.key
user = $user
http_listen = 127.0.0.1:9741
state_dir = $var/state

[client]
server_key = $var/keys/server.pub
key = $var/keys/demo.key

CONF
# The shipped column map of the servicedesk's reports (conf/bevisd.conf).
sed -n '/^\[report_map servicedesk\]/,$p' "$(dirname "$0")/../conf/bevisd.conf" \
    >> "$var/bevisd.conf"

cat > "$var/env.sh" <<ENV
# source me: . var/env.sh
export PATH="$build:\$PATH"
export BEVIS_CONFIG="$var/bevisd.conf"
# bevis commands run as the ISAM login; PGUSER=auditor for read-only work.
export PGHOST="$var/pg/run" PGPORT=$port PGDATABASE=bevis PGUSER=isam
ENV
echo "dev setup: database migrated, logins bevisd, isam and auditor, suppliers 'demo' and 'servicedesk' with their CURVE keys, keys in $var/keys/ and $var/ledger/, config in $var/bevisd.conf"
