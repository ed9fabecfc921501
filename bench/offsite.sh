#!/usr/bin/env bash
# Issue 19: offsite upload of a ~300 MB dump, side by side in one run against the same S3 server
# (S3Proxy, filesystem backend, on loopback, over https as a store is reached in production, and
# over plain http, where the AWS SDK signs every chunk of the payload): a plain signed PUT of the
# file with curl --aws-sigv4,
# against `backstop offsite` (CRC32C sent up front and verified by the store, size and checksum
# read back, manifest uploaded, state recorded), without and with age encryption, its bytes sent by
# curl (offsite.uploader = auto, the default where curl is installed) and by the AWS SDK (sdk). For encryption
# the plain row is also shown as `age -r ... | curl PUT` of the encrypted bytes. Rounds alternate;
# the best of each is shown, with the upload step alone (from Backstop's log line) beside the
# command's wall time (which adds the JVM start and the bucket check). The encrypted copy, like the
# checksum, is prepared ahead while the S3 client starts: the step counts only the time it waited for
# it, and "age adds" gives all that encryption costs the command.
# Usage: bench/offsite.sh [ROUNDS]   (default 3)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
rounds="${1:-3}"
work="${BENCH_DIR:-/tmp/backstop-bench}/offsite"
port="${BENCH_PORT:-55492}"
rm -rf "$work"
mkdir -p "$work/s3/data/bench-bucket"
jar="$(ensure_jar)"
s3jar="$BENCH_ROOT/target/s3proxy/s3proxy.jar"
[ -f "$s3jar" ] || (cd "$BENCH_ROOT" && mvn -q -B -ntp generate-test-resources)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3port=$(free_port)
tlsport=$(free_port)
ak=bench-access sk=bench-secret-key
# A self-signed certificate for 127.0.0.1: S3Proxy serves it, curl and the JVM trust it for this run only.
keytool -genkeypair -alias s3proxy -keyalg EC -groupname secp256r1 -validity 2 -dname CN=127.0.0.1 \
  -ext SAN=IP:127.0.0.1 -keystore "$work/tls.p12" -storetype PKCS12 -storepass benchpass > /dev/null 2>&1
keytool -exportcert -rfc -alias s3proxy -keystore "$work/tls.p12" -storepass benchpass > "$work/tls.pem" 2> /dev/null
keytool -importcert -noprompt -alias s3proxy -file "$work/tls.pem" -keystore "$work/trust.p12" -storetype PKCS12 \
  -storepass benchpass > /dev/null 2>&1
cat > "$work/s3.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:$s3port
s3proxy.secure-endpoint=https://127.0.0.1:$tlsport
s3proxy.keystore-path=$work/tls.p12
s3proxy.keystore-password=benchpass
s3proxy.authorization=aws-v4
s3proxy.identity=$ak
s3proxy.credential=$sk
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$work/s3/data
EOF
java -Xmx512m -jar "$s3jar" --properties "$work/s3.properties" > "$work/s3.log" 2>&1 &
s3pid=$!
trap 'kill "$s3pid" 2>/dev/null || true; stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
until curl -s -o /dev/null "http://127.0.0.1:$s3port/" && curl -s -o /dev/null --cacert "$work/tls.pem" \
  "https://127.0.0.1:$tlsport/"; do sleep 0.2; done

psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c "CREATE DATABASE source"
"${psql[@]}" -d source -c "CREATE TABLE events AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) AS body,
    g % 1000 AS kind FROM generate_series(1, 3300000) g"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=source BACKSTOP_CONFIG=/dev/null
export BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_JAR="$jar" BACKSTOP_BACKUP_DIR="$work/backups"
export BACKSTOP_PG_DUMP_COMPRESS=0   # an uncompressed archive: ~300 MB of bytes to move
"$BENCH_ROOT/backstop" backup --label bench > /dev/null
dump=$(find "$work/backups/app/manual" -name 'app-*.dump' | head -1)
size=$(stat -c %s "$dump")
age-keygen -o "$work/key.txt" 2> /dev/null
recipient=$(age-keygen -y "$work/key.txt")
echo "dump: $(python3 -c "print(round($size / 1e6))") MB ($dump)"

