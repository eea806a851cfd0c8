#!/usr/bin/env bash
# bench/replicate.sh — replication throughput against local backup throughput.
#
# Starts a real repository server (`lumbung serve`, self-signed TLS, pinned
# fingerprint, an append token) and a real MinIO (single drive, a bucket with
# Object Lock) on loopback, then measures with GNU time:
#   1. `lumbung backup` of the corpus into a local repository (the engine's
#      local backup throughput);
#   2. `lumbung copy` of that snapshot from the local layer to the server layer;
#   3. `lumbung copy` of it to the S3 layer (retention=1d, COMPLIANCE).
# Throughput is corpus bytes / wall time (and repository bytes / wall time);
# the target is replication ≥ 0.8 × local backup throughput. Afterwards (not
# timed) both replicas are checked with `lumbung check --read-data` and the S3
# copy is restored and compared with the corpus (diff -r).
#
# Environment (and those of bench/run.sh: BENCH_DIR, BENCH_SEED, LUMBUNG_BIN,
# BENCH_WAIT_IDLE, BENCH_RETRIES, BENCH_MAX_NOISE):
#   BENCH_SIZE  corpus size, e.g. 256M     (default 1G; binary units)
#   MINIO_BIN   MinIO server binary        (default $(go env GOPATH)/bin/minio)
#   REPLICATE_RESTORE  1: also restore the S3 copy and diff it (default 1)
#   BENCH_PROFILE  1: write CPU profiles (LUMBUNG_CPUPROFILE) of every measured
#               lumbung command and of the server to $BENCH_DIR/logs/*.cpuprof
#               (look with `go tool pprof -top BIN FILE`); default 0
#
# Results: a Markdown report on stdout and, under $BENCH_DIR/results,
# replicate-<UTC time>.{md,csv} plus copies named latest-replicate.{md,csv}.
set -euo pipefail

BENCH_SIZE=${BENCH_SIZE:-1G}
TOOLS=lumbung # for lib.sh: build lumbung, report its version
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START=$SECONDS
setup_dirs
ensure_deps
command -v curl >/dev/null || apt_install curl
MINIO_BIN=${MINIO_BIN:-$(go env GOPATH)/bin/minio}
[[ -x $MINIO_BIN ]] || die "MinIO not found at $MINIO_BIN: run scripts/install-test-deps.sh (or set MINIO_BIN)"
REPLICATE_RESTORE=${REPLICATE_RESTORE:-1}
BENCH_RETRIES=${BENCH_RETRIES:-2}
build_binaries

CORPUS=$BENCH_DIR/corpus
make_corpus "$CORPUS" "$BENCH_SIZE"
read -r C_FILES C_BYTES < <(corpus_summary "$CORPUS")

# Everything this script makes lives in $REP; the servers die with the script.
REP=$BENCH_DIR/replicate
rm -rf "$REP"
mkdir -p "$REP"
trap stop_servers EXIT
trap 'exit 130' INT TERM
tool_env lumbung
export LUMBUNG_STATE_DIR=$REP/state
LOCAL_REPO=$REP/local
SRV_DATA=$REP/server
MINIO_DATA=$REP/minio
BUCKET=lumbung-bench

start_lumbung_server "$SRV_DATA"
# An append token for any repository name: a repeated phase copies into a
# fresh repository. The server notices the new token file while running.
(umask 077 && "$LUMBUNG" token create --json --data "$SRV_DATA" --name bench --scope append --repo '*' >"$REP/token.json") 2>"$LOG_DIR/token.log" ||
	die "lumbung token create failed (log: $LOG_DIR/token.log)"
