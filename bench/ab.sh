#!/usr/bin/env bash
# bench/ab.sh — does a change make lumbung's restore faster? Paired restores
# by two binaries from one repository, for differences smaller than the drift
# of a shared machine between two runs of bench/run.sh.
#
#   bench/ab.sh [-n PAIRS] [-fresh IMAGE] REPO A B [RESTORE FLAGS...]
#
# Each pair restores the latest snapshot of REPO with binary A and with
# binary B (B first in every other pair, so neither always goes first), each
# into an empty directory, after REPO's files were dropped from the page
# cache. The report gives both medians (wall time, CPU, peak RSS), the median
# of the pairs' differences and in how many pairs B was faster. A and B are
# lumbung binaries (`go build -o /tmp/a ./cmd/lumbung` on each commit);
# LUMBUNG_PASSWORD opens REPO (default: the harness's password).
#
#   -n PAIRS      pairs to run (default 8)
#   -fresh IMAGE  restore each time into a newly made ext4 without a journal
#                 on a loop device over the file IMAGE (made at 8 GiB if
#                 missing; needs root), so that every restore meets the same
#                 empty file system. Without it, restores go into
#                 $BENCH_DIR/ab-* on that directory's file system and are
#                 deleted at the end (see mass_delete in lib.sh).
#
# Environment: BENCH_DIR, BENCH_WAIT_IDLE, BENCH_DELETE_QUIET as for run.sh.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	sed -n '6p' "${BASH_SOURCE[0]}" | sed 's/^#  *//' >&2
	exit 2
}

PAIRS=8 IMAGE=""
while (($# > 0)); do
	case $1 in
	-n) PAIRS=${2:?-n needs a number}; shift 2 ;;
	-fresh) IMAGE=${2:?-fresh needs an image file}; shift 2 ;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
(($# >= 3)) || usage
REPO=$1 A=$2 B=$3
shift 3
[[ -d $REPO/data ]] || die "$REPO is not a lumbung repository"
[[ -x $A && -x $B ]] || die "A and B must be lumbung binaries ($A, $B)"
((PAIRS > 0)) || die "-n: want at least one pair"

setup_dirs
MNT="" LOOP=""
if [[ -n $IMAGE ]]; then
	((EUID == 0)) || die "-fresh needs root (mkfs, losetup, mount)"
	[[ -e $IMAGE ]] || fallocate -l 8G "$IMAGE"
	LOOP=$(losetup --direct-io=on -f --show "$IMAGE")
	MNT=$(mktemp -d)
	trap 'umount "$MNT" 2>/dev/null; losetup -d "$LOOP"; rmdir "$MNT"' EXIT
else
	if compgen -G "$BENCH_DIR/ab-*" >/dev/null; then # left by an interrupted run
		mass_delete "$BENCH_DIR"/ab-*
	fi
	wait_after_mass_delete
fi

# evict DIR — drop DIR's files from the page cache, so that every restore
# reads the repository from the disk.
evict() { find "$1" -type f -exec dd iflag=nocache count=0 status=none if={} \;; }

# restore_once BIN N — one measured restore; prints "WALL CPU RSS_KIB".
restore_once() {
	local target
	if [[ -n $MNT ]]; then
		umount "$MNT" 2>/dev/null || true
		mkfs.ext4 -q -F -O ^has_journal "$LOOP"
		mount "$LOOP" "$MNT"
		target=$MNT/t
	else
		target=$BENCH_DIR/ab-$2
	fi
	evict "$REPO"
	measure "$LOG_DIR/ab-restore.log" "$1" restore --repo "$REPO" latest --target "$target" "${FLAGS[@]}"
	echo "$M_WALL $M_CPU $M_RSS"
}

FLAGS=("$@")
OUT=$LOG_DIR/ab-$(date -u +%Y%m%dT%H%M%SZ).txt
: >"$OUT"
for ((i = 1; i <= PAIRS; i++)); do
	if ((i % 2)); then
		a=$(restore_once "$A" "$i-a")
		b=$(restore_once "$B" "$i-b")
	else
		b=$(restore_once "$B" "$i-b")
		a=$(restore_once "$A" "$i-a")
	fi
	echo "$a $b" >>"$OUT"
	log "pair $i of $PAIRS: A $a | B $b (wall s, CPU s, peak RSS KiB)"
done
[[ -n $MNT ]] || mass_delete "$BENCH_DIR"/ab-*

echo "A: $A"
echo "B: $B"
awk '
function median(v, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
{ n++; aw[n] = $1; ac[n] = $2; ar[n] = $3; bw[n] = $4; bc[n] = $5; br[n] = $6; d[n] = $4 - $1; if ($4 < $1) faster++ }
END {
	ma = median(aw, n); md = median(d, n)
	printf "A median: wall %.2f s, CPU %.2f s, peak RSS %.1f MiB\n", ma, median(ac, n), median(ar, n) / 1024
	printf "B median: wall %.2f s, CPU %.2f s, peak RSS %.1f MiB\n", median(bw, n), median(bc, n), median(br, n) / 1024
	printf "B - A, median of %d pairs: %+.3f s (%+.1f%%); B faster in %d of %d\n", n, md, 100 * md / ma, faster, n
}' "$OUT"
echo "pairs: $OUT"