results="$work/results.tsv"
: > "$results"
ms() { date +%s%N | cut -c1-13; }
# Every measurement starts alike: the objects the one before it stored removed (the bucket would otherwise
# grow by ~19 GB over five rounds) and their writeback finished, so that it never lands in the next one's time.
settle() {
  find "$work/s3/data/bench-bucket" -mindepth 1 -delete
  rm -f "$work/enc.age"
  sync
}
# curl's own SigV4 (no payload hash: UNSIGNED-PAYLOAD, as Backstop sends with its checksum header).
put() { # ENDPOINT FILE KEY [curl options]
  local endpoint="$1" file="$2" key="$3"
  shift 3
  curl -sS --fail -o /dev/null --cacert "$work/tls.pem" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ak:$sk" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" -T "$file" "$endpoint/bench-bucket/$key"
}
# The launcher's own flags for a one-shot command (and its class-data archive, written by a first run
# here outside the timings); this run's trust store through JAVA_TOOL_OPTIONS.
export JAVA_TOOL_OPTIONS="-Djavax.net.ssl.trustStore=$work/trust.p12 -Djavax.net.ssl.trustStorePassword=benchpass"
backstop_offsite() { # NAME ENDPOINT PREFIX [recipient] [uploader]
  local t0 t1 line
  rm -f "$work"/backups/app/offsite-*.json
  settle
  t0=$(ms)
  BACKSTOP_OFFSITE_URL="s3://bench-bucket/$3" BACKSTOP_OFFSITE_ENDPOINT="$2" \
    BACKSTOP_OFFSITE_ACCESS_KEY="$ak" BACKSTOP_OFFSITE_SECRET_KEY="$sk" BACKSTOP_AGE_RECIPIENTS="${4:-}" \
    BACKSTOP_OFFSITE_UPLOADER="${5:-auto}" \
    "$BENCH_ROOT/backstop" offsite -v > "$work/offsite.log" 2>&1
  t1=$(ms)
  line=$(grep -o 'bytes in [0-9.]* s' "$work/offsite.log" | head -1 | grep -o '[0-9.]* s' | cut -d' ' -f1)
  [ -n "$line" ] || { cat "$work/offsite.log" >&2; exit 1; }
  printf '%s\t%s\t%s\n' "$1" "$(python3 -c "print(($t1 - $t0) / 1000)")" "$line" >> "$results"
}
# The CRC32C Backstop sends (offsite.checksum's default), base64 as the header takes it; taken outside the time.
crc=$(java -cp "$jar" "$BENCH_ROOT/bench/Crc32c.java" "$dump")
# The class-data archive of `backstop offsite` is written by its first run: not a timed one.
rm -f "$BENCH_ROOT"/target/backstop-offsite.jsa
backstop_offsite "warm-up" "https://127.0.0.1:$tlsport" "warm-up"
await_class_data "$jar" offsite
: > "$results"
for r in $(seq 1 "$rounds"); do
  for scheme in https http; do
    if [ "$scheme" = https ]; then endpoint="https://127.0.0.1:$tlsport"; else endpoint="http://127.0.0.1:$s3port"; fi
    settle
    t0=$(ms); put "$endpoint" "$dump" "curl/plain-$scheme-$r.dump"; t1=$(ms)
    printf '%s\t%s\t-\n' "$scheme: curl PUT" "$(python3 -c "print(($t1 - $t0) / 1000)")" >> "$results"
    # The same PUT with the checksum the store verifies on receipt (computed beforehand, outside the time).
    settle
    t0=$(ms); put "$endpoint" "$dump" "curl/crc-$scheme-$r.dump" -H "x-amz-checksum-crc32c: $crc"; t1=$(ms)
    printf '%s\t%s\t-\n' "$scheme: curl PUT + checksum" "$(python3 -c "print(($t1 - $t0) / 1000)")" >> "$results"
    settle
    t0=$(ms); age -r "$recipient" "$dump" > "$work/enc.age"; put "$endpoint" "$work/enc.age" "curl/enc-$scheme-$r.age"
    t1=$(ms)
    printf '%s\t%s\t-\n' "$scheme: age -r, curl PUT" "$(python3 -c "print(($t1 - $t0) / 1000)")" >> "$results"
    backstop_offsite "$scheme: backstop offsite" "$endpoint" "plain-$scheme-$r"
    backstop_offsite "$scheme: backstop offsite, age" "$endpoint" "enc-$scheme-$r" "$recipient"
    backstop_offsite "$scheme: backstop offsite (sdk)" "$endpoint" "sdk-$scheme-$r" "" sdk
    backstop_offsite "$scheme: backstop offsite, age (sdk)" "$endpoint" "sdk-enc-$scheme-$r" "$recipient" sdk
  done
done
python3 - "$results" "$size" <<'PY'
import sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, wall, step = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(wall), None if step in ("-", "") else float(step)))
size = int(sys.argv[2])
best = {n: min(v, key=lambda x: x[0]) for n, v in rows.items()}
def median(values):
    values = sorted(values)
    return (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2
med = {n: (median([w for w, _ in v]), None if v[0][1] is None else median([s for _, s in v])) for n, v in rows.items()}
for title, table in (("best of the rounds", best), ("median of the rounds", med)):
    print(title)
    print(f"{'what':40} {'wall s':>7} {'upload s':>9} {'MB/s':>6} {'wall/PUT':>9} {'upload/PUT':>11}"
          f" {'upload/PUT+sum':>15} {'upload/age+PUT':>15} {'age adds s':>11}")
    for n, (w, s) in table.items():
        scheme = n.split(":")[0]
        put = table[scheme + ": curl PUT"][0]
        step = s if s is not None else w
        summed = table[scheme + ": curl PUT + checksum"][0]
        encrypted = table[scheme + ": age -r, curl PUT"][0] if ", age" in n else None
        # What encryption adds to the whole command: the same command's wall time without it.
        adds = w - table[n.replace(", age", "")][0] if ", age" in n else None
        print(f"{n:40} {w:7.2f} {step:9.2f} {size / 1e6 / step:6.0f} {w / put:9.2f} {step / put:11.2f}"
              f" {step / summed:15.2f} {'' if encrypted is None else f'{step / encrypted:.2f}':>15}"
              f" {'' if adds is None else f'{adds:+.2f}':>11}")
print("(sdk): offsite.uploader = sdk, the AWS SDK sends the bytes; otherwise curl does (presigned in the JVM)")
print("wall: the whole command (JVM start, bucket check, upload, read back, manifest); upload: Backstop's"
      " own upload step from its log (PUT, read back, manifest, and the time it waited for the checksum or the"
      " encrypted copy, both prepared ahead while the S3 client starts); PUT+sum: curl's PUT with the"
      " x-amz-checksum-crc32c the store verifies, as Backstop sends it; age+PUT: the age command's encryption"
      " into a file, then curl's PUT of it (what encrypting by hand before a plain upload costs); age adds: the"
      " whole command's wall time with age less the same command's without it, all of what encryption costs")
PY