(umask 077 && sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$REP/token.json" >"$REP/server.token")
[[ -s $REP/server.token ]] || die "no token in the output of lumbung token create: $(cat "$REP/token.json")"
rm -f "$REP/token.json"

start_minio "$MINIO_BIN" "$MINIO_DATA"
make_lock_bucket "$BUCKET"
export BENCH_S3_KEY=$S3_KEY BENCH_S3_SECRET=$S3_SECRET

# write_config FILE SERVER_REPO S3_PREFIX [local-only] — the layers config.
write_config() {
	{
		echo "datasets:"
		echo "  bench:"
		echo "    paths: [\"$CORPUS\"]"
		echo "    layers:"
		echo "      - name: lokal"
		echo "        repository: \"$LOCAL_REPO\""
		echo "        role: local"
		echo "        media: disk"
		echo "        password: {env: LUMBUNG_PASSWORD}"
		if [[ ${4:-} != local-only ]]; then
			echo "      - name: provinsi"
			echo "        repository: \"rest:https://$SRV_ADDR/$2?fingerprint=$SRV_FP\""
			echo "        role: regional"
			echo "        media: server"
			echo "        token: {file: \"$REP/server.token\"}"
			echo "      - name: s3"
			echo "        repository: \"s3:http://$S3_ADDR/$BUCKET/$3?retention=1d\""
			echo "        role: offsite"
			echo "        media: object-storage"
			echo "        immutable_days: 1"
			echo "        access_key: {env: BENCH_S3_KEY}"
			echo "        secret_key: {env: BENCH_S3_SECRET}"
		fi
	} >"$1"
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS_DIR/replicate-$STAMP
MACHINE=$(machine_info)

PHASES=(backup server s3)
declare -A PHASE_NAME=([backup]="local backup" [server]="copy to repository server (rest:, loopback TLS)" [s3]="copy to S3 (MinIO, Object Lock)")
declare -A WALL CPU USR SYS RSS SIZE STORED OTHER STEAL ATTEMPTS DEST SRVCPU

# timed LOG PROF CMD... — measure CMD (lib.sh) and also the CPU the server and
# MinIO used meanwhile (S_CPU, seconds): it is part of the replication's
# cost, not noise, so it is taken out of M_OTHER. With BENCH_PROFILE=1 the
# lumbung command writes a CPU profile to PROF.
timed() {
	local logf=$1 prof=$2 t0 t1
	shift 2
	t0=$(proc_cpu_ticks "$SRV_PID" "$S3_PID")
	if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
		measure "$logf" env "LUMBUNG_CPUPROFILE=$prof" "$@"
	else
		measure "$logf" "$@"
	fi
	t1=$(proc_cpu_ticks "$SRV_PID" "$S3_PID")
	S_CPU=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')
	M_OTHER=$(awk -v o="$M_OTHER" -v s="$S_CPU" 'BEGIN{x = o - s; if (x < 0) x = 0; printf "%.2f", x}')
}

# copied_bytes LOG — the bytes the copy stored (its --json result).
copied_bytes() { grep -o '"bytes":[0-9]*' "$1" | head -n 1 | cut -d: -f2; }

# record PHASE ATTEMPT BYTES STORED DEST — keep this measurement unless an
# earlier attempt was less disturbed by other work.
record() {
	local k=$1 attempt=$2
	log "${PHASE_NAME[$k]} (attempt $attempt): wall ${M_WALL}s, cpu ${M_CPU}s (servers ${S_CPU}s), peak RSS $(kib2mib "$M_RSS") MiB, repository $(mib "$3") MiB; other CPU meanwhile ${M_OTHER}s"
	ATTEMPTS[$k]=$attempt
	if ((attempt > 1)) && ! awk -v a="$M_OTHER" -v b="${OTHER[$k]}" 'BEGIN{exit !(a < b)}'; then
		return 0
	fi
	WALL[$k]=$M_WALL CPU[$k]=$M_CPU USR[$k]=$M_USER SYS[$k]=$M_SYS RSS[$k]=$M_RSS OTHER[$k]=$M_OTHER STEAL[$k]=$M_STEAL
	SIZE[$k]=$3 STORED[$k]=$4 DEST[$k]=$5 SRVCPU[$k]=$S_CPU
}

# phase PHASE — run one phase, repeating it (into a fresh destination) while
# other work disturbed it.
phase() {
	local p=$1 attempt logf bytes
	for ((attempt = 1; ; attempt++)); do
		logf=$LOG_DIR/replicate-$p-$attempt.log
		case $p in
		backup)
			rm -rf "$LOCAL_REPO"
			"$LUMBUNG" init --repo "$LOCAL_REPO" >"$LOG_DIR/replicate-init.log" 2>&1 || die "lumbung init failed (log: $LOG_DIR/replicate-init.log)"
			write_config "$REP/backup.yaml" "" "" local-only
			timed "$logf" "$LOG_DIR/replicate-$p-$attempt.cpuprof" "$LUMBUNG" backup --config "$REP/backup.yaml" --dataset bench
			bytes=$(repo_bytes "$LOCAL_REPO")
			record "$p" "$attempt" "$bytes" "$bytes" "$LOCAL_REPO"
			# The copies name the snapshot by its full id, as a dataset
			# backup's replication does: "latest" would make the CLI open
			# the source repository (one more Argon2 key derivation, ~0.35 s
			# here) only to resolve the name.
			SNAP=$("$LUMBUNG" snapshots --json --repo "$LOCAL_REPO" | grep -o '"id":"[0-9a-f]\{64\}"' | head -n 1 | cut -d'"' -f4)
			[[ -n $SNAP ]] || die "cannot find the new snapshot's id in $LOCAL_REPO"
			;;
		server | s3)
			local name=bench-$p-$attempt stored
			write_config "$REP/copy.yaml" "$name" "$name"
			local layer=provinsi
			[[ $p == s3 ]] && layer=s3
			timed "$logf" "$LOG_DIR/replicate-$p-$attempt.cpuprof" "$LUMBUNG" copy --json --config "$REP/copy.yaml" --dataset bench --from lokal --to "$layer" "$SNAP"
			bytes=$(copied_bytes "$logf")
			[[ -n $bytes ]] || die "cannot read the copied bytes from $logf"
			if [[ $p == server ]]; then
				stored=$(repo_bytes "$SRV_DATA/repos/$name")
			else
				stored=$(repo_bytes "$MINIO_DATA/$BUCKET/$name")
			fi
			record "$p" "$attempt" "$bytes" "$stored" "$name"
			;;
		esac
		noisy || return 0
		if ((attempt > BENCH_RETRIES)); then
			log "WARNING: ${PHASE_NAME[$p]}: other work was running during all $attempt attempts; keeping the least disturbed"
			return 0
		fi
		log "${PHASE_NAME[$p]}: other work used ${M_OTHER}s of CPU meanwhile; repeating the phase"
	done
}

