#!/usr/bin/env bash
# bench/growth.sh — does the cost of a backup stay flat as history grows?
#
# Makes a fresh corpus, then takes GROWTH_STEPS backups with every tool; before
# backup #n (n >= 2) the corpus gets mutation step n-1 (~1% of the small files
# edited, rows appended to the SQL dump, a few files added — see
# bench/corpus). All tools back up the same corpus state at every step (the
# order of the tools alternates from step to step). Reports wall time and peak
# RSS of every backup and the ratio of backup #GROWTH_STEPS to backup #2
# (target ≤ 1.2×), then the same cost measured apart from the machine's drift:
# further steps backed up into the grown repository and into a control one side
# by side (GROWTH_CONTROL). Finally restores the last backup of each tool and
# checks it with diff -r.
#
# Environment:
#   BENCH_DIR      work directory           (default /tmp/lumbung-bench)
#   BENCH_SIZE     corpus size              (default 256M)
#   BENCH_SEED     corpus seed              (default 1)
#   TOOLS          tools to run             (default "lumbung restic"; borg also works)
#   GROWTH_STEPS   number of backups        (default 30)
#   GROWTH_VERIFY  restore+verify at end    (default 1)
#   GROWTH_CONTROL backups in the paired comparison after the run (default 5;
#                  0: none): each further mutation step is backed up both into
#                  the grown repository and into a control repository that
#                  holds only the last state's backup, side by side, so that
#                  what history costs is measured apart from the machine's drift
#   LUMBUNG_BIN use this lumbung binary instead of building ./cmd/lumbung
#   BENCH_WAIT_IDLE  before each backup, wait up to this many seconds for the
#                  machine to be idle (default 30; 0: don't wait)
#
# Results: Markdown on stdout and $BENCH_DIR/results/growth-<UTC time>.{md,csv,json}
# plus copies named latest-growth.{md,csv,json}.
set -euo pipefail

BENCH_SIZE=${BENCH_SIZE:-256M}
TOOLS=${TOOLS:-"lumbung restic"}
GROWTH_STEPS=${GROWTH_STEPS:-30}
GROWTH_VERIFY=${GROWTH_VERIFY:-1}
GROWTH_CONTROL=${GROWTH_CONTROL:-5}
BENCH_WAIT_IDLE=${BENCH_WAIT_IDLE:-30}
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! [[ $GROWTH_STEPS =~ ^[0-9]+$ ]] || ((GROWTH_STEPS < 2)); then die "GROWTH_STEPS must be >= 2"; fi
[[ $GROWTH_CONTROL =~ ^[0-9]+$ ]] || die "GROWTH_CONTROL must be a number"
LAST=$GROWTH_STEPS

START=$SECONDS
check_tools
setup_dirs
ensure_deps
build_binaries

GDIR=$BENCH_DIR/growth
mkdir -p "$GDIR"
CORPUS=$GDIR/corpus
make_corpus "$CORPUS" "$BENCH_SIZE" fresh
read -r C_FILES0 C_BYTES0 < <(corpus_summary "$CORPUS")

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS_DIR/growth-$STAMP
MACHINE=$(machine_info)

read -r -a TOOL_LIST <<<"$TOOLS"
for tool in "${TOOL_LIST[@]}"; do
	REPO=$GDIR/repo-$tool
	rm -rf "$REPO" "${STATE_DIR:?}/growth-$tool"
	tool_env "growth-$tool"
	tool_init "$tool"
done
warm_cache "$CORPUS"

