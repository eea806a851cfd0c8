#!/usr/bin/env bash
# bench/run.sh — side-by-side benchmark of lumbung, restic and borg.
#
# For each tool: init (not reported), initial backup, unchanged re-backup and
# restore into an empty directory (verified with diff -r), each measured with
# GNU time (wall, user+sys CPU, peak RSS) plus the repository size (du -sb).
# All of it is repeated in BENCH_ROUNDS rounds, the tools taking turns in a
# rotated order; every number reported is the median over the rounds (the
# speed of a shared virtual machine drifts by tens of percent within minutes,
# so one measurement per tool compares moments as much as tools).
#
# Environment:
#   BENCH_DIR   work directory            (default /tmp/lumbung-bench)
#   BENCH_SIZE  corpus size, e.g. 200M    (default 1G; binary units)
#   BENCH_SEED  corpus seed               (default 1)
#   TOOLS       tools to run              (default "lumbung restic borg")
#   BENCH_ROUNDS  rounds of all tools and phases (default 3; round r starts
#               with tool r of TOOLS and wraps around)
#   LUMBUNG_BIN use this lumbung binary instead of building ./cmd/lumbung
#   BENCH_WAIT_IDLE  before each measured phase, wait up to this many seconds
#               for the machine to be idle (default 120; 0: don't wait)
#   BENCH_DELETE_QUIET  wait until this many seconds have passed since a run
#               last deleted its restored trees (default 420; see lib.sh)
#   BENCH_RETRIES    repeat a phase up to this many times when other work used
#               more than BENCH_MAX_NOISE (default 0.15) of the machine's CPU
#               meanwhile; the least disturbed attempt is reported (default 2)
#
# Results: a Markdown report on stdout and, under $BENCH_DIR/results,
# run-<UTC time>.{md,csv,json} plus copies named latest-run.{md,csv,json}.
set -euo pipefail

BENCH_SIZE=${BENCH_SIZE:-1G}
TOOLS=${TOOLS:-"lumbung restic borg"}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START=$SECONDS
check_tools
setup_dirs
ensure_deps
build_binaries

CORPUS=$BENCH_DIR/corpus
make_corpus "$CORPUS" "$BENCH_SIZE"
if compgen -G "$BENCH_DIR/restore-*" >/dev/null; then # left by an interrupted run
	mass_delete "$BENCH_DIR"/restore-*
fi
wait_after_mass_delete
read -r C_FILES C_BYTES < <(corpus_summary "$CORPUS")

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS_DIR/run-$STAMP
MACHINE=$(machine_info)

PHASES=(initial rebackup restore)
declare -A PHASE_NAME=([init]="init" [initial]="initial backup" [rebackup]="re-backup (unchanged)" [restore]="restore")
BENCH_RETRIES=${BENCH_RETRIES:-2}
declare -A WALL CPU USR SYS RSS SIZE OTHER STEAL ATTEMPTS VERIFIED CACHE

# record TOOL PHASE ROUND [ATTEMPT] — keep this measurement unless an
# earlier attempt of the same phase in this round was less disturbed by
# other work.
record() {
	local k=$1/$2/$3 attempt=${4:-1} size
	size=$(repo_bytes "$REPO")
	log "$1 ${PHASE_NAME[$2]} (round $3${4:+, attempt $4}): wall ${M_WALL}s, cpu ${M_CPU}s, peak RSS $(kib2mib "$M_RSS") MiB, repo $(mib "$size") MiB; other CPU meanwhile ${M_OTHER}s"
	ATTEMPTS[$k]=$attempt
	if ((attempt > 1)) && ! awk -v a="$M_OTHER" -v b="${OTHER[$k]}" 'BEGIN{exit !(a < b)}'; then
		return 0
	fi
	WALL[$k]=$M_WALL CPU[$k]=$M_CPU USR[$k]=$M_USER SYS[$k]=$M_SYS RSS[$k]=$M_RSS OTHER[$k]=$M_OTHER STEAL[$k]=$M_STEAL
	SIZE[$k]=$size
}

