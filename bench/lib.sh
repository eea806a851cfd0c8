# shellcheck shell=bash disable=SC2034 # M_* results are read by the scripts that source this file
# Shared helpers for bench/run.sh and bench/growth.sh. Sourced, not executed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/lumbung-bench}
BENCH_SEED=${BENCH_SEED:-1}
RESULTS_DIR=$BENCH_DIR/results
STATE_DIR=$BENCH_DIR/state
LOG_DIR=$BENCH_DIR/logs
BIN_DIR=$BENCH_DIR/bin
LUMBUNG=${LUMBUNG_BIN:-$BENCH_DIR/lumbung} # LUMBUNG_BIN: use this binary instead of building ./cmd/lumbung
CORPUS_BIN=$BIN_DIR/corpus
SQL_REL=db/dukcapil_penduduk.sql # a file every corpus has; used to find restored trees

# Passwords are fixed benchmark values unless the caller sets them.
export LUMBUNG_PASSWORD=${LUMBUNG_PASSWORD:-lumbung-bench-password}
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-lumbung-bench-password}
export BORG_PASSPHRASE=${BORG_PASSPHRASE:-lumbung-bench-password}
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '\n[bench] FATAL: %s\n' "$*" >&2
	exit 1
}

has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }

check_tools() {
	local t
	for t in $TOOLS; do
		case $t in
		lumbung | restic | borg) ;;
		*) die "unknown tool '$t' in TOOLS (known: lumbung restic borg)" ;;
		esac
	done
	[[ -n ${TOOLS// /} ]] || die "TOOLS is empty"
}

# apt_install PKG... — install Debian packages, running apt-get update once if
# the first attempt fails (fresh machines often have no package lists).
apt_install() {
	local sudo=()
	[[ $EUID -eq 0 ]] || sudo=(sudo)
	command -v apt-get >/dev/null || die "need $* but apt-get is not available; install them by hand"
	log "installing $* with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y -qq "$@" >"$LOG_DIR/apt.log" 2>&1; then
		"${sudo[@]}" apt-get update -qq >>"$LOG_DIR/apt.log" 2>&1 || true
		"${sudo[@]}" apt-get install -y -qq "$@" >>"$LOG_DIR/apt.log" 2>&1 ||
			{ tail -n 20 "$LOG_DIR/apt.log" >&2; die "apt-get install $* failed (log: $LOG_DIR/apt.log)"; }
	fi
}

ensure_deps() {
	local pkgs=()
	[[ -x /usr/bin/time ]] || pkgs+=(time)
	has_tool restic && ! command -v restic >/dev/null && pkgs+=(restic)
	has_tool borg && ! command -v borg >/dev/null && pkgs+=(borgbackup)
	command -v diff >/dev/null || pkgs+=(diffutils)
	((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
	/usr/bin/time -f '%e' true 2>/dev/null || die "/usr/bin/time is not GNU time"
	command -v go >/dev/null || die "go is not installed"
}

setup_dirs() {
	mkdir -p "$BENCH_DIR" "$RESULTS_DIR" "$STATE_DIR" "$LOG_DIR" "$BIN_DIR"
}

# MASS_DELETE_STAMP records when a run last deleted many files (its restored
# trees). ext4 without a journal skips inodes freed in the last 1–6 minutes
# when it allocates new ones, rescanning them for every file created, so a
# restore started in that window is several times slower, for whichever tool
# runs then. BENCH_DELETE_QUIET (seconds, default 420; 0: don't wait) is how
# long a run waits after the last recorded deletion before it measures.
MASS_DELETE_STAMP=$BENCH_DIR/last-mass-delete
BENCH_DELETE_QUIET=${BENCH_DELETE_QUIET:-420}

# mass_delete PATH... — delete restored trees and record when.
mass_delete() {
	rm -rf "$@"
	date +%s >"$MASS_DELETE_STAMP"
}

# wait_after_mass_delete — wait until BENCH_DELETE_QUIET seconds have passed
# since the last recorded mass deletion.
wait_after_mass_delete() {
	[[ -f $MASS_DELETE_STAMP ]] || return 0
	local last now left
	last=$(cat "$MASS_DELETE_STAMP" 2>/dev/null || echo 0)
	now=$(date +%s)
	left=$((last + BENCH_DELETE_QUIET - now))
	((left > 0)) || return 0
	log "waiting ${left}s: files were mass-deleted $((now - last))s ago (ext4 without a journal allocates inodes slowly for a few minutes after that; BENCH_DELETE_QUIET=0 skips this)"
	sleep "$left"
}

build_binaries() {
	log "building corpus generator"
	(cd "$ROOT" && go build -o "$CORPUS_BIN" ./bench/corpus) || die "building bench/corpus failed"
	if has_tool lumbung && [[ -n ${LUMBUNG_BIN:-} ]]; then
		[[ -x $LUMBUNG_BIN ]] || die "LUMBUNG_BIN=$LUMBUNG_BIN is not executable"
		log "using prebuilt lumbung: $LUMBUNG_BIN"
	elif has_tool lumbung; then
		log "building lumbung (go build -o $LUMBUNG ./cmd/lumbung)"
		(cd "$ROOT" && go build -o "$LUMBUNG" ./cmd/lumbung) || die "building ./cmd/lumbung failed"
	fi
}

# make_corpus DIR SIZE [fresh] — (re)generate the corpus unless DIR already
# holds one made by the same generator source, seed and size.
make_corpus() {
	local dir=$1 size=$2 fresh=${3:-}
	local stamp="$dir.stamp" want
	want="seed=$BENCH_SEED size=$size gen=$(cat "$ROOT"/bench/corpus/*.go | sha256sum | cut -c1-16)"
	if [[ -z $fresh && -d $dir && -f $stamp && $(cat "$stamp") == "$want" ]]; then
		log "reusing corpus $dir ($want)"
		return
	fi
	rm -rf "$dir" "$stamp"
	log "generating corpus $dir (size $size, seed $BENCH_SEED)"
	"$CORPUS_BIN" -dir "$dir" -size "$size" -seed "$BENCH_SEED" >&2 || die "corpus generation failed"
	echo "$want" >"$stamp"
}

corpus_summary() { # DIR -> "FILES BYTES"
	local files bytes
	files=$(find "$1" -type f | wc -l)
	bytes=$(du -sb "$1" | cut -f1)
	echo "$files $bytes"
}

# warm_cache DIR — read every file once so all tools start from a warm page cache.
warm_cache() {
	local t0=$SECONDS
	find "$1" -type f -print0 | xargs -0 cat >/dev/null
	log "page cache warmed: read $1 ($((SECONDS - t0))s)"
}

# tool_env TOOL — per-tool private cache/config dirs under $STATE_DIR so no
# state leaks in from earlier runs or from the user's home.
tool_env() {
	local st=$STATE_DIR/$1
	export XDG_CACHE_HOME=$st/cache XDG_CONFIG_HOME=$st/config
	export RESTIC_CACHE_DIR=$st/cache/restic
	export BORG_BASE_DIR=$st/borg
	mkdir -p "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
}

HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
NCPU=$(nproc)
BENCH_WAIT_IDLE=${BENCH_WAIT_IDLE:-120}
BENCH_MAX_NOISE=${BENCH_MAX_NOISE:-0.15}

# cpu_busy -> "BUSY STEAL" in clock ticks, summed over all CPUs.
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9; exit}' /proc/stat; }

# wait_idle — wait up to BENCH_WAIT_IDLE seconds (0: don't) for a 2-second
# window in which the machine is less than 10% busy, so that other work on a
# shared machine does not end up in the numbers.
wait_idle() {
	((BENCH_WAIT_IDLE > 0)) || return 0
	local deadline=$((SECONDS + BENCH_WAIT_IDLE)) b0 s0 b1 s1 pct said=0
	while :; do
		read -r b0 s0 < <(cpu_busy)
		sleep 2
		read -r b1 s1 < <(cpu_busy)
		pct=$(((b1 - b0) * 100 / (2 * HZ * NCPU)))
		if ((pct < 10)); then
			((said == 0)) || log "machine idle; going on"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			log "WARNING: machine still ${pct}% busy after waiting ${BENCH_WAIT_IDLE}s; measuring anyway"
			return 0
		fi
		((said++ % 15 == 0)) && log "machine ${pct}% busy (other work running); waiting up to ${BENCH_WAIT_IDLE}s for it to go idle"
	done
}

# noisy — true if, during the last measure, the rest of the machine used more
# than BENCH_MAX_NOISE of the CPU capacity (wall × nproc).
noisy() { awk -v o="$M_OTHER" -v w="$M_WALL" -v n="$NCPU" -v f="$BENCH_MAX_NOISE" 'BEGIN{exit !(o > f * w * n)}'; }

# measure LOG CMD... — run CMD under GNU time after a sync; sets M_WALL,
# M_USER, M_SYS, M_CPU (seconds), M_RSS (KiB, peak RSS of the largest
# process), M_OTHER and M_STEAL (seconds of CPU used by everything else / stolen
# by the hypervisor meanwhile). Runs in $M_CWD if set. Dies loudly if CMD fails.
measure() {
	local logf=$1
	shift
	local tf=$LOG_DIR/.time.$$ rc=0 b0 s0 b1 s1
	sync
	wait_idle
	read -r b0 s0 < <(cpu_busy)
	if [[ -n ${M_CWD:-} ]]; then
		(cd "$M_CWD" && /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@") >"$logf" 2>&1 || rc=$?
	else
		/usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$logf" 2>&1 || rc=$?
	fi
	if ((rc != 0)); then
		printf '\n[bench] command failed (exit %d): %s\n--- last lines of %s ---\n' "$rc" "$*" "$logf" >&2
		tail -n 25 "$logf" >&2
		die "$* failed"
	fi
	read -r b1 s1 < <(cpu_busy)
	read -r M_WALL M_USER M_SYS M_RSS < <(tail -n 1 "$tf")
	M_CPU=$(awk -v u="$M_USER" -v s="$M_SYS" 'BEGIN{printf "%.2f", u+s}')
	# CPU time the rest of the machine used meanwhile (other processes and
	# kernel threads; includes writeback) and hypervisor steal: a noise gauge.
	M_OTHER=$(awk -v b=$((b1 - b0)) -v c="$M_CPU" -v hz="$HZ" 'BEGIN{x = b/hz - c; if (x < 0) x = 0; printf "%.2f", x}')
	M_STEAL=$(awk -v s=$((s1 - s0)) -v hz="$HZ" 'BEGIN{printf "%.2f", s/hz}')
	rm -f "$tf"
}

# Per-tool commands. REPO, CORPUS and (for restore) TARGET are globals.
tool_init() {
	case $1 in
	lumbung) measure "$LOG_DIR/$1-init.log" "$LUMBUNG" init --repo "$REPO" ;;
	restic) measure "$LOG_DIR/$1-init.log" restic -r "$REPO" init ;;
	borg) measure "$LOG_DIR/$1-init.log" borg init --encryption=repokey-blake2 "$REPO" ;;
	esac
}

# tool_backup TOOL N LOGNAME — N numbers the backup (borg archive name).
tool_backup() {
	local logf=$LOG_DIR/$3.log
	case $1 in
	lumbung) measure "$logf" "$LUMBUNG" backup --repo "$REPO" "$CORPUS" ;;
	restic) measure "$logf" restic -r "$REPO" backup "$CORPUS" ;;              # default compression: auto
	borg) measure "$logf" borg create "$REPO::backup-$2" "$CORPUS" ;;           # default compression: lz4
	esac
}

