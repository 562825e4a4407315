#!/usr/bin/env bash
# Real Apache Kafka (KRaft), Elasticsearch and PostgreSQL on loopback for the distributed tests.
#
#   scripts/services.sh start [kafka|es|pg ...]   obtain (cached) and start, wait until they answer
#   scripts/services.sh stop  [kafka|es|pg ...]   graceful stop (SIGTERM / pg_ctl -m fast)
#   scripts/services.sh kill  [kafka|es|pg ...]   SIGKILL (crash tests)
#   scripts/services.sh status                    one line per service
#   scripts/services.sh clean                     stop all and delete their data (keeps downloads)
#
# Everything lives under ./.cache/services (git-ignored): m2/ (Maven local repository holding the
# Kafka jars and the Elasticsearch zip), dist/ (unpacked Elasticsearch), run/ (config, data, logs,
# pid files) and env (SOC_TEST_KAFKA, SOC_TEST_ES, SOC_TEST_PG for tests/distributed; mode 600,
# holds the generated PostgreSQL password, never printed).
#
# Versions (see scripts/services/README.md for why):
#   Kafka          org.apache.kafka:kafka_2.13:4.1.1 + runtime deps, runs on Java 17+
#   Elasticsearch  org.elasticsearch.distribution.integ-test-zip:elasticsearch:9.5.4:zip, needs Java 21+
#                  (matches the Python client elasticsearch==9.5.1); a JDK >= 21 is looked up in
#                  SOC_ES_JAVA_HOME, ES_JAVA_HOME, /usr/lib/jvm/*, /opt/*
#   PostgreSQL     the Debian server package (15 on Debian 12); installed with apt if missing
# Ports (override by env): SOC_KAFKA_PORT=19092 SOC_KAFKA_CONTROLLER_PORT=19093 SOC_ES_PORT=19200
#   SOC_ES_TRANSPORT_PORT=19300 SOC_PG_PORT=15432. When run as root, services run as the
#   unprivileged user SOC_SERVICES_USER (default socsvc, created if missing): ES and initdb refuse root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SOC_SERVICES_CACHE:-$ROOT/.cache/services}
RUN=$CACHE/run
M2=$CACHE/m2
DIST=$CACHE/dist
ENV_FILE=$CACHE/env