warm_cache "$CORPUS"
for p in "${PHASES[@]}"; do
	log "=== ${PHASE_NAME[$p]}"
	if [[ $p != backup ]]; then
		warm_cache "$LOCAL_REPO" # every copy reads the source from a warm cache, like the backup reads the corpus
	fi
	phase "$p"
done

# ---------------------------------------------------------------- verify (not timed)

VERIFY=()
log "=== verifying the replicas (not timed)"
t0=$SECONDS
LUMBUNG_TOKEN=$(cat "$REP/server.token") "$LUMBUNG" check --read-data \
	--repo "rest:https://$SRV_ADDR/${DEST[server]}?fingerprint=$SRV_FP" >"$LOG_DIR/replicate-check-server.log" 2>&1 ||
	{ tail -n 25 "$LOG_DIR/replicate-check-server.log" >&2; die "check --read-data of the server copy failed (log: $LOG_DIR/replicate-check-server.log)"; }
VERIFY+=("server copy (${DEST[server]}): \`lumbung check --read-data\` through rest: OK ($((SECONDS - t0))s)")
t0=$SECONDS
S3_LOC="s3:http://$S3_ADDR/$BUCKET/${DEST[s3]}"
AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET "$LUMBUNG" check --read-data --repo "$S3_LOC" \
	>"$LOG_DIR/replicate-check-s3.log" 2>&1 ||
	{ tail -n 25 "$LOG_DIR/replicate-check-s3.log" >&2; die "check --read-data of the S3 copy failed (log: $LOG_DIR/replicate-check-s3.log)"; }
VERIFY+=("S3 copy (${DEST[s3]}): \`lumbung check --read-data\` OK ($((SECONDS - t0))s)")
if [[ $REPLICATE_RESTORE == 1 ]]; then
	t0=$SECONDS
	TARGET=$REP/restore
	rm -rf "$TARGET"
	mkdir -p "$TARGET"
	AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET "$LUMBUNG" restore --repo "$S3_LOC" latest --target "$TARGET" \
		>"$LOG_DIR/replicate-restore-s3.log" 2>&1 ||
		{ tail -n 25 "$LOG_DIR/replicate-restore-s3.log" >&2; die "restore from the S3 copy failed (log: $LOG_DIR/replicate-restore-s3.log)"; }
	verify_restore lumbung-s3
	VERIFY+=("S3 copy: restored and compared with the corpus (\`diff -r\`): $VERIFY_NOTE ($((SECONDS - t0))s)")
	rm -rf "$TARGET"
fi
stop_servers
ELAPSED=$((SECONDS - START))

# ---------------------------------------------------------------- report

tput_mb() { awk -v b="$1" -v w="$2" 'BEGIN{ if (w+0 == 0) print "n/a"; else printf "%.1f", b/1e6/w }'; } # MB/s (10^6)