# tool_restore TOOL N LOGNAME — restore the latest backup (number N) into an
# empty $TARGET.
tool_restore() {
	local logf=$LOG_DIR/$3.log
	if [[ -e $TARGET ]]; then # a repeated attempt: set the tree aside, deleting it would slow this restore (see mass_delete)
		mv "$TARGET" "$TARGET.attempt-$(date +%s%N)"
	fi
	mkdir -p "$TARGET"
	case $1 in
	lumbung) measure "$logf" "$LUMBUNG" restore --repo "$REPO" latest --target "$TARGET" ;;
	restic) measure "$logf" restic -r "$REPO" restore latest --target "$TARGET" ;;
	borg) M_CWD=$TARGET measure "$logf" borg extract "$REPO::backup-$2" ;;
	esac
}

repo_bytes() { du -sb "$1" | cut -f1; }

# verify_restore TOOL — the restored tree must be byte-identical to $CORPUS.
verify_restore() {
	local tool=$1 restored="" cand
	for cand in "$TARGET/${CORPUS#/}" "$TARGET/$(basename "$CORPUS")" "$TARGET"; do
		if [[ -f $cand/$SQL_REL ]]; then
			restored=$cand
			break
		fi
	done
	[[ -n $restored ]] || die "$tool restore: cannot find the restored corpus under $TARGET (looked for */$SQL_REL)"
	local t0=$SECONDS
	if ! diff -r -q "$CORPUS" "$restored" >"$LOG_DIR/$tool-verify.log" 2>&1; then
		head -n 20 "$LOG_DIR/$tool-verify.log" >&2
		die "RESTORE MISMATCH for $tool: $restored differs from $CORPUS (full list: $LOG_DIR/$tool-verify.log)"
	fi
	# Metadata is not part of the pass/fail verdict, but say when it differs.
	local meta_a meta_b
	meta_a=$(cd "$CORPUS" && find . -printf '%p %y %m %s %T@\n' | awk '{sub(/\..*$/, "", $5); print}' | sort)
	meta_b=$(cd "$restored" && find . -printf '%p %y %m %s %T@\n' | awk '{sub(/\..*$/, "", $5); print}' | sort)
	if [[ $meta_a != "$meta_b" ]]; then
		diff <(echo "$meta_a") <(echo "$meta_b") >"$LOG_DIR/$tool-verify-meta.log" || true
		log "WARNING: $tool restore: contents identical, but modes/mtimes differ for $(grep -c '^<' "$LOG_DIR/$tool-verify-meta.log") entries (see $LOG_DIR/$tool-verify-meta.log)"
		VERIFY_NOTE="content OK, metadata differs"
	else
		VERIFY_NOTE="content+metadata OK"
	fi
	log "$tool restore verified: $VERIFY_NOTE ($((SECONDS - t0))s)"
}

