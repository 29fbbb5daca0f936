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

# CURVE keys: the server's, and the demo supplier's, registered once.
if [ ! -f "$var/keys/server.key" ]; then
	"$build/bevis" keygen --curve "$var/keys" --name server >/dev/null
	"$build/bevis" keygen --curve "$var/keys" --name demo >/dev/null
fi
if [ "$("$PGBIN/psql" -Atq -d "$conninfo" -c \
    "SELECT count(*) FROM supplier WHERE name = 'demo' AND public_key IS NOT NULL")" = 0 ]; then
	"$PGBIN/psql" -Atq -d "$conninfo" -c \
	    "INSERT INTO supplier (name) VALUES ('demo') ON CONFLICT (name) DO NOTHING"
	"$build/bevis" --db "$conninfo" supplier add demo --key-file "$var/keys/demo.pub" >/dev/null
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
db = $conninfo
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

cat > "$var/env.sh" <<ENV
# source me: . var/env.sh
export PATH="$build:\$PATH"
export BEVIS_CONFIG="$var/bevisd.conf"
export PGHOST="$var/pg/run" PGPORT=$port PGDATABASE=bevis PGUSER=postgres
ENV
echo "dev setup: database migrated, supplier 'demo' with its CURVE key, keys in $var/keys/ and $var/ledger/, config in $var/bevisd.conf"
