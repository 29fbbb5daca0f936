#!/bin/sh
# pgctl.sh start|stop DIR PORT [dev]
# A private PostgreSQL cluster in DIR/data, listening only on a Unix socket in
# DIR/run, with a database named bevis. As root, PostgreSQL runs as the
# postgres user, since it refuses to run as root.
#
# Nobody but the cluster's owner becomes the superuser (postgres): it is
# reached only through peer authentication, for the operating-system user who
# runs this script (and root and postgres). Who can reach the socket at all:
# started as a user, that user only (DIR and DIR/run are 0700); started as
# root, also nobody, the user bevisd becomes (DIR/run is 0750, group of
# nobody). Other roles:
#   dev (`make run`): peer authentication with a map: the owner may log in as
#     the logins tests/devsetup.sh creates (bevisd, isam, auditor); nobody as
#     bevisd only.
#   otherwise (the integration tests' clusters): trust, for the logins the
#     tests create; and as root, nobody may also log in as postgres, because
#     the tests' bevisd processes connect as the superuser.
# With PGCTL_TCP=1 (for tests of TCP connections) it also listens on
# 127.0.0.1:PORT, where only password (SCRAM) logins get in: the superuser has
# no password.
set -eu
cmd=$1
dir=$2
port=$3
mode=${4:-test}
PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_hba.conf and pg_ident.conf as described above, written at every start.
write_auth() {
	data=$1
	owner=$(id -un)
	{
		echo "# written by tests/pgctl.sh ($mode): see the comment there"
		echo "local all postgres peer map=superuser"
		if [ "$mode" = dev ]; then
			echo "local all all peer map=dev"
		else
			echo "local all all trust"
		fi
		echo "host all all 127.0.0.1/32 scram-sha-256"
	} | as_pg tee "$data/pg_hba.conf" >/dev/null
	{
		for u in "$owner" root postgres; do
			echo "superuser $u postgres"
		done
		if [ "$mode" = dev ]; then
			for u in "$owner" root postgres; do
				for r in bevisd isam auditor; do echo "dev $u $r"; done
			done
			[ "$(id -u)" = 0 ] && echo "dev nobody bevisd"
		else
			[ "$(id -u)" = 0 ] && echo "superuser nobody postgres"
		fi
	} | sort -u | as_pg tee "$data/pg_ident.conf" >/dev/null
}

listen=
[ "${PGCTL_TCP:-0}" = 1 ] && listen=127.0.0.1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case $cmd in
start)
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir"
		# nobody (bevisd) may pass through to DIR/run, and list nothing.
		chmod 0711 "$dir"
	else
		chmod 0700 "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=peer \
		    --auth-host=reject -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		    { cat "$dir/initdb.log"; exit 1; }
	fi
	write_auth "$dir/data"
	as_pg mkdir -p "$dir/run"
	if [ "$(id -u)" = 0 ]; then
		chgrp "$(id -gn nobody)" "$dir/run"
		chmod 0750 "$dir/run"
	else
		chmod 0700 "$dir/run"
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -w -l "$dir/postgres.log" \
		    -o "-k $dir/run -p $port -c listen_addresses='$listen'" start >/dev/null ||
		    { tail -20 "$dir/postgres.log"; exit 1; }
	else
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" reload >/dev/null
	fi
	if ! "$PGBIN/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -Atq \
	    -c "SELECT 1 FROM pg_database WHERE datname = 'bevis'" | grep -q 1; then
		"$PGBIN/createdb" -h "$dir/run" -p "$port" -U postgres bevis
	fi
	echo "postgresql: running in $dir (socket $dir/run, port $port, $mode access)"
	;;
stop)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
*)
	echo "usage: pgctl.sh start|stop DIR PORT [dev]" >&2
	exit 2
	;;
esac