tool_version() {
	case $1 in
	lumbung)
		local v
		v=$("$LUMBUNG" version 2>/dev/null | head -n 1) || v=""
		[[ -n $v ]] || v="lumbung (built from $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'an uncommitted tree'))"
		echo "$v"
		;;
	restic) restic version | head -n 1 ;;
	borg) borg --version | head -n 1 ;;
	esac
}

machine_info() { # prints "key: value" lines
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpus (nproc): $(nproc)"
	echo "cpu model: $(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo)"
	echo "ram: $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -sr)"
	echo "os: $( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown)"
	local fstype dev
	read -r fstype dev < <(df -T "$BENCH_DIR" | awk 'NR==2{print $2, $1}')
	if [[ $fstype == ext4 ]] && ! compgen -G "/proc/fs/jbd2/$(basename "$dev")-*" >/dev/null; then
		fstype="ext4 without a journal"
	fi
	echo "filesystem: $fstype on $dev"
	echo "go: $(go version)"
	echo "lumbung commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'none (uncommitted tree)')"
	local t
	for t in $TOOLS; do
		echo "$t: $(tool_version "$t")"
	done
}

# fmt helpers (awk does the floating point)
mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
kib2mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "n/a"; else printf "%.2f", a/b }'; }
# check VALUE OP TARGET -> PASS/FAIL (OP is >= or <=)
check() {
	awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN{
		if (v == "n/a") { print "n/a"; exit }
		ok = (op == ">=") ? (v+0 >= t+0) : (v+0 <= t+0)
		print ok ? "PASS" : "FAIL" }'
}
json_num() { if [[ $1 == n/a ]]; then echo null; else echo "$1"; fi; }
json_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# ------------------------------------------------ servers (bench/replicate.sh)