# phase TOOL PHASE ROUND — run one phase, repeating it while it was disturbed.
BACKUP_N=0
phase() {
	local tool=$1 p=$2 round=$3 attempt
	for ((attempt = 1; ; attempt++)); do
		case $p in
		initial)
			if ((attempt > 1)); then # start over with an empty repository
				rm -rf "$REPO" "${STATE_DIR:?}/$tool"
				tool_env "$tool"
				tool_init "$tool"
				record "$tool" init "$round"
			fi
			BACKUP_N=1
			tool_backup "$tool" 1 "$tool-backup-1-r$round"
			;;
		rebackup)
			BACKUP_N=$((BACKUP_N + 1))
			tool_backup "$tool" "$BACKUP_N" "$tool-backup-$BACKUP_N-r$round"
			;;
		restore)
			tool_restore "$tool" "$BACKUP_N" "$tool-restore-r$round"
			;;
		esac
		record "$tool" "$p" "$round" "$attempt"
		noisy || return 0
		if ((attempt > BENCH_RETRIES)); then
			log "WARNING: $tool ${PHASE_NAME[$p]}: other work was running during all $attempt attempts; keeping the least disturbed"
			return 0
		fi
		log "$tool ${PHASE_NAME[$p]}: other work used ${M_OTHER}s of CPU meanwhile; repeating the phase"
	done
}

