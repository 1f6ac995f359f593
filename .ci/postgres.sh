# shellcheck shell=bash
# Start a throw-away PostgreSQL server for the storage tests and export its URL.
#
#   apt-get install -y postgresql      # once, on a fresh Debian/Ubuntu machine
#   source .ci/postgres.sh             # from .ci/run, before pytest
#
# Exports FUSIONSCOPE_TEST_POSTGRES_URL=postgresql+psycopg2://fusionscope:<pw>@127.0.0.1:<port>/fusionscope
# (tests/trials/test_postgres.py skips without it) and prints it with the password masked.
#
# As root: a dedicated cluster "fusionscope" of the newest installed major version, managed by
# Debian's postgresql-common (pg_createcluster / pg_ctlcluster), so the distribution's "main"
# cluster is left alone.  As any other user: initdb + pg_ctl in $FUSIONSCOPE_PG_DIR
# (default /tmp/fusionscope-pg-$UID).  Either way the server listens on 127.0.0.1 only.
#
# Idempotent: running it again (or sourcing it twice) reuses the cluster, the role, the
# database and the password.  It is meant to be sourced, so it never calls `exit` and never
# sets shell options in the caller; on failure it prints why and returns non-zero.
#
# Knobs: FUSIONSCOPE_PG_PORT (default 55432), FUSIONSCOPE_PG_PASSWORD (default: generated
# once and kept beside the data directory), FUSIONSCOPE_PG_DIR (non-root only).

_fs_pg_log() { echo "postgres.sh: $*" >&2; }

_fs_pg_bindir() {
    local version
    version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ] || [ ! -x "/usr/lib/postgresql/$version/bin/initdb" ]; then
        _fs_pg_log "no PostgreSQL server found under /usr/lib/postgresql (apt-get install -y postgresql)"
        return 1
    fi
    echo "$version"
}

_fs_pg_password() {  # $1: file that keeps the password between runs
    local file=$1 pw
    if [ -n "${FUSIONSCOPE_PG_PASSWORD:-}" ]; then
        pw=$FUSIONSCOPE_PG_PASSWORD
    elif [ -s "$file" ]; then
        pw=$(cat "$file")
    else
        pw="fs$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"  # hex: safe inside a URL
    fi
    (umask 077 && printf '%s' "$pw" > "$file") || return 1
    echo "$pw"
}

_fs_pg_wait() {  # $1: bindir, $2: port
    local i
    for i in $(seq 1 60); do
        "$1/pg_isready" -q -h 127.0.0.1 -p "$2" && return 0
        sleep 0.5
    done
    _fs_pg_log "the server on 127.0.0.1:$2 did not become ready in 30 s"
    return 1
}

_fs_pg_sql() {  # $1: password; then the psql command prefix; reads nothing else
    local pw=$1
    shift
    # Role and database, created only if missing; the password is (re)set every time.
    "$@" -v ON_ERROR_STOP=1 -q -X -d postgres -v pw="$pw" <<'SQL' || return 1
SELECT 'CREATE ROLE fusionscope LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fusionscope')
\gexec
ALTER ROLE fusionscope WITH LOGIN CREATEDB PASSWORD :'pw';  -- CREATEDB: tests make throw-away databases
SELECT 'CREATE DATABASE fusionscope OWNER fusionscope' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'fusionscope')
\gexec
SQL
}

_fs_pg_root() {  # Debian's cluster tools, cluster "fusionscope"
    local version=$1 port=$2 bindir="/usr/lib/postgresql/$1/bin" cluster=fusionscope pw existing
    existing=$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')
    if [ -z "$existing" ]; then
        pg_createcluster "$version" "$cluster" -p "$port" --locale=C.UTF-8 -e UTF8 >/dev/null || { _fs_pg_log "pg_createcluster failed"; return 1; }
    elif [ "$existing" != "$port" ]; then
        port=$existing
        _fs_pg_log "cluster $version/$cluster exists on port $port; using that"
    fi
    # conf.d rather than pg_conftool / pg_createcluster -o, which write 127.0.0.1 unquoted (a syntax error)
    printf "listen_addresses = '127.0.0.1'\n" > "/etc/postgresql/$version/$cluster/conf.d/fusionscope.conf" || return 1
    if ! pg_ctlcluster "$version" "$cluster" status >/dev/null 2>&1; then
        pg_ctlcluster "$version" "$cluster" start || { _fs_pg_log "pg_ctlcluster start failed; see /var/log/postgresql/postgresql-$version-$cluster.log"; return 1; }
    fi
    _fs_pg_wait "$bindir" "$port" || return 1
    pw=$(_fs_pg_password "/var/lib/postgresql/$version/$cluster.password") || return 1
    _fs_pg_sql "$pw" runuser -u postgres -- "$bindir/psql" -p "$port" || { _fs_pg_log "creating role/database failed"; return 1; }
    _FS_PG_PORT=$port
    _FS_PG_PW=$pw
}

_fs_pg_user() {  # plain initdb + pg_ctl in a directory of our own
    local version=$1 port=$2 bindir="/usr/lib/postgresql/$1/bin" dir pw
    dir=${FUSIONSCOPE_PG_DIR:-/tmp/fusionscope-pg-$(id -u)}
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir" && chmod 700 "$dir" || return 1
        "$bindir/initdb" -D "$dir/data" -U postgres --locale=C.UTF-8 -E UTF8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
            || { _fs_pg_log "initdb failed; see $dir/initdb.log"; return 1; }
    fi
    if ! "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir" start >/dev/null \
            || { _fs_pg_log "pg_ctl start failed; see $dir/server.log"; return 1; }
    fi
    port=$(sed -n 4p "$dir/data/postmaster.pid")  # the port the running server really uses
    _fs_pg_wait "$bindir" "$port" || return 1
    pw=$(_fs_pg_password "$dir/password") || return 1
    _fs_pg_sql "$pw" "$bindir/psql" -h "$dir" -p "$port" -U postgres || { _fs_pg_log "creating role/database failed"; return 1; }
    _FS_PG_PORT=$port
    _FS_PG_PW=$pw
}

_fs_pg_main() {
    local version port=${FUSIONSCOPE_PG_PORT:-55432}
    version=$(_fs_pg_bindir) || return 1
    if [ "$(id -u)" = 0 ]; then
        _fs_pg_root "$version" "$port" || return 1
    else
        _fs_pg_user "$version" "$port" || return 1
    fi
    export FUSIONSCOPE_TEST_POSTGRES_URL="postgresql+psycopg2://fusionscope:${_FS_PG_PW}@127.0.0.1:${_FS_PG_PORT}/fusionscope"
    echo "FUSIONSCOPE_TEST_POSTGRES_URL=postgresql+psycopg2://fusionscope:***@127.0.0.1:${_FS_PG_PORT}/fusionscope (PostgreSQL $version)"
}

_fs_pg_main
_fs_pg_status=$?
unset -f _fs_pg_log _fs_pg_bindir _fs_pg_password _fs_pg_wait _fs_pg_sql _fs_pg_root _fs_pg_user _fs_pg_main
unset _FS_PG_PORT _FS_PG_PW
# `return` when sourced; when run as a script, `return` fails and the `exit` fallback ends it.
return "$_fs_pg_status" 2>/dev/null || exit "$_fs_pg_status"