KAFKA_VERSION=${SOC_KAFKA_VERSION:-4.1.1}
LOG4J_VERSION=${SOC_LOG4J_VERSION:-2.24.3}
ES_VERSION=${SOC_ES_VERSION:-9.5.4}
KAFKA_PORT=${SOC_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${SOC_KAFKA_CONTROLLER_PORT:-19093}
ES_PORT=${SOC_ES_PORT:-19200}
ES_TRANSPORT_PORT=${SOC_ES_TRANSPORT_PORT:-19300}
PG_PORT=${SOC_PG_PORT:-15432}
SVC_USER=${SOC_SERVICES_USER:-socsvc}
WAIT_SECONDS=${SOC_SERVICES_WAIT:-120}
ALL_SERVICES=(es kafka pg)
LAUNCH_PID=

log() { printf '%s\n' "$*" >&2; }
die() { log "services.sh: $*"; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the service user (a no-op wrapper when not root).
as_svc() {
    if is_root; then runuser -u "$SVC_USER" -- "$@"; else "$@"; fi
}

ensure_user() {
    is_root || return 0
    if ! id -u "$SVC_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
    fi
    mkdir -p "$RUN"
    if ! runuser -u "$SVC_USER" -- test -x "$RUN"; then
        die "user $SVC_USER cannot reach $RUN (a parent directory is not world-searchable); set SOC_SERVICES_CACHE to e.g. /var/tmp/soc-services"
    fi
}

own() {  # give service-owned directories to the service user
    if is_root; then chown -R "$SVC_USER": "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {  # pid_alive PIDFILE MARKER: the pid in PIDFILE runs a command line containing MARKER
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

mvn_get() { mvn -q -B -Dmaven.repo.local="$M2" "$@"; }

java_major() {  # java_major JAVA_BIN -> e.g. 17
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------------------------------- Kafka
KAFKA_DIR=$RUN/kafka
KAFKA_CP=$CACHE/kafka-$KAFKA_VERSION.classpath
KAFKA_MARKER="soc.services=kafka"

kafka_java() {
    if [[ -n ${SOC_KAFKA_JAVA_HOME:-} ]]; then echo "$SOC_KAFKA_JAVA_HOME/bin/java"; else command -v java || die "java not found (Kafka needs Java 17+)"; fi
}

kafka_fetch() {
    if [[ -s $KAFKA_CP ]] && tr ':' '\n' <"$KAFKA_CP" | while read -r jar; do [[ -f $jar ]] || exit 1; done; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka from Maven Central)"
    log "kafka: fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies"
    local pomdir=$CACHE/kafka-pom
    mkdir -p "$pomdir"
    cat >"$pomdir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.soc</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    mvn_get -f "$pomdir/pom.xml" dependency:build-classpath -Dmdep.includeScope=runtime \
        -Dmdep.outputFile="$KAFKA_CP.tmp" >"$CACHE/mvn-kafka.log" 2>&1 \
        || die "kafka: Maven download failed, see $CACHE/mvn-kafka.log"
    mv "$KAFKA_CP.tmp" "$KAFKA_CP"
}

kafka_configure() {
    mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
    cat >"$KAFKA_DIR/server.properties" <<EOF
# generated by scripts/services.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
    cat >"$KAFKA_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_DIR/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
    own "$KAFKA_DIR"
    if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
        local java cluster_id
        java=$(kafka_java)
        cluster_id=$(as_svc "$java" -cp "$(<"$KAFKA_CP")" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
        as_svc "$java" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$(<"$KAFKA_CP")" \
            kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
            >"$KAFKA_DIR/logs/format.log" 2>&1 || die "kafka: storage format failed, see $KAFKA_DIR/logs/format.log"
    fi
}

kafka_running() { pid_alive "$KAFKA_DIR/kafka.pid" "$KAFKA_MARKER"; }

kafka_launch() {
    if kafka_running; then return 0; fi
    port_open "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is in use by another process"
    kafka_fetch
    kafka_configure
    local java
    java=$(kafka_java)
    # The child writes its own pid, then execs the JVM (so the pid file names the broker itself).
    as_svc setsid sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$KAFKA_DIR/kafka.pid" \
        "$java" -D"$KAFKA_MARKER" -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$(<"$KAFKA_CP")" \
        kafka.Kafka "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/logs/stdout.log" 2>&1 </dev/null &
    LAUNCH_PID=$!
}

kafka_ready() {
    port_open "$KAFKA_PORT" || return 1
    local py=${SOC_PYTHON:-$ROOT/.venv/bin/python}
    if [[ -x $py ]] && "$py" -c 'import kafka' 2>/dev/null; then
        "$py" - "127.0.0.1:$KAFKA_PORT" <<'EOF' >/dev/null 2>&1
import sys
from kafka import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=3000)
try:
    assert admin.describe_cluster()["brokers"]
finally:
    admin.close()
EOF
    else
        grep -q "Kafka Server started" "$KAFKA_DIR/logs/server.log" 2>/dev/null
    fi
}

# ---------------------------------------------------------------------------------- Elasticsearch
ES_DIR=$RUN/es
ES_HOME=$DIST/elasticsearch-$ES_VERSION
ES_ZIP=$M2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip

es_java_home() {
    local cand major
    for cand in ${SOC_ES_JAVA_HOME:-} ${ES_JAVA_HOME:-} /usr/lib/jvm/* /opt/*; do
        [[ -x $cand/bin/java ]] || continue
        major=$(java_major "$cand/bin/java")
        if [[ -n $major && $major -ge 21 ]]; then echo "$cand"; return 0; fi
    done
    die "es: Elasticsearch $ES_VERSION needs Java 21+ and none was found in SOC_ES_JAVA_HOME, ES_JAVA_HOME, /usr/lib/jvm, /opt (install e.g. Temurin 21 or 25 and set SOC_ES_JAVA_HOME)"
}

es_fetch() {
    [[ -x $ES_HOME/bin/elasticsearch ]] && return 0
    if [[ ! -s $ES_ZIP ]]; then
        command -v mvn >/dev/null || die "mvn not found (needed once to fetch Elasticsearch from Maven Central)"
        log "es: fetching org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
        mvn_get dependency:get -Dtransitive=false \
            -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
            >"$CACHE/mvn-es.log" 2>&1 || die "es: Maven download failed, see $CACHE/mvn-es.log"
    fi
    command -v unzip >/dev/null || die "unzip not found (apt-get install -y unzip)"
    rm -rf "$DIST/.es-unpack"
    mkdir -p "$DIST/.es-unpack"
    unzip -q "$ES_ZIP" -d "$DIST/.es-unpack"
    mv "$DIST/.es-unpack/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$DIST/.es-unpack"
    chmod -R a+rX "$ES_HOME"
}

es_configure() {
    mkdir -p "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"
    if [[ ! -f $ES_DIR/config/jvm.options ]]; then
        rm -rf "$ES_DIR/config"
        cp -r "$ES_HOME/config" "$ES_DIR/config"
    fi
    cat >"$ES_DIR/config/elasticsearch.yml" <<EOF
# generated by scripts/services.sh
cluster.name: soc-test
node.name: soc-test-1
path.data: $ES_DIR/data
path.logs: $ES_DIR/logs
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
discovery.type: single-node
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
EOF
    own "$ES_DIR"
}

es_running() { pid_alive "$ES_DIR/es.pid" "org.elasticsearch"; }

es_launch() {
    if es_running; then return 0; fi
    port_open "$ES_PORT" && die "es: port $ES_PORT is in use by another process"
    es_fetch
    es_configure
    local jhome
    jhome=$(es_java_home)
    rm -f "$ES_DIR/es.pid"
    # -d daemonises; the launcher writes the server pid to es.pid.
    as_svc env ES_JAVA_HOME="$jhome" ES_PATH_CONF="$ES_DIR/config" ES_TMPDIR="$ES_DIR/tmp" \
        ES_JAVA_OPTS="${SOC_ES_JAVA_OPTS:--Xms512m -Xmx512m}" \
        "$ES_HOME/bin/elasticsearch" -d -p "$ES_DIR/es.pid" >"$ES_DIR/logs/launcher.log" 2>&1 </dev/null &
    LAUNCH_PID=$!
}

es_ready() {
    curl -fs -o /dev/null -m 3 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"
}

# ------------------------------------------------------------------------------------- PostgreSQL
PG_DIR=$RUN/pg
PG_PASS_FILE=$CACHE/pg.password

pg_bin() {
    local d
    if [[ -n ${SOC_PG_BIN:-} ]]; then echo "$SOC_PG_BIN"; return 0; fi
    d=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
    if [[ -n $d && -x $d/pg_ctl ]]; then echo "$d"; return 0; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then dirname "$(command -v pg_ctl)"; return 0; fi
    return 1
}

pg_install() {
    pg_bin >/dev/null && return 0
    is_root || die "pg: PostgreSQL server binaries not found; apt-get install -y postgresql (or set SOC_PG_BIN)"
    log "pg: installing the Debian postgresql package"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
        || die "pg: apt-get install postgresql failed"
}

pg_password() {
    if [[ ! -s $PG_PASS_FILE ]]; then
        (umask 077; od -An -tx1 -N18 /dev/urandom | tr -d ' \n' >"$PG_PASS_FILE")
    fi
    cat "$PG_PASS_FILE"
}

pg_running() { pid_alive "$PG_DIR/postmaster.pid.copy" "postgres"; }

pg_launch() {
    if pg_running; then return 0; fi
    port_open "$PG_PORT" && die "pg: port $PG_PORT is in use by another process"
    pg_install
    local bin
    bin=$(pg_bin)
    mkdir -p "$PG_DIR/sock" "$PG_DIR/logs"
    own "$PG_DIR"
    chmod 700 "$PG_DIR/sock"
    if [[ ! -f $PG_DIR/data/PG_VERSION ]]; then
        as_svc "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$PG_DIR/logs/initdb.log" 2>&1 || die "pg: initdb failed, see $PG_DIR/logs/initdb.log"
    fi
    # pg_ctl -w waits until the server accepts connections (or fails).
    as_svc "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/logs/postgres.log" -w -t "$WAIT_SECONDS" \
        -o "-p $PG_PORT -k $PG_DIR/sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
        start >"$PG_DIR/logs/pg_ctl.log" 2>&1 || die "pg: start failed, see $PG_DIR/logs/pg_ctl.log and postgres.log"
    head -1 "$PG_DIR/data/postmaster.pid" >"$PG_DIR/postmaster.pid.copy"
    local pass
    pass=$(pg_password)
    # Create/refresh the role on every start (the password always matches the env file). The
    # password reaches psql through stdin, never through a command line or a log.
    as_svc "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres -d postgres \
        >/dev/null 2>"$PG_DIR/logs/role.log" <<EOF || die "pg: creating role soc failed, see $PG_DIR/logs/role.log"
\set pass '$pass'
SELECT 'CREATE ROLE soc LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'soc') \gexec
SELECT format('ALTER ROLE soc PASSWORD %L', :'pass') \gexec
EOF
}

pg_ready() {
    local bin
    bin=$(pg_bin) || return 1
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

# ------------------------------------------------------------------------------------- commands
svc_running() { "${1}_running"; }

declare -A LAUNCHER=()
launcher_alive() { [[ -n ${LAUNCHER[$1]:-} && -e /proc/${LAUNCHER[$1]} ]]; }

write_env() {
    local pass
    pass=$(pg_password)
    (umask 077
     cat >"$ENV_FILE.tmp" <<EOF
SOC_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
SOC_TEST_ES=http://127.0.0.1:$ES_PORT
SOC_TEST_PG=postgresql+psycopg://soc:$pass@127.0.0.1:$PG_PORT/postgres
EOF
    )
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

describe() {
    case $1 in
        kafka) echo "kafka $KAFKA_VERSION (KRaft) 127.0.0.1:$KAFKA_PORT" ;;
        es) echo "elasticsearch $ES_VERSION http://127.0.0.1:$ES_PORT" ;;
        pg) echo "postgresql $("$(pg_bin)/postgres" --version 2>/dev/null | awk '{print $3}') 127.0.0.1:$PG_PORT" ;;
    esac
}

svc_pid() {
    case $1 in
        kafka) cat "$KAFKA_DIR/kafka.pid" 2>/dev/null ;;
        es) cat "$ES_DIR/es.pid" 2>/dev/null ;;
        pg) cat "$PG_DIR/postmaster.pid.copy" 2>/dev/null ;;
    esac
}

cmd_start() {
    local svc t0 deadline pending=()
    t0=$SECONDS
    mkdir -p "$CACHE" "$RUN" "$M2" "$DIST"
    ensure_user
    for svc in "$@"; do  # downloads first (sequential: one Maven repository)
        case $svc in kafka) kafka_running || kafka_fetch ;; es) es_running || es_fetch ;; pg) pg_running || pg_install ;; esac
    done
    for svc in "$@"; do  # then launch, slowest first (callers pass es before kafka before pg)
        "${svc}_launch"
        LAUNCHER[$svc]=${LAUNCH_PID:-}
        LAUNCH_PID=
        pending+=("$svc")
    done
    write_env
    deadline=$((SECONDS + WAIT_SECONDS))
    while ((${#pending[@]})); do
        local still=()
        for svc in "${pending[@]}"; do
            if "${svc}_ready"; then
                echo "$svc: up  $(describe "$svc")  pid $(svc_pid "$svc")  ($((SECONDS - t0))s)"
            elif svc_running "$svc" || launcher_alive "$svc"; then
                still+=("$svc")
            else
                die "$svc: exited during start-up; see the logs under $RUN/$svc/logs"
            fi
        done
        pending=("${still[@]+"${still[@]}"}")
        if ((${#pending[@]})); then
            ((SECONDS < deadline)) || die "timed out after ${WAIT_SECONDS}s waiting for: ${pending[*]} (logs under $RUN)"
            sleep 0.5
        fi
    done
    echo "env: $ENV_FILE"
}

wait_gone() {  # wait_gone PID SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -e /proc/$1 ]] || return 0
        sleep 0.1
    done
    return 1
}

cmd_stop() {
    local sig=$1 svc pid
    shift
    for svc in "$@"; do
        if ! svc_running "$svc"; then
            echo "$svc: not running"
            continue
        fi
        pid=$(svc_pid "$svc")
        if [[ $svc == pg && $sig == TERM ]]; then
            as_svc "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true
        elif [[ $sig == KILL && $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]]; then
            kill -KILL -- "-$pid" 2>/dev/null || true  # the service's own process group (pg backends)
        else
            kill "-$sig" "$pid" 2>/dev/null || true
        fi
        if ! wait_gone "$pid" 60; then
            log "$svc: still alive after 60s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || true
        fi
        echo "$svc: stopped"
    done
}

cmd_status() {
    local svc rc=0
    for svc in "${ALL_SERVICES[@]}"; do
        if svc_running "$svc" && "${svc}_ready"; then
            echo "$svc: up  $(describe "$svc")  pid $(svc_pid "$svc")"
        elif svc_running "$svc"; then
            echo "$svc: starting/unhealthy  $(describe "$svc")  pid $(svc_pid "$svc")"
            rc=1
        else
            echo "$svc: stopped"
            rc=1
        fi
    done
    return $rc
}

services_from_args() {  # normalised names, in the order es kafka pg (slowest start first)
    local s want=" "
    (($# == 0)) && set -- "${ALL_SERVICES[@]}"
    for s in "$@"; do
        case $s in
            kafka) want+="kafka " ;;
            es | elasticsearch) want+="es " ;;
            pg | postgres | postgresql) want+="pg " ;;
            *) die "unknown service '$s' (kafka, es, pg)" ;;
        esac
    done
    for s in "${ALL_SERVICES[@]}"; do
        [[ $want == *" $s "* ]] && echo "$s"
    done
    return 0
}

main() {
    local cmd=${1:-}
    (($#)) && shift
    local svcs list
    case $cmd in
        start)
            list=$(services_from_args "$@") || exit 2
            read -r -a svcs <<<"$(tr '\n' ' ' <<<"$list")"
            cmd_start "${svcs[@]}"
            ;;
        stop)
            list=$(services_from_args "$@") || exit 2
            read -r -a svcs <<<"$(tr '\n' ' ' <<<"$list")"
            cmd_stop TERM "${svcs[@]}"
            ;;
        kill)
            list=$(services_from_args "$@") || exit 2
            read -r -a svcs <<<"$(tr '\n' ' ' <<<"$list")"
            cmd_stop KILL "${svcs[@]}"
            ;;
        restart)
            list=$(services_from_args "$@") || exit 2
            read -r -a svcs <<<"$(tr '\n' ' ' <<<"$list")"
            cmd_stop TERM "${svcs[@]}"
            cmd_start "${svcs[@]}"
            ;;
        status) cmd_status ;;
        clean)
            cmd_stop TERM "${ALL_SERVICES[@]}"
            rm -rf "$RUN" "$ENV_FILE" "$PG_PASS_FILE"
            echo "removed $RUN"
            ;;
        *)
            log "usage: $0 start|stop|kill|restart [kafka|es|pg ...] | status | clean"
            exit 2
            ;;
    esac
}

main "$@"
