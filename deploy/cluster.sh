#!/usr/bin/env bash
# A real Airflow on one machine for tongban: api-server, scheduler, dag-processor, triggerer and
# one Celery worker, against the local PostgreSQL (metadata DB and tongban store, two databases
# of their own) and Redis (Celery broker), pulling the sandbox's systems; with the sandbox it
# starts, also the bus's gateway (tongban gateway, HTTPS with the sandbox's certificate) that
# the sandbox pushes to (tongban sandbox push).
#
#   deploy/cluster.sh up      start everything (idempotent: running parts are left alone)
#   deploy/cluster.sh down    stop everything this script started (and the sandbox)
#   deploy/cluster.sh env     print the environment file every component sources
#
# Settings (environment): TONGBAN_CLUSTER_DIR (default ./.tongban/cluster), TONGBAN_PG
# (postgresql+psycopg://postgres@127.0.0.1:5432), TONGBAN_REDIS (redis://127.0.0.1:6379/7),
# TONGBAN_CLUSTER_PORT (api-server, 28080), TONGBAN_AIRFLOW_DB and TONGBAN_STORE_DB (the two
# database names, tongban_airflow and tongban_store), TONGBAN_CELERY_QUEUE (the Celery queue the
# tasks go to and the worker consumes, tongban: two clusters on one Redis DB keep apart by it),
# TONGBAN_SYNC_SCHEDULE (@hourly; none: triggered runs only), TONGBAN_GATEWAY_PORT (28443).
# With TONGBAN_PARTNERS already set the sandbox is not started (nor the gateway): the registry
# and the partners' secrets in the environment are used as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${TONGBAN_BIN:-$ROOT/.venv/bin}
DIR=${TONGBAN_CLUSTER_DIR:-$ROOT/.tongban/cluster}
PG=${TONGBAN_PG:-postgresql+psycopg://postgres@127.0.0.1:5432}
REDIS=${TONGBAN_REDIS:-redis://127.0.0.1:6379/7}
PORT=${TONGBAN_CLUSTER_PORT:-28080}
AIRFLOW_DB=${TONGBAN_AIRFLOW_DB:-tongban_airflow}
STORE_DB=${TONGBAN_STORE_DB:-tongban_store}
QUEUE=${TONGBAN_CELERY_QUEUE:-tongban}
GATEWAY_PORT=${TONGBAN_GATEWAY_PORT:-28443}
COMPONENTS=(api-server scheduler dag-processor triggerer worker gateway)

say() { echo "cluster: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

host_port() {  # "scheme://user@host:port/..." -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  echo "${rest%%:*} ${rest##*:}"
}

free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

write_env() {
  mkdir -p "$DIR"/{logs,pids,airflow,state,artifacts}
  local secrets="$DIR/secrets.env"
  if [ ! -s "$secrets" ]; then  # generated once, kept: every component must share them
    umask 077
    "$BIN/python" - >"$secrets" <<'EOF'
import secrets
from cryptography.fernet import Fernet
print(f"AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
print(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_urlsafe(64)}")
print(f"AIRFLOW__API__SECRET_KEY={secrets.token_urlsafe(32)}")
EOF
  fi
  local ports="$DIR/ports.env"
  [ -s "$ports" ] || printf 'WORKER_LOG_PORT=%s\nTRIGGERER_LOG_PORT=%s\n' "$(free_port)" "$(free_port)" >"$ports"
  # shellcheck disable=SC1090
  . "$ports"
  cat >"$DIR/cluster.env" <<EOF
# Every Airflow component (api-server, scheduler, dag-processor, triggerer, worker) sources this.
AIRFLOW_HOME=$DIR/airflow
AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
AIRFLOW__CORE__LOAD_EXAMPLES=False
AIRFLOW__CORE__EXECUTOR=CeleryExecutor
AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$PORT/execution/
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$PG/$AIRFLOW_DB
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=$PG/$AIRFLOW_DB
AIRFLOW__CELERY__BROKER_URL=$REDIS
AIRFLOW__CELERY__RESULT_BACKEND=db+$PG/$AIRFLOW_DB
AIRFLOW__OPERATORS__DEFAULT_QUEUE=$QUEUE
AIRFLOW__CELERY__WORKER_CONCURRENCY=${TONGBAN_WORKER_CONCURRENCY:-4}
AIRFLOW__API__PORT=$PORT
AIRFLOW__API__HOST=127.0.0.1
AIRFLOW__API__BASE_URL=http://127.0.0.1:$PORT
AIRFLOW__API__WORKERS=1
AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$WORKER_LOG_PORT
AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=$TRIGGERER_LOG_PORT
AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=2
# a task's calls to the execution API wait up to 30 s (Airflow's 5 s times out on a loaded
# one-machine cluster, and the task fails before it starts)
AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=${TONGBAN_EXECUTION_API_TIMEOUT:-30}
TONGBAN_DATABASE_URL=$PG/$STORE_DB
TONGBAN_HOME=$DIR/state
TONGBAN_ARTIFACTS=$DIR/artifacts
TONGBAN_SYNC_SCHEDULE=${TONGBAN_SYNC_SCHEDULE:-@hourly}
EOF
}

load_env() {
  set -a
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"; . "$DIR/secrets.env"
  [ -s "$DIR/sandbox.env" ] && . "$DIR/sandbox.env"
  set +a
}

create_db() {  # create database $1 on the PostgreSQL of $PG unless it exists
  "$BIN/python" - "$PG" "$1" <<'EOF'
import sys
import psycopg
url, name = sys.argv[1].replace("postgresql+psycopg://", "postgresql://"), sys.argv[2]
with psycopg.connect(url + "/postgres", autocommit=True) as c:
    if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        c.execute(f'CREATE DATABASE "{name}"')
        print(f"created database {name}")
EOF
}

running() { [ -s "$DIR/pids/$1.pid" ] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

start() {  # start component $1 with command $2... in a process group of its own
  local name=$1; shift
  if running "$name"; then say "$name already running (pid $(cat "$DIR/pids/$name.pid"))"; return; fi
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$DIR/pids/$name.pid"
  say "$name started (pid $!, log $DIR/logs/$name.log)"
}

up() {
  read -r h p <<<"$(host_port "$PG")"; port_open "$h" "$p" || { say "PostgreSQL does not answer on $h:$p"; exit 1; }
  read -r h p <<<"$(host_port "$REDIS")"; port_open "$h" "$p" || { say "Redis does not answer on $h:$p"; exit 1; }
  write_env
  local own_sandbox=; [ -z "${TONGBAN_PARTNERS:-}" ] && own_sandbox=1
  if [ -z "${TONGBAN_PARTNERS:-}" ] && [ -s "$DIR/sandbox.env" ] && \
      "$BIN/tongban" sandbox status --folder "$DIR/sandbox" >/dev/null 2>&1; then
    say "sandbox already running"
  elif [ -z "${TONGBAN_PARTNERS:-}" ]; then  # the sandbox's systems, pulled by the sync DAGs
    "$BIN/tongban" sandbox up --folder "$DIR/sandbox" --cities "${TONGBAN_CLUSTER_CITIES:-1}" \
      --counties "${TONGBAN_CLUSTER_COUNTIES:-1}" --transports "${TONGBAN_CLUSTER_TRANSPORTS:-rest,soap}" \
      --format json >"$DIR/sandbox.json"
    "$BIN/python" - "$DIR/sandbox.json" >"$DIR/sandbox.env" <<'EOF'
import json, sys
ready = json.load(open(sys.argv[1]))
print(f"TONGBAN_PARTNERS={ready['registry']}")
print(open(ready["secrets"]).read())
EOF
    say "sandbox up: registry $(grep TONGBAN_PARTNERS "$DIR/sandbox.env" | cut -d= -f2)"
  else
    : >"$DIR/sandbox.env"
  fi
  load_env
  create_db "$AIRFLOW_DB"; create_db "$STORE_DB"
  say "airflow db migrate"
  "$BIN/airflow" db migrate >"$DIR/logs/migrate.log" 2>&1 || { tail -20 "$DIR/logs/migrate.log"; exit 1; }
  "$BIN/tongban" db upgrade >/dev/null
  "$BIN/tongban" airflow sync-pools
  start api-server "$BIN/airflow" api-server --port "$PORT"
  start scheduler "$BIN/airflow" scheduler
  start dag-processor "$BIN/airflow" dag-processor
  start triggerer "$BIN/airflow" triggerer
  start worker "$BIN/airflow" celery worker --concurrency "$AIRFLOW__CELERY__WORKER_CONCURRENCY" \
    --queues "$QUEUE" --celery-hostname "$QUEUE-$PORT@%h"
  if [ -n "$own_sandbox" ]; then  # the cluster's own sandbox: its systems push to the gateway
    start gateway "$BIN/tongban" gateway --port "$GATEWAY_PORT" --tls-cert "$DIR/sandbox/tls/server.pem" \
      --tls-key "$DIR/sandbox/tls/server.key"
  fi
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1 && break; sleep 1
  done
  curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null || { say "api-server did not come up"; tail -20 "$DIR/logs/api-server.log"; exit 1; }
  if running gateway; then
    for _ in $(seq 1 60); do
      curl -fsS --cacert "$DIR/sandbox/tls/ca.pem" "https://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null 2>&1 && break; sleep 1
    done
    curl -fsS --cacert "$DIR/sandbox/tls/ca.pem" "https://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null || { say "gateway is not ready"; tail -20 "$DIR/logs/gateway.log"; exit 1; }
    say "gateway ready: https://127.0.0.1:$GATEWAY_PORT (tongban sandbox push --folder $DIR/sandbox --gateway https://127.0.0.1:$GATEWAY_PORT)"
  fi
  say "waiting for the dag-processor to parse dags/"
  for _ in $(seq 1 120); do
    n=$(curl -fsS "http://127.0.0.1:$PORT/api/v2/dags?limit=100" 2>/dev/null | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["total_entries"])' 2>/dev/null || echo 0)
    [ "$n" -ge 6 ] && break; sleep 1
  done
  say "up: UI and API http://127.0.0.1:$PORT · $n DAGs · environment: set -a; . $DIR/cluster.env; . $DIR/secrets.env; . $DIR/sandbox.env; set +a"
}

down() {
  for name in "${COMPONENTS[@]}"; do
    if running "$name"; then
      pid=$(cat "$DIR/pids/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      say "$name stopped"
    fi
    rm -f "$DIR/pids/$name.pid"
  done
  if [ -d "$DIR/sandbox" ]; then "$BIN/tongban" sandbox down --folder "$DIR/sandbox" >/dev/null 2>&1 || true; say "sandbox stopped"; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) cat "$DIR/cluster.env" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