# free_port — print a TCP port on 127.0.0.1 that nothing listens on now (a
# random one, checked by trying to connect; another process may still take
# it before the caller binds it, so callers retry a failed start).
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "found no free TCP port on 127.0.0.1"
}

# wait_http URL SECONDS PID [CURL_ARGS...] — wait until URL answers 2xx;
# die if process PID exits first or the time runs out.
wait_http() {
	local url=$1 secs=$2 pid=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || return 1
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# BENCH_PIDS are the servers the scripts started; stop_servers ends exactly
# those (by process id) and is installed as an EXIT trap.
BENCH_PIDS=()
stop_servers() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BENCH_PIDS=()
}

# start_lumbung_server DATA — run `lumbung serve` on 127.0.0.1 (a port the
# kernel picks) with its self-signed certificate; sets SRV_ADDR (host:port)
# SRV_FP (the certificate pin, sha256:...) and SRV_PID. With
# BENCH_PROFILE=1 the server writes a CPU profile to $LOG_DIR/serve.cpuprof
# when it stops.
start_lumbung_server() {
	local data=$1 out=$LOG_DIR/serve.out line
	mkdir -p "$data"
	: >"$out"
	local prof=()
	[[ ${BENCH_PROFILE:-0} == 1 ]] && prof=(env "LUMBUNG_CPUPROFILE=$LOG_DIR/serve.cpuprof")
	"${prof[@]}" "$LUMBUNG" serve --json --data "$data" --listen 127.0.0.1:0 >"$out" 2>"$LOG_DIR/serve.log" &
	local pid=$! deadline=$((SECONDS + 60))
	BENCH_PIDS+=("$pid")
	SRV_PID=$pid
	until line=$(grep -m1 '"message_type":"serving"' "$out" 2>/dev/null); do
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG_DIR/serve.log" >&2; die "lumbung serve exited at start (log: $LOG_DIR/serve.log)"; }
		((SECONDS < deadline)) || die "lumbung serve did not say where it listens within 60s (log: $LOG_DIR/serve.log)"
		sleep 0.1
	done
	SRV_ADDR=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' <<<"$line")
	SRV_FP=$(sed -n 's/.*"fingerprint":"\([^"]*\)".*/\1/p' <<<"$line")
	[[ -n $SRV_ADDR && -n $SRV_FP ]] || die "cannot read the address and fingerprint from lumbung serve's start message: $line"
	wait_http "https://$SRV_ADDR/healthz" 30 "$pid" -k || die "lumbung serve on $SRV_ADDR does not answer /healthz (log: $LOG_DIR/serve.log)"
	log "lumbung serve: https://$SRV_ADDR, certificate $SRV_FP"
}

