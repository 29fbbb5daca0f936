#!/bin/sh
# pgctl.sh start|stop DIR PORT
# A private PostgreSQL cluster in DIR/data, listening only on a Unix socket in
# DIR/run, with a database named bevis. As root, PostgreSQL runs as the
# postgres user, since it refuses to run as root.
set -eu
cmd=$1
dir=$2
port=$3
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $cmd in
start)
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	# bevisd, running as another user, reaches the socket through here.
	chmod 0755 "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust \
		    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		    { cat "$dir/initdb.log"; exit 1; }
	fi
	as_pg mkdir -p "$dir/run"
	if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -l "$dir/postgres.log" \
		    -o "-k $dir/run -p $port -c listen_addresses=''" start >/dev/null ||
		    { tail -20 "$dir/postgres.log"; exit 1; }
	fi
	if ! "$PGBIN/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -Atq \
	    -c "SELECT 1 FROM pg_database WHERE datname = 'bevis'" | grep -q 1; then
		"$PGBIN/createdb" -h "$dir/run" -p "$port" -U postgres bevis
	fi
	echo "postgresql: running in $dir (socket $dir/run, port $port)"
	;;
stop)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
*)
	echo "usage: pgctl.sh start|stop DIR PORT" >&2
	exit 2
	;;
esac