declare -A WALL CPU RSS SIZE OTHER VERIFIED
for ((n = 1; n <= LAST; n++)); do
	if ((n > 1)); then
		"$CORPUS_BIN" -q -dir "$CORPUS" -size "$BENCH_SIZE" -seed "$BENCH_SEED" -mutate $((n - 1)) ||
			die "corpus mutation step $((n - 1)) failed"
	fi
	# Alternate the order so no tool always runs right after the mutation.
	order=("${TOOL_LIST[@]}")
	if ((n % 2 == 0)); then
		order=()
		for ((i = ${#TOOL_LIST[@]} - 1; i >= 0; i--)); do order+=("${TOOL_LIST[i]}"); done
	fi
	line="backup #$n:"
	for tool in "${order[@]}"; do
		REPO=$GDIR/repo-$tool
		tool_env "growth-$tool"
		tool_backup "$tool" "$n" "growth-$tool-backup-$n"
		k=$tool/$n
		WALL[$k]=$M_WALL CPU[$k]=$M_CPU RSS[$k]=$M_RSS OTHER[$k]=$M_OTHER
		SIZE[$k]=$(repo_bytes "$REPO")
		line+=" $tool ${M_WALL}s $(kib2mib "$M_RSS")MiB;"
	done
	log "$line"
done
read -r C_FILES1 C_BYTES1 < <(corpus_summary "$CORPUS")

# median VALUE... — the median of numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# The paired comparison. Backups #2 and #LAST are minutes apart, and this
# machine's speed drifts by more than the 20% the target allows in that time
# (two runs of the same code gave 1.18× and 1.38× for backups of ~0.3 s,
# with no trend between). So after the run, each further mutation step is
# backed up into the grown repository and into a control repository that
# holds only one backup of the state at #LAST, one right after the other (the
# order alternating): the same data at the same moment, with LAST and more
# backups of history against one and more.
declare -A GWALL GRSS CWALL CRSS
if ((GROWTH_CONTROL > 0)); then
	for tool in "${TOOL_LIST[@]}"; do
		REPO=$GDIR/control-$tool
		rm -rf "$REPO" "${STATE_DIR:?}/growth-control-$tool"
		tool_env "growth-control-$tool"
		tool_init "$tool"
		tool_backup "$tool" 1 "growth-control-$tool-backup-1"
	done
	for ((c = 1; c <= GROWTH_CONTROL; c++)); do
		"$CORPUS_BIN" -q -dir "$CORPUS" -size "$BENCH_SIZE" -seed "$BENCH_SEED" -mutate $((LAST + c - 1)) ||
			die "corpus mutation step $((LAST + c - 1)) failed"
		line="paired backup $c:"
		for tool in "${TOOL_LIST[@]}"; do
			repos=(grown control)
			((c % 2 == 0)) && repos=(control grown)
			for which in "${repos[@]}"; do
				if [[ $which == grown ]]; then
					REPO=$GDIR/repo-$tool
					tool_env "growth-$tool"
					tool_backup "$tool" $((LAST + c)) "growth-$tool-backup-$((LAST + c))"
					GWALL[$tool/$c]=$M_WALL GRSS[$tool/$c]=$M_RSS
				else
					REPO=$GDIR/control-$tool
					tool_env "growth-control-$tool"
					tool_backup "$tool" $((c + 1)) "growth-control-$tool-backup-$((c + 1))"
					CWALL[$tool/$c]=$M_WALL CRSS[$tool/$c]=$M_RSS
				fi
			done
			line+=" $tool ${GWALL[$tool/$c]}s/${CWALL[$tool/$c]}s;"
		done
		log "$line (grown/control)"
	done
	rm -rf "$GDIR"/control-*
fi

# PAIRED[tool/gw|cw|gr|cr] are the medians of the paired backups' wall times
# and peak RSS (grown, control); PAIRED[tool/wall|rss] the ratios.
declare -A PAIRED
if ((GROWTH_CONTROL > 0)); then
	for tool in "${TOOL_LIST[@]}"; do
		gws=() cws=() grs=() crs=()
		for ((c = 1; c <= GROWTH_CONTROL; c++)); do
			gws+=("${GWALL[$tool/$c]}") cws+=("${CWALL[$tool/$c]}") grs+=("${GRSS[$tool/$c]}") crs+=("${CRSS[$tool/$c]}")
		done
		PAIRED[$tool/gw]=$(median "${gws[@]}") PAIRED[$tool/cw]=$(median "${cws[@]}")
		PAIRED[$tool/gr]=$(median "${grs[@]}") PAIRED[$tool/cr]=$(median "${crs[@]}")
		PAIRED[$tool/wall]=$(ratio "${PAIRED[$tool/gw]}" "${PAIRED[$tool/cw]}")
		PAIRED[$tool/rss]=$(ratio "${PAIRED[$tool/gr]}" "${PAIRED[$tool/cr]}")
	done
fi

if ((GROWTH_VERIFY)); then
	for tool in "${TOOL_LIST[@]}"; do
		REPO=$GDIR/repo-$tool
		TARGET=$GDIR/restore-$tool
		tool_env "growth-$tool"
		tool_restore "$tool" $((LAST + GROWTH_CONTROL)) "growth-$tool-restore"
		verify_restore "$tool"
		VERIFIED[$tool]="$VERIFY_NOTE (restore ${M_WALL}s, peak RSS $(kib2mib "$M_RSS") MiB)"
		rm -rf "$TARGET"
	done
fi
ELAPSED=$((SECONDS - START))


report() {
	local t n
	echo "# Lumbung benchmark: cost of backup #$LAST vs #2"
	echo
	echo "## Machine"
	echo
	while IFS= read -r l; do echo "- $l"; done <<<"$MACHINE"
	echo
	echo "## Setup"
	echo
	echo "- command: \`BENCH_SIZE=$BENCH_SIZE BENCH_SEED=$BENCH_SEED TOOLS=\"$TOOLS\" GROWTH_STEPS=$GROWTH_STEPS bench/growth.sh\`"
	echo "- corpus: $C_FILES0 files, $(mib "$C_BYTES0") MiB at backup #1; $C_FILES1 files, $(mib "$C_BYTES1") MiB at backup #$LAST"
	echo "- before each backup #n (n ≥ 2): mutation step n−1 (~1% of small files edited, size/1000 bytes appended to the SQL dump, 5 small files and one size/512 JPEG added)"
	echo "- every tool backs up the same corpus state at each step; tool order alternates between steps; \`sync\` before every backup; warm page cache; before each backup, wait up to ${BENCH_WAIT_IDLE}s for an idle machine"
	echo "- restic: default compression \`auto\`; borg (if run): repokey-blake2, default compression \`lz4\`"
	echo
	echo "## Every backup"
	echo
	local h1="| backup # |" h2="| ---: |"
	for t in "${TOOL_LIST[@]}"; do
		h1+=" $t wall s | $t peak RSS MiB |"
		h2+=" ---: | ---: |"
	done
	echo "$h1"
	echo "$h2"
	for ((n = 1; n <= LAST; n++)); do
		local row="| $n |"
		for t in "${TOOL_LIST[@]}"; do
			row+=" $(printf '%.2f' "${WALL[$t/$n]}") | $(kib2mib "${RSS[$t/$n]}") |"
		done
		echo "$row"
	done
	echo
	echo "## Backup #$LAST vs backup #2 (target ≤ 1.2×)"
	echo
	echo "| tool | wall #2 s | wall #$LAST s | wall ratio | RSS #2 MiB | RSS #$LAST MiB | RSS ratio | result | repo MiB #1 → #$LAST |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
	local wr rr res
	for t in "${TOOL_LIST[@]}"; do
		wr=$(ratio "${WALL[$t/$LAST]}" "${WALL[$t/2]}")
		rr=$(ratio "${RSS[$t/$LAST]}" "${RSS[$t/2]}")
		res=PASS
		[[ $(check "$wr" "<=" 1.2) == PASS && $(check "$rr" "<=" 1.2) == PASS ]] || res=FAIL
		printf '| %s | %.2f | %.2f | %s× | %s | %s | %s× | %s | %s → %s |\n' "$t" "${WALL[$t/2]}" "${WALL[$t/$LAST]}" "$wr" \
			"$(kib2mib "${RSS[$t/2]}")" "$(kib2mib "${RSS[$t/$LAST]}")" "$rr" "$res" "$(mib "${SIZE[$t/1]}")" "$(mib "${SIZE[$t/$LAST]}")"
	done
	if ((LAST >= 6)); then
		echo
		echo "Less noisy view, median of three backups (#2–#4 vs #$((LAST - 2))–#$LAST):"
		echo
		echo "| tool | median wall early s | median wall late s | ratio | median RSS early MiB | median RSS late MiB | ratio |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
		local we wl re rl
		for t in "${TOOL_LIST[@]}"; do
			we=$(median "${WALL[$t/2]}" "${WALL[$t/3]}" "${WALL[$t/4]}")
			wl=$(median "${WALL[$t/$((LAST - 2))]}" "${WALL[$t/$((LAST - 1))]}" "${WALL[$t/$LAST]}")
			re=$(median "${RSS[$t/2]}" "${RSS[$t/3]}" "${RSS[$t/4]}")
			rl=$(median "${RSS[$t/$((LAST - 2))]}" "${RSS[$t/$((LAST - 1))]}" "${RSS[$t/$LAST]}")
			printf '| %s | %.2f | %.2f | %s× | %s | %s | %s× |\n' "$t" "$we" "$wl" "$(ratio "$wl" "$we")" \
				"$(kib2mib "$re")" "$(kib2mib "$rl")" "$(ratio "$rl" "$re")"
		done
	fi
	if ((GROWTH_CONTROL > 0)); then
		echo
		echo "## History's cost, paired (target ≤ 1.2×)"
		echo
		echo "Mutation steps $LAST–$((LAST + GROWTH_CONTROL - 1)), each backed up into the grown repository (backups #$((LAST + 1))–#$((LAST + GROWTH_CONTROL))) and, right before or after it, into a control repository holding only one backup of the state at #$LAST (its backups #2–#$((GROWTH_CONTROL + 1))): the same data at the same moment. Medians over the $GROWTH_CONTROL pairs:"
		echo
		echo "| tool | wall, grown s | wall, control s | ratio | peak RSS, grown MiB | peak RSS, control MiB | ratio | result |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
		local pres
		for t in "${TOOL_LIST[@]}"; do
			pres=PASS
			[[ $(check "${PAIRED[$t/wall]}" "<=" 1.2) == PASS && $(check "${PAIRED[$t/rss]}" "<=" 1.2) == PASS ]] || pres=FAIL
			printf '| %s | %.2f | %.2f | %s× | %s | %s | %s× | %s |\n' "$t" "${PAIRED[$t/gw]}" "${PAIRED[$t/cw]}" "${PAIRED[$t/wall]}" \
				"$(kib2mib "${PAIRED[$t/gr]}")" "$(kib2mib "${PAIRED[$t/cr]}")" "${PAIRED[$t/rss]}" "$pres"
		done
	fi
	if has_tool lumbung && has_tool restic; then
		echo
		echo "Backup #$LAST, restic / lumbung wall time: $(ratio "${WALL[restic/$LAST]}" "${WALL[lumbung/$LAST]}")×;" \
			"lumbung / restic peak RSS: $(ratio "${RSS[lumbung/$LAST]}" "${RSS[restic/$LAST]}")×;" \
			"lumbung / restic repository size: $(ratio "${SIZE[lumbung/$LAST]}" "${SIZE[restic/$LAST]}")×."
	fi
	local k worst=0 worstk=""
	for k in "${!OTHER[@]}"; do
		if awk -v a="${OTHER[$k]}" -v b="$worst" 'BEGIN{exit !(a > b)}'; then worst=${OTHER[$k]} worstk=$k; fi
	done
	echo
	echo "Noise gauge: the most CPU used by the rest of the machine during one backup was ${worst}s${worstk:+ (${worstk%/*} backup #${worstk#*/}, wall ${WALL[$worstk]}s)};"
	echo "if that is more than a small fraction of wall time × $(nproc) CPUs, the machine was shared and the numbers are noisy (per-backup values in the CSV)."
	if ((GROWTH_VERIFY)); then
		echo
		echo "Restore of backup #$((LAST + GROWTH_CONTROL)) (diff -r against the corpus):"
		for t in "${TOOL_LIST[@]}"; do echo "- $t: ${VERIFIED[$t]}"; done
	fi
	echo
	echo "Whole run took ${ELAPSED}s."
}

write_csv() {
	echo "tool,backup,wall_s,cpu_s,peak_rss_kib,repo_bytes,other_cpu_s"
	local t n
	for t in "${TOOL_LIST[@]}"; do
		for ((n = 1; n <= LAST; n++)); do
			echo "$t,$n,${WALL[$t/$n]},${CPU[$t/$n]},${RSS[$t/$n]},${SIZE[$t/$n]},${OTHER[$t/$n]}"
		done
	done
}

write_json() {
	local t n first=1 line key val
	echo "{"
	echo "  \"benchmark\": \"growth\","
	echo "  \"settings\": {\"bench_size\": $(json_str "$BENCH_SIZE"), \"seed\": $BENCH_SEED, \"tools\": $(json_str "$TOOLS"), \"steps\": $LAST, \"elapsed_s\": $ELAPSED},"
	echo "  \"corpus\": {\"files_first\": $C_FILES0, \"bytes_first\": $C_BYTES0, \"files_last\": $C_FILES1, \"bytes_last\": $C_BYTES1},"
	machine_json "$MACHINE"
	echo "  \"backups\": ["
	first=1
	for t in "${TOOL_LIST[@]}"; do
		for ((n = 1; n <= LAST; n++)); do
			((first)) || echo ","
			first=0
			printf '    {"tool": "%s", "backup": %d, "wall_s": %s, "cpu_s": %s, "peak_rss_kib": %s, "repo_bytes": %s, "other_cpu_s": %s}' \
				"$t" "$n" "${WALL[$t/$n]}" "${CPU[$t/$n]}" "${RSS[$t/$n]}" "${SIZE[$t/$n]}" "${OTHER[$t/$n]}"
		done
	done
	echo
	echo "  ],"
	echo "  \"paired\": ["
	first=1
	if ((GROWTH_CONTROL > 0)); then
		for t in "${TOOL_LIST[@]}"; do
			((first)) || echo ","
			first=0
			printf '    {"tool": "%s", "pairs": %d, "wall_grown_s": %s, "wall_control_s": %s, "wall": %s, "peak_rss_grown_kib": %s, "peak_rss_control_kib": %s, "peak_rss": %s, "target": 1.2}' \
				"$t" "$GROWTH_CONTROL" "${PAIRED[$t/gw]}" "${PAIRED[$t/cw]}" "$(json_num "${PAIRED[$t/wall]}")" "${PAIRED[$t/gr]}" "${PAIRED[$t/cr]}" "$(json_num "${PAIRED[$t/rss]}")"
		done
	fi
	echo
	echo "  ],"
	echo "  \"ratios_last_vs_2\": ["
	first=1
	for t in "${TOOL_LIST[@]}"; do
		((first)) || echo ","
		first=0
		printf '    {"tool": "%s", "wall": %s, "peak_rss": %s, "target": 1.2}' "$t" \
			"$(json_num "$(ratio "${WALL[$t/$LAST]}" "${WALL[$t/2]}")")" "$(json_num "$(ratio "${RSS[$t/$LAST]}" "${RSS[$t/2]}")")"
	done
	echo
	echo "  ]"
	echo "}"
}

report >"$OUT.md"
write_csv >"$OUT.csv"
write_json >"$OUT.json"
for ext in md csv json; do cp "$OUT.$ext" "$RESULTS_DIR/latest-growth.$ext"; done
cat "$OUT.md"
echo
echo "Results written to $OUT.{md,csv,json}"