# start_minio BIN DATA — run MinIO (single drive) on a free loopback port
# with fixed benchmark root keys; sets S3_ADDR, S3_KEY, S3_SECRET and S3_PID.
start_minio() {
	local bin=$1 data=$2 attempt pid cport
	[[ -x $bin ]] || die "MinIO not found at $bin: run scripts/install-test-deps.sh (or set MINIO_BIN)"
	S3_KEY=lumbungbench S3_SECRET=lumbung-bench-secret-$RANDOM$RANDOM
	mkdir -p "$data"
	for attempt in 1 2 3; do # a port may be taken between choosing and binding it
		S3_ADDR=127.0.0.1:$(free_port)
		cport=$(free_port)
		MINIO_ROOT_USER=$S3_KEY MINIO_ROOT_PASSWORD=$S3_SECRET MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=on \
			"$bin" server --quiet --address "$S3_ADDR" --console-address "127.0.0.1:$cport" "$data" >"$LOG_DIR/minio.log" 2>&1 &
		pid=$!
		BENCH_PIDS+=("$pid")
		if wait_http "http://$S3_ADDR/minio/health/ready" 90 "$pid"; then
			S3_PID=$pid
			log "MinIO: http://$S3_ADDR (data in $data)"
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		log "MinIO did not start on $S3_ADDR (attempt $attempt); log: $LOG_DIR/minio.log"
	done
	tail -n 20 "$LOG_DIR/minio.log" >&2
	die "MinIO did not start"
}

# s3_request METHOD PATH [CURL_ARGS...] — a request signed with the root keys
# (curl's SigV4; the empty body's hash is what MinIO wants in the header).
s3_request() {
	local method=$1 path=$2
	shift 2
	curl -fsS --max-time 30 -X "$method" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		"$@" "http://$S3_ADDR$path"
}

# make_lock_bucket NAME — create a bucket with Object Lock (and so
# versioning), as docs/s3.md asks the administrator to; retries while MinIO
# is still loading its users after start.
make_lock_bucket() {
	local deadline=$((SECONDS + 60))
	until s3_request PUT "/$1" -H 'x-amz-bucket-object-lock-enabled: true' -o /dev/null 2>"$LOG_DIR/mkbucket.log"; do
		((SECONDS < deadline)) || { cat "$LOG_DIR/mkbucket.log" >&2; die "cannot create bucket $1 with Object Lock on MinIO"; }
		sleep 0.5
	done
	s3_request GET "/$1?object-lock=" | grep -q '<ObjectLockEnabled>Enabled</ObjectLockEnabled>' ||
		die "bucket $1 was created without Object Lock"
}

# proc_cpu_ticks PID... — CPU time (user + system, clock ticks, including
# waited-for children) the processes have used so far; 0 for one that is gone.
proc_cpu_ticks() {
	local pid sum=0 t
	for pid in "$@"; do
		t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || t=0
		sum=$((sum + ${t:-0}))
	done
	echo "$sum"
}

# machine_json INFO — the "machine" member of a JSON report (with its
# trailing comma) from machine_info's "key: value" lines.
machine_json() {
	local line key val first=1
	echo "  \"machine\": {"
	while IFS= read -r line; do
		key=${line%%: *} val=${line#*: }
		((first)) || echo ","
		first=0
		printf '    %s: %s' "$(json_str "$key")" "$(json_str "$val")"
	done <<<"$1"
	echo
	echo "  },"
}
