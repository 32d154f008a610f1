#!/usr/bin/env bash
# PostgreSQL's own CPU time and statements per send, for builds side by side.
#
#   benches/pg_cpu.sh [--writers 1] [--servers 1] [-n 2000] [--rounds 3] [--env K=V]... BIN [BIN ...]
#
# Starts a throw-away PostgreSQL 15 (as root, like .ci/postgres) with
# pg_stat_statements loaded, then for each round runs benches/writers.py once
# per binary, alternating, each on a fresh database, and prints per run: the
# sends per second, PostgreSQL's CPU time per send (every backend's user and
# system time, from /proc: the postmaster's reaped children and the live
# ones, so backends that exit are counted too; the drain after the burst is
# included) and the statements per send pg_stat_statements saw (each
# statement of a multi-statement simple query counts). CPU time is steadier
# than rates on a shared machine; compare builds within one invocation.
# With PG_CPU_TOP=N it also prints each run's N most frequent statements
# (calls per send, mean execution µs, plans per call and mean planning µs), to
# see which ones a change removed and which are planned on every call; it
# turns on pg_stat_statements.track_planning, which costs a little itself.
set -euo pipefail
writers=1 servers=1 n=2000 rounds=3 bins=() envs=()
while [ $# -gt 0 ]; do
    case "$1" in
    --writers) writers=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --env) envs+=(--env "$2"); shift 2 ;;
    *) bins+=("$1"); shift ;;
    esac
done
[ ${#bins[@]} -gt 0 ] || { echo "usage: $0 [--writers W] [--servers S] [-n N] [--rounds R] BIN..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d /tmp/mcp-bridge-pgcpu.XXXXXX)
chown postgres:postgres "$dir"
trap 'su postgres -c "$pgbin/pg_ctl -D $dir/data -m fast stop" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
su postgres -c "$pgbin/initdb -D $dir/data -A trust -U postgres" >/dev/null
planning=off
[ "${PG_CPU_TOP:-0}" -gt 0 ] && planning=on
su postgres -c "$pgbin/pg_ctl -D $dir/data -l $dir/log -w start -o '-k $dir -p $port \
    -c listen_addresses=127.0.0.1 -c max_connections=300 \
    -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
    -c pg_stat_statements.track_planning=$planning'" >/dev/null
admin="postgresql://postgres@127.0.0.1:$port/postgres"
psql -q "$admin" -c "CREATE EXTENSION pg_stat_statements"
postmaster=$(head -1 "$dir/data/postmaster.pid")

# Seconds of CPU every PostgreSQL process has used so far.
pg_cpu() {
    python3 - "$postmaster" <<'PY'
import os, sys
pm = sys.argv[1]
def stat(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
s = stat(pm)
ticks = sum(int(x) for x in s[11:15])  # its own and its reaped children's
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != pm:
        try:
            s = stat(pid)
        except OSError:
            continue
        if s[1] == pm:
            ticks += int(s[11]) + int(s[12])
print(ticks / os.sysconf("SC_CLK_TCK"))
PY
}

sends=$((writers * n))
for round in $(seq "$rounds"); do
    for bin in "${bins[@]}"; do
        db="b$round$RANDOM"
        psql -q "$admin" -c "CREATE DATABASE $db"
        psql -q "$admin" -c "SELECT pg_stat_statements_reset()" >/dev/null
        before=$(pg_cpu)
        rate=$(python3 "$here/writers.py" --db "postgresql://postgres@127.0.0.1:$port/$db" \
            --writers "$writers" --servers "$servers" -n "$n" --bin "$bin" ${envs[@]+"${envs[@]}"} |
            python3 -c 'import json, sys; r = json.load(sys.stdin); assert not (r["lost"] or r["duplicated"] or r["failures"]), r; print(r["sends_per_s"])')
        sleep 1
        after=$(pg_cpu)
        statements=$(psql -At "$admin" -c "SELECT sum(calls) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'")
        python3 -c "print(f'{\"$bin\"}: {$rate} sends/s, PostgreSQL CPU {($after - $before) * 1e6 / $sends:.0f} µs/send, {$statements / $sends:.2f} statements/send')"
        if [ "${PG_CPU_TOP:-0}" -gt 0 ]; then
            psql -At -F ' | ' "$admin" -c "SELECT round(calls::numeric / $sends, 2), round(mean_exec_time::numeric * 1000),
                round(plans::numeric / greatest(calls, 1), 2), round(mean_plan_time::numeric * 1000), regexp_replace(left(query, 110), '\s+', ' ', 'g')
                FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
                ORDER BY calls DESC LIMIT ${PG_CPU_TOP}" | sed 's/^/    /'
        fi
    done
done