report() {
	echo "# Lumbung benchmark: replication throughput"
	echo
	echo "## Machine"
	echo
	while IFS= read -r l; do echo "- $l"; done <<<"$MACHINE"
	echo "- minio: $("$MINIO_BIN" --version 2>/dev/null | head -n 1)"
	echo
	echo "## Setup"
	echo
	echo "- command: \`BENCH_SIZE=$BENCH_SIZE BENCH_SEED=$BENCH_SEED bench/replicate.sh\`"
	echo "- corpus: $C_FILES files, $(mib "$C_BYTES") MiB ($C_BYTES bytes), seed $BENCH_SEED"
	echo "- local backup: \`lumbung backup --config backup.yaml --dataset bench\` into a fresh local repository (the first layer only)"
	echo "- replication: \`lumbung copy --config copy.yaml --dataset bench --from lokal --to LAYER SNAPSHOT-ID\` into a fresh destination (mirror mode: same keys, no re-encryption, no bandwidth limit or window)"
	echo "- repository server: \`lumbung serve\` on 127.0.0.1, self-signed certificate pinned by fingerprint, an append token"
	echo "- S3: MinIO single drive on 127.0.0.1 (plain http), bucket with Object Lock, \`retention=1d\` (COMPLIANCE) on every object; root keys"
	echo "- client, server and MinIO all run on this machine and share its CPUs; the corpus and the local repository are read once before each phase (warm cache); \`sync\` before every measured phase"
	echo "- throughput: MB/s = 10^6 bytes per second of wall time; \"corpus\" divides the corpus bytes, \"repository\" the bytes written (local: \`du -sb\` of the repository; copies: bytes the copy stored, from its --json result)"
	echo
	echo "## Results"
	echo
	echo "| phase | wall s | CPU s (client) | CPU s (server side) | peak RSS MiB (client) | repository MiB | stored on disk MiB | corpus MB/s | repository MB/s | other CPU s |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	local p note
	for p in "${PHASES[@]}"; do
		note=""
		((${ATTEMPTS[$p]} > 1)) && note=" (least disturbed of ${ATTEMPTS[$p]})"
		printf '| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${PHASE_NAME[$p]}" "$note" "${WALL[$p]}" "${CPU[$p]}" "${SRVCPU[$p]}" \
			"$(kib2mib "${RSS[$p]}")" "$(mib "${SIZE[$p]}")" "$(mib "${STORED[$p]}")" \
			"$(tput_mb "$C_BYTES" "${WALL[$p]}")" "$(tput_mb "${SIZE[$p]}" "${WALL[$p]}")" "${OTHER[$p]}"
	done
	echo
	echo "CPU s (client) and peak RSS are the measured \`lumbung\` command's; CPU s (server side) is what \`lumbung serve\` and MinIO used meanwhile (both run all the time; idle they use next to nothing); other CPU s is everything else on the machine (noise)."
	echo
	echo "## Target"
	echo
	echo "| metric | value | target | result |"
	echo "| --- | ---: | ---: | --- |"
	local r
	for p in server s3; do
		r=$(ratio "${WALL[backup]}" "${WALL[$p]}")
		printf '| %s throughput / local backup throughput | %s× | ≥ 0.8× | %s |\n' "${PHASE_NAME[$p]}" "$r" "$(check "$r" ">=" 0.8)"
	done
	echo
	echo "## Verification"
	echo
	for r in "${VERIFY[@]}"; do echo "- $r"; done
	echo
	echo "Whole run took ${ELAPSED}s (including build, corpus generation or reuse, server start, cache warming and verification)."
}

write_csv() {
	echo "phase,wall_s,user_s,sys_s,cpu_s,server_cpu_s,peak_rss_kib,repo_bytes,stored_bytes,corpus_mb_s,repo_mb_s,ratio_to_backup,other_cpu_s,steal_s,attempts,corpus_bytes,corpus_files"
	local p
	for p in "${PHASES[@]}"; do
		echo "$p,${WALL[$p]},${USR[$p]},${SYS[$p]},${CPU[$p]},${SRVCPU[$p]},${RSS[$p]},${SIZE[$p]},${STORED[$p]},$(tput_mb "$C_BYTES" "${WALL[$p]}"),$(tput_mb "${SIZE[$p]}" "${WALL[$p]}"),$(ratio "${WALL[backup]}" "${WALL[$p]}"),${OTHER[$p]},${STEAL[$p]},${ATTEMPTS[$p]},$C_BYTES,$C_FILES"
	done
}

report >"$OUT.md"
write_csv >"$OUT.csv"
for ext in md csv; do cp "$OUT.$ext" "$RESULTS_DIR/latest-replicate.$ext"; done
rm -rf "$REP" # repositories, MinIO's data (locked objects are plain files to us) and secrets
cat "$OUT.md"
echo
echo "Results written to $OUT.{md,csv}"