# rotated ROUND — TOOLS in the order of that round.
rotated() {
	local -a t
	read -ra t <<<"$TOOLS"
	local n=${#t[@]} i
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${t[$(((i + $1 - 1) % n))]}"
	done
}

for ((round = 1; round <= BENCH_ROUNDS; round++)); do
	for tool in $(rotated "$round"); do
		log "=== $tool, round $round of $BENCH_ROUNDS"
		REPO=$BENCH_DIR/repo-$tool
		TARGET=$BENCH_DIR/restore-$tool-$round
		rm -rf "$REPO" "$TARGET" "${STATE_DIR:?}/$tool"
		tool_env "$tool"
		warm_cache "$CORPUS"

		tool_init "$tool"
		record "$tool" init "$round"
		for p in "${PHASES[@]}"; do
			phase "$tool" "$p" "$round"
		done
		verify_restore "$tool"
		VERIFIED[$tool]=$VERIFY_NOTE # every round is verified; a mismatch stops the run
		CACHE[$tool]=$(du -sb "$STATE_DIR/$tool" | cut -f1)
		# The restored tree stays until the end of the run: deleting 25,000
		# files right before the next restore would slow that restore down on
		# ext4 without a journal, which skips inodes freed in the last minutes.
	done
done
mass_delete "$BENCH_DIR"/restore-*
ELAPSED=$((SECONDS - START))

# median V... — the median of the values (the mean of the middle two for an
# even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{m=int((NR+1)/2); if (NR%2) print v[m]; else print (v[m]+v[m+1])/2}'; }

# The reported value of every metric is its median over the rounds; the
# range of wall times is kept for the report.
declare -A WALL_MIN WALL_MAX
for tool in $TOOLS; do
	for p in init "${PHASES[@]}"; do
		k=$tool/$p
		for arr in WALL CPU USR SYS RSS SIZE OTHER STEAL ATTEMPTS; do
			declare -n a=$arr
			vals=()
			for ((round = 1; round <= BENCH_ROUNDS; round++)); do vals+=("${a[$k/$round]}"); done
			a[$k]=$(median "${vals[@]}")
			unset -n a
		done
		vals=()
		for ((round = 1; round <= BENCH_ROUNDS; round++)); do vals+=("${WALL[$k/$round]}"); done
		WALL_MIN[$k]=$(printf '%s\n' "${vals[@]}" | sort -g | head -1)
		WALL_MAX[$k]=$(printf '%s\n' "${vals[@]}" | sort -g | tail -1)
	done
done

# ---------------------------------------------------------------- report

ratio_rows=() # "metric|value|op|target"
if has_tool lumbung && has_tool restic; then
	ratio_rows+=(
		"initial backup wall time, restic / lumbung|$(ratio "${WALL[restic/initial]}" "${WALL[lumbung/initial]}")|>=|3"
		"re-backup wall time, restic / lumbung|$(ratio "${WALL[restic/rebackup]}" "${WALL[lumbung/rebackup]}")|>=|4"
		"restore wall time, restic / lumbung|$(ratio "${WALL[restic/restore]}" "${WALL[lumbung/restore]}")|>=|3"
		"repository size after re-backup, lumbung / restic|$(ratio "${SIZE[lumbung/rebackup]}" "${SIZE[restic/rebackup]}")|<=|1.05"
		"peak RSS initial backup, lumbung / restic|$(ratio "${RSS[lumbung/initial]}" "${RSS[restic/initial]}")|<=|1"
		"peak RSS re-backup, lumbung / restic|$(ratio "${RSS[lumbung/rebackup]}" "${RSS[restic/rebackup]}")|<=|1"
		"peak RSS restore, lumbung / restic|$(ratio "${RSS[lumbung/restore]}" "${RSS[restic/restore]}")|<=|1"
	)
fi

report() {
	echo "# Lumbung benchmark: backup, re-backup, restore"
	echo
	echo "## Machine"
	echo
	while IFS= read -r l; do echo "- $l"; done <<<"$MACHINE"
	echo
	echo "## Setup"
	echo
	echo "- command: \`BENCH_SIZE=$BENCH_SIZE BENCH_SEED=$BENCH_SEED TOOLS=\"$TOOLS\" bench/run.sh\`"
	echo "- corpus: $C_FILES files, $(mib "$C_BYTES") MiB (~40% SQL dump, ~25% small text files, ~35% incompressible media), seed $BENCH_SEED"
	echo "- page cache: not dropped (not reliably possible here); the corpus was read once (\`cat\` to /dev/null) before each tool, so every tool starts with a warm cache; \`sync\` before every measured phase"
	echo "- lumbung: defaults; restic: repository format as created by \`restic init\` (v2), default compression \`auto\`; borg: \`--encryption=repokey-blake2\`, default compression \`lz4\`"
	echo "- restored trees are kept until the end of the run, so no restore follows the harness deleting the previous tool's 25,000 files (ext4 without a journal skips inodes freed in the last 1–6 minutes when it allocates, which makes file creation after a mass deletion several times slower)"
	echo "- all repositories are encrypted; each tool runs with a fresh private cache directory (not counted in the repository size)"
	echo "- peak RSS is GNU time's %M (largest process, not a sum over processes); CPU = user + sys"
	echo "- $BENCH_ROUNDS rounds; in round r the tools run in the order of TOOLS rotated by r-1 ($(for ((r = 1; r <= BENCH_ROUNDS; r++)); do printf '%s' "$(rotated "$r" | sed 's/ $//')"; ((r < BENCH_ROUNDS)) && printf ' / '; done)), each with a fresh repository, and every restore is verified"
	echo "- before each phase: wait up to ${BENCH_WAIT_IDLE}s for an idle machine; a phase during which other work used > ${BENCH_MAX_NOISE} of the CPU is repeated (up to $BENCH_RETRIES times)"
	echo
	echo "## Results"
	echo
	echo "Medians over $BENCH_ROUNDS rounds (the wall-time range is the fastest and slowest round)."
	echo
	echo "| tool | phase | wall s | wall range s | CPU s | peak RSS MiB | repo size MiB | other CPU s |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	local t p k r
	for t in $TOOLS; do
		for p in "${PHASES[@]}"; do
			k=$t/$p
			printf '| %s | %s | %.2f | %.2f–%.2f | %.2f | %s | %s | %.1f |\n' "$t" "${PHASE_NAME[$p]}" "${WALL[$k]}" \
				"${WALL_MIN[$k]}" "${WALL_MAX[$k]}" "${CPU[$k]}" "$(kib2mib "${RSS[$k]}")" "$(mib "${SIZE[$k]}")" "${OTHER[$k]}"
		done
	done
	echo
	echo "\"other CPU s\" is CPU time used by everything else on the machine (other processes, kernel writeback) during the phase;"
	echo "if it is more than a small fraction of the wall time × $NCPU CPUs, the machine was shared and the numbers are noisy."
	local retried=""
	for t in $TOOLS; do
		for p in "${PHASES[@]}"; do
			for ((r = 1; r <= BENCH_ROUNDS; r++)); do
				((${ATTEMPTS[$t/$p/$r]} == 1)) || retried+=" $t ${PHASE_NAME[$p]} in round $r (${ATTEMPTS[$t/$p/$r]} attempts);"
			done
		done
	done
	[[ -z $retried ]] || echo "Repeated because other work was running (least disturbed attempt shown):${retried%;}."
	echo
	echo "Restore verification (diff -r against the corpus):"
	for t in $TOOLS; do
		echo "- $t: ${VERIFIED[$t]}; local cache/state after the run: $(mib "${CACHE[$t]}") MiB"
	done
	echo
	echo "## Targets"
	echo
	if ((${#ratio_rows[@]} == 0)); then
		echo "Not evaluated: needs both lumbung and restic in TOOLS."
	else
		echo "| metric | value | target | result |"
		echo "| --- | ---: | ---: | --- |"
		local row metric val op tgt
		for row in "${ratio_rows[@]}"; do
			IFS='|' read -r metric val op tgt <<<"$row"
			printf '| %s | %s× | %s %s× | %s |\n' "$metric" "$val" "${op/>=/≥}" "$tgt" "$(check "$val" "$op" "$tgt")" | sed 's/<= /≤ /'
		done
	fi
	if has_tool lumbung && has_tool borg; then
		echo
		echo "For information, borg / lumbung wall time: initial $(ratio "${WALL[borg/initial]}" "${WALL[lumbung/initial]}")×," \
			"re-backup $(ratio "${WALL[borg/rebackup]}" "${WALL[lumbung/rebackup]}")×," \
			"restore $(ratio "${WALL[borg/restore]}" "${WALL[lumbung/restore]}")×;" \
			"repository size lumbung / borg $(ratio "${SIZE[lumbung/rebackup]}" "${SIZE[borg/rebackup]}")×."
	fi
	echo
	echo "Whole run took ${ELAPSED}s (including build, corpus generation or reuse, cache warming and verification)."
}

write_csv() {
	echo "tool,phase,round,wall_s,user_s,sys_s,cpu_s,peak_rss_kib,repo_bytes,other_cpu_s,steal_s,attempts,corpus_bytes,corpus_files"
	local t p k r
	for t in $TOOLS; do
		for p in init "${PHASES[@]}"; do
			for r in $(seq "$BENCH_ROUNDS") median; do
				k=$t/$p/$r
				[[ $r == median ]] && k=$t/$p
				echo "$t,$p,$r,${WALL[$k]},${USR[$k]},${SYS[$k]},${CPU[$k]},${RSS[$k]},${SIZE[$k]},${OTHER[$k]},${STEAL[$k]},${ATTEMPTS[$k]},$C_BYTES,$C_FILES"
			done
		done
	done
}

write_json() {
	local t p k first=1 line key val
	echo "{"
	echo "  \"benchmark\": \"run\","
	echo "  \"settings\": {\"bench_size\": $(json_str "$BENCH_SIZE"), \"seed\": $BENCH_SEED, \"tools\": $(json_str "$TOOLS"), \"elapsed_s\": $ELAPSED},"
	echo "  \"corpus\": {\"files\": $C_FILES, \"bytes\": $C_BYTES},"
	machine_json "$MACHINE"
	echo "  \"results\": ["
	first=1
	for t in $TOOLS; do
		for p in init "${PHASES[@]}"; do
			k=$t/$p
			((first)) || echo ","
			first=0
			printf '    {"tool": "%s", "phase": "%s", "wall_s": %s, "user_s": %s, "sys_s": %s, "cpu_s": %s, "peak_rss_kib": %s, "repo_bytes": %s, "other_cpu_s": %s, "steal_s": %s, "attempts": %s}' \
				"$t" "$p" "${WALL[$k]}" "${USR[$k]}" "${SYS[$k]}" "${CPU[$k]}" "${RSS[$k]}" "${SIZE[$k]}" "${OTHER[$k]}" "${STEAL[$k]}" "${ATTEMPTS[$k]}"
		done
	done
	echo
	echo "  ],"
	echo "  \"targets\": ["
	first=1
	local row metric op tgt
	for row in "${ratio_rows[@]}"; do
		IFS='|' read -r metric val op tgt <<<"$row"
		((first)) || echo ","
		first=0
		[[ $val == n/a ]] && val=null
		printf '    {"metric": %s, "value": %s, "op": "%s", "target": %s, "result": "%s"}' \
			"$(json_str "$metric")" "$val" "$op" "$tgt" "$(check "${val/null/n\/a}" "$op" "$tgt")"
	done
	echo
	echo "  ]"
	echo "}"
}

report >"$OUT.md"
write_csv >"$OUT.csv"
write_json >"$OUT.json"
for ext in md csv json; do cp "$OUT.$ext" "$RESULTS_DIR/latest-run.$ext"; done
cat "$OUT.md"
echo
echo "Results written to $OUT.{md,csv,json}"
