#!/bin/sh
# devsetup.sh BUILD VAR PORT - migrates the `make run` database, adds the demo
# supplier, and writes VAR/bevisd.conf and VAR/env.sh.
set -eu
build=$(cd "$1" && pwd)
var=$(cd "$2" && pwd)
port=$3
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
conninfo="host=$var/pg/run port=$port dbname=bevis user=postgres"

"$build/bevis" --db "$conninfo" migrate
"$PGBIN/psql" -Atq -d "$conninfo" -c \
    "INSERT INTO supplier (name) VALUES ('demo') ON CONFLICT (name) DO NOTHING"

# The key that signs tree heads; its public half is what auditors verify with.
if [ ! -f "$var/ledger/ledger.key" ]; then
	"$build/bevis" keygen --ledger "$var/ledger" --name bevis.local/ledger >/dev/null
fi

cat > "$var/bevisd.conf" <<CONF
; written by \`make run\` for local development; see conf/bevisd.conf
[bevisd]
endpoint = tcp://127.0.0.1:7341
db = $conninfo
log_level = info
ledger_key = $var/ledger/ledger.key
CONF

cat > "$var/env.sh" <<ENV
# source me: . var/env.sh
export PATH="$build:\$PATH"
export BEVIS_CONFIG="$var/bevisd.conf"
export PGHOST="$var/pg/run" PGPORT=$port PGDATABASE=bevis PGUSER=postgres
ENV
echo "dev setup: database migrated, supplier 'demo' present, ledger key in $var/ledger/, config in $var/bevisd.conf"
