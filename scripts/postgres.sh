#!/usr/bin/env bash
# A private PostgreSQL cluster in a folder of the project.
#   postgres.sh install              install the server from apt when it is missing
#   postgres.sh start DIR PORT       initdb (once) and start a cluster in DIR on 127.0.0.1:PORT
#   postgres.sh stop DIR             stop the cluster in DIR (fast shutdown)
#   postgres.sh url PORT             print the owner's URL (DATABASE_OWNER_URL: migrations, tests' admin)
#   postgres.sh service-url PORT     print the service role's URL (DATABASE_URL of the API and worker)
# initdb and pg_ctl refuse to run as root; as root they run as the 'postgres' user.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB_NAME=modelgate
DB_USER=modelgate
# The services' login role: a member of modelgate_service, which the migrations grant only SELECT
# and INSERT on the audit tables (docs/security.md#database-roles).
SERVICE_USER=modelgate_app

pg_bin_dir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  return 1
}

cmd_install() {
  if pg_bin_dir >/dev/null; then return 0; fi
  apt_install postgresql
  pg_bin_dir >/dev/null || die "PostgreSQL was installed but initdb was not found"
}

# Runs a PostgreSQL tool as the owner of the cluster.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd_start() {
  local dir="$1" port="$2" bin
  cmd_install
  bin="$(pg_bin_dir)"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user that the postgresql package creates"
    chown postgres "$dir"
    # the postgres user must be able to reach the folder; the folder itself stays private
    local d
    d="$(dirname "$dir")"
    while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $dir"
    as_owner "$bin/initdb" -D "$dir" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
      || { cat "$dir.initdb.log" >&2; die "initdb failed in $dir (log above)"; }
    rm -f "$dir.initdb.log"
  fi
  if as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL already running in $dir"
  else
    if port_in_use "$port"; then
      die "port $port is already in use; stop what listens there or choose another port (MODELGATE_PG_PORT)"
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${MODELGATE_PG_FSYNC:-on} -c max_connections=200" start >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2 || true; die "PostgreSQL did not start in $dir (server log above)"; }
  fi
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1 \
    || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" \
    || die "could not create database $DB_NAME"
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -qtAc "
    DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'modelgate_service') THEN CREATE ROLE modelgate_service NOLOGIN; END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$SERVICE_USER') THEN CREATE ROLE $SERVICE_USER LOGIN IN ROLE modelgate_service; END IF;
    END \$\$;" >/dev/null || die "could not create the service roles"
}

cmd_stop() {
  local dir="$1" bin
  [ -f "$dir/postmaster.pid" ] || return 0
  bin="$(pg_bin_dir)" || return 0
  as_owner "$bin/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

cmd_url() { echo "postgres://$DB_USER@127.0.0.1:$1/$DB_NAME"; }
cmd_service_url() { echo "postgres://$SERVICE_USER@127.0.0.1:$1/$DB_NAME"; }

case "${1:-}" in
  install) cmd_install ;;
  start) [ $# -eq 3 ] || die "usage: postgres.sh start DIR PORT"; cmd_start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: postgres.sh stop DIR"; cmd_stop "$2" ;;
  url) [ $# -eq 2 ] || die "usage: postgres.sh url PORT"; cmd_url "$2" ;;
  service-url) [ $# -eq 2 ] || die "usage: postgres.sh service-url PORT"; cmd_service_url "$2" ;;
  *) die "usage: postgres.sh install | start DIR PORT | stop DIR | url PORT | service-url PORT" ;;
esac
