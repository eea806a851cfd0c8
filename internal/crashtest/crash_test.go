//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test. One iteration: snapshot the repository's file listing,
// start `lumbung backup --json`, SIGKILL it at a random moment (or right
// after it stored a pack), run `lumbung check --json` (every fifth time with
// --read-data) and require it to pass, now and then prove that a complete
// backup reuses what the killed one stored, then change the source a little.
// At the end: a complete backup, check --read-data, and restores of the
// newest snapshots compared with the source byte for byte.

const (
	defaultIterations      = 10
	defaultShortIterations = 5
	// cmdTimeout bounds every lumbung process, so a hang fails the test
	// with a message instead of stalling `go test` until its own timeout.
	cmdTimeout = 3 * time.Minute
	// readDataEvery: every this many iterations check reads every byte.
	readDataEvery = 5
	// proofEvery: at most one reuse proof per this many iterations (each
	// costs two complete backups); the first eligible kill is always used.
	proofEvery = 5
	// onPackShare is the share of kills made right after a new pack file
	// appears (the moment that matters for reuse) instead of after a random
	// delay.
	onPackShare = 0.25
	password    = "crash-test password"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// lumbungBinary builds ./cmd/lumbung once per test process.
func lumbungBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go command is needed to build lumbung: %w", err)
			return
		}
		out, err := exec.Command(goCmd, "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			buildErr = errors.New("go env GOMOD: not inside the lumbung module")
			return
		}
		binDir, err = os.MkdirTemp("", "lumbung-crashtest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "lumbung")
		cmd := exec.Command(goCmd, "build", "-o", binPath, "./cmd/lumbung")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/lumbung: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func iterations(t *testing.T) int {
	t.Helper()
	if v := os.Getenv("LUMBUNG_CRASH_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LUMBUNG_CRASH_ITERATIONS=%q: want a positive number", v)
		}
		return n
	}
	if testing.Short() {
		return defaultShortIterations
	}
	return defaultIterations
}

func seed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv("LUMBUNG_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LUMBUNG_CRASH_SEED=%q: want an unsigned number", v)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

func TestCrash(t *testing.T) {
	testStart := time.Now()
	n := iterations(t)
	sd := seed(t)
	t.Logf("%d iterations, seed %d (LUMBUNG_CRASH_SEED=%d repeats the corpus, its changes and the random choices)", n, sd, sd)
	h := newHarness(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	c := newCorpus(src, sd)
	genStart := time.Now()
	c.generate(t)
	t.Logf("corpus: %s in %d entries, made in %v", mib(treeSize(t, src)), len(manifest(t, src)), since(genStart))
	killRNG := rand.New(rand.NewPCG(sd, 0x6b696c6c))

	// Calibrate: one uninterrupted backup of a separate repository tells
	// how long a backup of this corpus takes on this machine, so that the
	// kill times spread over a whole backup.
	calRepo := filepath.Join(work, "calibrate")
	h.mustRun("init", "--repo", calRepo, "--json")
	cal := h.mustRun("backup", "--repo", calRepo, "--json", src)
	calSum := decodeMessage[backupSummary](t, cal.stdout, "summary")
	est := cal.dur
	t.Logf("calibration: a complete backup into a new repository takes %v and stores %s (%d packs)",
		cal.dur.Round(time.Millisecond), mib(calSum.DataAddedPacked), len(listPacks(t, calRepo)))
	os.RemoveAll(calRepo)

	repo := filepath.Join(work, "repo")
	h.mustRun("init", "--repo", repo, "--json")

	// want maps every snapshot in the repository to the manifest of the
	// source when it was taken (the source changes only between backups).
	want := map[string]map[string]entry{}
	recordNewSnapshots := func(expect string) {
		t.Helper()
		var added []string
		for _, sn := range h.snapshots(repo) {
			if _, ok := want[sn.ID]; !ok {
				added = append(added, sn.ID)
			}
		}
		if len(added) == 0 {
			return
		}
		if len(added) > 1 || (expect != "" && added[0] != expect) {
			t.Fatalf("new snapshots %q appeared; want only %q", added, expect)
		}
		want[added[0]] = manifest(t, src)
	}

	var kills, killsWithPacks, completions, proofs int
	lastProof := -proofEvery
	for i := range n {
		itStart := time.Now()
		before := readState(t, repo)
		var plan killPlan
		if killRNG.Float64() < onPackShare {
			plan = killPlan{onPack: true, base: len(before.packs), extra: time.Duration(killRNG.Int64N(int64(20 * time.Millisecond)))}
		} else {
			// Anywhere in the expected run time est: the last complete
			// backup's, at first the calibration's. Backups that take
			// less complete, and correct the estimate.
			plan = killPlan{delay: time.Duration(killRNG.Float64() * float64(est))}
		}
		res := h.backupAndKill(repo, src, plan)
		after := readState(t, repo)
		newPacks := newEntries(before.packs, after.packs)
		what := ""
		if res.killed {
			kills++
			if len(newPacks) > 0 {
				killsWithPacks++
			}
			what = "killed after " + res.dur.Round(time.Millisecond).String()
			if plan.onPack {
				what += " (on a new pack)"
			} else if plan.delay > est/2 {
				// It ran longer than half the estimate: the source has
				// changed more since the last complete backup. Raise the
				// estimate quickly (a completion brings it back down), but
				// not beyond what a backup storing everything needs.
				est = min(max(est, plan.delay*3/2), 2*cal.dur)
			}
			recordNewSnapshots("") // killed between saving the snapshot and exiting
		} else {
			completions++
			if res.code != 0 {
				t.Fatalf("iteration %d: uninterrupted backup exited %d\nstderr: %s", i, res.code, res.stderr)
			}
			sum := decodeMessage[backupSummary](t, res.stdout, "summary")
			recordNewSnapshots(sum.SnapshotID)
			est = res.dur
			what = fmt.Sprintf("completed in %v before the kill (adopted %d packs)", res.dur.Round(time.Millisecond), sum.PacksAdopted)
		}

		readData := i%readDataEvery == readDataEvery-1
		chk := h.check(repo, readData, !res.killed)
		line := fmt.Sprintf("iteration %2d: backup %s: +%d packs (%s), +%d index, +%d snapshots; check%s %v",
			i, what, len(newPacks), mib(sumSizes(newPacks)), after.index-before.index, after.snapshots-before.snapshots,
			map[bool]string{true: " --read-data", false: ""}[readData], chk.dur.Round(time.Millisecond))

		// Reuse: a kill after packs were stored but before any index named
		// them. (A kill after the index was written leaves nothing to adopt:
		// the next backup finds those blobs in the index instead.)
		eligible := res.killed && len(newPacks) > 0 && after.index == before.index && after.snapshots == before.snapshots
		if eligible && (proofs == 0 || i-lastProof >= proofEvery) {
			line += "; " + h.proveReuse(work, repo, src, newPacks)
			recordNewSnapshots("")
			h.check(repo, false, true)
			proofs++
			lastProof = i
		}
		if i < n-1 {
			line += "; " + c.mutate(t)
		}
		t.Logf("%s [%v]", line, since(itStart))
	}

	// However the schedule fell, prove reuse at least once: add fresh data
	// larger than a pack, kill the backup as soon as its first pack is
	// stored, and compare.
	if proofs == 0 {
		c.addLarge(t, 24<<20)
		before := readState(t, repo)
		res := h.backupAndKill(repo, src, killPlan{onPack: true, base: len(before.packs)})
		after := readState(t, repo)
		newPacks := newEntries(before.packs, after.packs)
		if !res.killed || len(newPacks) == 0 || after.index != before.index {
			t.Fatalf("forced kill after the first pack: killed=%v, %d new packs, %d new index files; cannot prove reuse",
				res.killed, len(newPacks), after.index-before.index)
		}
		kills++
		killsWithPacks++
		h.check(repo, false, false)
		t.Logf("forced kill after %v: +%d packs; %s", res.dur.Round(time.Millisecond), len(newPacks), h.proveReuse(work, repo, src, newPacks))
		recordNewSnapshots("")
		proofs++
	}

	// A complete backup, then every byte checked.
	final := h.mustRun("backup", "--repo", repo, "--json", src)
	fin := decodeMessage[backupSummary](t, final.stdout, "summary")
	recordNewSnapshots(fin.SnapshotID)
	chk := h.check(repo, true, true)
	t.Logf("final backup %s in %v (adopted %d packs); check --read-data read %s in %v",
		short(fin.SnapshotID), final.dur.Round(time.Millisecond), fin.PacksAdopted, mib(chk.sum.Report.BytesRead), chk.dur.Round(time.Millisecond))

	// Only complete snapshots are listed: each one was either reported by
	// a backup that finished, or written by a killed one just before it
	// died (after everything it needs was stored and indexed: check above
	// read every byte of every snapshot). The newest two, and one older
	// one, restore to exactly the source they were taken from.
	list := h.snapshots(repo)
	if len(list) != len(want) {
		t.Errorf("snapshots lists %d snapshots; %d were made", len(list), len(want))
	}
	for _, sn := range list {
		if _, ok := want[sn.ID]; !ok {
			t.Errorf("snapshot %s is listed but no backup made it", short(sn.ID))
		}
	}
	slices.SortFunc(list, func(a, b snapshotEntry) int { return a.Time.Compare(b.Time) })
	if list[len(list)-1].ID != fin.SnapshotID {
		t.Errorf("latest snapshot is %s, want the final backup's %s", short(list[len(list)-1].ID), short(fin.SnapshotID))
	}
	toRestore := []int{len(list) - 1}
	if len(list) > 1 {
		toRestore = append(toRestore, len(list)-2)
	}
	if len(list) > 2 {
		toRestore = append(toRestore, killRNG.IntN(len(list)-2))
	}
	for k, idx := range toRestore {
		sn := list[idx]
		target := filepath.Join(work, fmt.Sprintf("restore-%d", k))
		arg := sn.ID
		if k == 0 {
			arg = "latest"
		}
		r := h.mustRun("restore", arg, "--repo", repo, "--target", target, "--json")
		restored := filepath.Join(target, src)
		if k == 0 {
			compareTrees(t, src, restored)
		}
		if diffs := diffManifests(want[sn.ID], manifest(t, restored)); len(diffs) > 0 {
			t.Errorf("snapshot %s restored differently from the source it was taken from:\n%s", short(sn.ID), strings.Join(diffs, "\n"))
		}
		t.Logf("restored snapshot %s (%d of %d) in %v: matches its source", short(sn.ID), idx+1, len(list), r.dur.Round(time.Millisecond))
		os.RemoveAll(target)
	}

	// The killed backups left their locks; unlock removes those of dead
	// processes on this host.
	locks := countFiles(t, filepath.Join(repo, "locks"))
	u := h.mustRun("unlock", "--repo", repo, "--json")
	unlocked := decodeMessage[struct {
		Removed int `json:"removed"`
	}](t, u.stdout, "unlocked")
	if left := countFiles(t, filepath.Join(repo, "locks")); left != locks-unlocked.Removed || unlocked.Removed > kills {
		t.Errorf("unlock removed %d of %d locks (%d kills) and %d remain", unlocked.Removed, locks, kills, left)
	}
	t.Logf("done: %d kills (%d after packs were stored), %d backups completed before their kill, %d reuse proofs, %d snapshots, %d stale locks removed by unlock, %s left in tmp/ by killed backups; %v in all",
		kills, killsWithPacks, completions, proofs, len(list), unlocked.Removed, mib(treeSize(t, filepath.Join(repo, "tmp"))), since(testStart))
}

// proveReuse shows that a complete backup reuses the packs newPacks that a
// killed backup stored (and no index names), and returns a summary.
//
// The reference is the same repository without those packs: a hard-linked
// clone of it (every repository file is immutable, so linking is safe)
// minus newPacks, i.e. the repository as it would be had the killed backup
// stored nothing. The same complete backup is run on both. The keys, the
// chunker seed, the source and the parent snapshot are the same, so both
// store the same blobs except the ones in newPacks, and
//
//	growth(reference) - growth(repository) = the bytes of the blobs in newPacks
//
// up to pack headers. Without reuse the difference would be about zero. It
// also asserts the mechanism: the repository's backup adopts exactly
// len(newPacks) packs more than the reference's.
func (h *harness) proveReuse(work, repo, src string, newPacks map[string]int64) string {
	t := h.t
	t.Helper()
	ref := filepath.Join(work, "reuse-reference")
	defer os.RemoveAll(ref)
	cloneRepo(t, repo, ref, newPacks)

	refBefore := sumSizes(listPacks(t, ref))
	refRes := h.mustRun("backup", "--repo", ref, "--json", src)
	refSum := decodeMessage[backupSummary](t, refRes.stdout, "summary")
	refGrowth := sumSizes(listPacks(t, ref)) - refBefore

	realBefore := sumSizes(listPacks(t, repo))
	realRes := h.mustRun("backup", "--repo", repo, "--json", src)
	realSum := decodeMessage[backupSummary](t, realRes.stdout, "summary")
	realGrowth := sumSizes(listPacks(t, repo)) - realBefore

	stored := sumSizes(newPacks)
	saved := refGrowth - realGrowth
	// Pack headers (about 40 bytes a blob) differ between the two runs;
	// the blobs themselves are identical.
	slack := int64(64<<10) + stored/100
	if realSum.PacksAdopted != refSum.PacksAdopted+len(newPacks) {
		t.Errorf("reuse: the backup after the kill adopted %d packs, the reference (without the killed backup's %d packs) %d: want %d",
			realSum.PacksAdopted, len(newPacks), refSum.PacksAdopted, refSum.PacksAdopted+len(newPacks))
	}
	if saved < stored-slack || saved > stored+slack {
		t.Errorf("reuse: the killed backup stored %d packs (%d bytes); the next complete backup stored %d bytes, the reference without those packs %d: "+
			"it saved %d bytes, want %d ± %d (the killed backup's data stored again?)",
			len(newPacks), stored, realGrowth, refGrowth, saved, stored, slack)
	}
	return fmt.Sprintf("reuse proof: next backup adopted %d packs (reference %d), stored %s where the reference stored %s (saved %s of the killed backup's %s) [%v+%v]",
		realSum.PacksAdopted, refSum.PacksAdopted, mib(realGrowth), mib(refGrowth), mib(saved), mib(stored),
		refRes.dur.Round(time.Millisecond), realRes.dur.Round(time.Millisecond))
}

// harness runs the lumbung binary.
type harness struct {
	t   *testing.T
	bin string
	env []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LUMBUNG_") {
			env = append(env, kv)
		}
	}
	env = append(env, "LUMBUNG_PASSWORD="+password, "LUMBUNG_INSECURE_TEST_KDF=1")
	return &harness{t: t, bin: lumbungBinary(t), env: env}
}

type result struct {
	code           int
	killed         bool // by our SIGKILL
	stdout, stderr string
	dur            time.Duration
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, h.bin, args...)
	c.Env = h.env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	r := result{stdout: out.String(), stderr: errb.String(), dur: time.Since(start)}
	if ctx.Err() != nil {
		h.t.Fatalf("lumbung %s: no result after %v (hung?)\nstderr: %s", strings.Join(args, " "), cmdTimeout, r.stderr)
	}
	if c.ProcessState == nil {
		h.t.Fatalf("lumbung %s: %v", strings.Join(args, " "), err)
	}
	r.code = c.ProcessState.ExitCode()
	return r
}

func (h *harness) mustRun(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("lumbung %s: exit code %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.code, r.stderr, tail(r.stdout, 2000))
	}
	return r
}

// killPlan says when to kill a backup: after delay, or (onPack) once the
// repository holds more than base packs, plus extra.
type killPlan struct {
	delay  time.Duration
	onPack bool
	base   int
	extra  time.Duration
}

// backupAndKill runs a backup and SIGKILLs it as planned, unless it
// finishes first.
func (h *harness) backupAndKill(repo, src string, plan killPlan) result {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, h.bin, "backup", "--repo", repo, "--json", src)
	c.Env = h.env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	if err := c.Start(); err != nil {
		t.Fatalf("start backup: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	kill := func() {
		_ = c.Process.Signal(syscall.SIGKILL) // fails harmlessly if it just exited
		<-done
	}
	if plan.onPack {
		tick := time.NewTicker(3 * time.Millisecond)
	poll:
		for {
			select {
			case <-done:
				break poll
			case <-tick.C:
				if countPacks(repo) > plan.base {
					time.Sleep(plan.extra)
					kill()
					break poll
				}
			}
		}
		tick.Stop()
	} else {
		timer := time.NewTimer(plan.delay)
		select {
		case <-done:
		case <-timer.C:
			kill()
		}
		timer.Stop()
	}
	r := result{stdout: out.String(), stderr: errb.String(), dur: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("backup: no result after %v (hung?)\nstderr: %s", cmdTimeout, r.stderr)
	}
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	r.killed = ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	r.code = c.ProcessState.ExitCode()
	return r
}

type checkResult struct {
	sum checkSummary
	dur time.Duration
}

// check runs `lumbung check --json` and requires it to pass. Warnings about
// packs in no index (left by a killed backup), stale locks and duplicate
// blobs are harmless; after a complete backup (complete) there must be no
// unindexed packs left: it adopted them all.
func (h *harness) check(repo string, readData, complete bool) checkResult {
	t := h.t
	t.Helper()
	args := []string{"check", "--repo", repo, "--json"}
	if readData {
		args = append(args, "--read-data")
	}
	r := h.run(args...)
	sum := decodeMessage[checkSummary](t, r.stdout, "summary")
	if r.code != 0 || sum.OK == nil || !*sum.OK || len(sum.Report.Errors) > 0 {
		t.Fatalf("%s: exit code %d, ok %v, errors:\n%s\nstderr: %s", strings.Join(args, " "), r.code, fmtOK(sum.OK), fmtProblems(sum.Report.Errors), r.stderr)
	}
	for _, w := range sum.Report.Warnings {
		switch {
		case w.Kind == "pack" && complete:
			t.Errorf("check after a complete backup: %s %s: %s (the backup should have adopted it)", w.Kind, w.Object, w.Message)
		case w.Kind != "pack" && w.Kind != "lock" && w.Kind != "index":
			t.Errorf("check: unexpected warning %s %s: %s", w.Kind, w.Object, w.Message)
		}
	}
	if readData && sum.Report.BytesRead == 0 && sum.Report.Packs > 0 {
		t.Errorf("check --read-data read nothing of %d packs", sum.Report.Packs)
	}
	return checkResult{sum: sum, dur: r.dur}
}

func (h *harness) snapshots(repo string) []snapshotEntry {
	h.t.Helper()
	r := h.mustRun("snapshots", "--repo", repo, "--json")
	var list []snapshotEntry
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		h.t.Fatalf("snapshots --json: %v\n%s", err, r.stdout)
	}
	return list
}

// JSON output of the CLI (docs/cli.md).

type backupSummary struct {
	SnapshotID      string `json:"snapshot_id"`
	PacksAdopted    int    `json:"packs_adopted"`
	DataAdded       int64  `json:"data_added"`
	DataAddedPacked int64  `json:"data_added_packed"`
}

type problem struct {
	Kind    string   `json:"kind"`
	Object  string   `json:"object"`
	Message string   `json:"message"`
	Files   []string `json:"files"`
}

type checkSummary struct {
	OK     *bool `json:"ok"`
	Report struct {
		Snapshots int       `json:"snapshots"`
		Packs     int       `json:"packs"`
		BytesRead int64     `json:"bytes_read"`
		Errors    []problem `json:"errors"`
		Warnings  []problem `json:"warnings"`
	} `json:"report"`
}

type snapshotEntry struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// decodeMessage returns the last line of out whose message_type is typ.
func decodeMessage[T any](t *testing.T, out, typ string) T {
	t.Helper()
	var v T
	found := false
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var head struct {
			MessageType string `json:"message_type"`
		}
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			t.Fatalf("output line is not a JSON object: %v\n%s", err, line)
		}
		if head.MessageType == typ {
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("decode %s message: %v\n%s", typ, err, line)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no %q message in the output:\n%s", typ, tail(out, 2000))
	}
	return v
}

func fmtOK(ok *bool) string {
	if ok == nil {
		return "missing"
	}
	return strconv.FormatBool(*ok)
}

func fmtProblems(ps []problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s %s: %s\n", p.Kind, p.Object, p.Message)
	}
	return b.String()
}

// Repository files, seen from outside.

type repoState struct {
	packs                  map[string]int64
	index, snapshots, lock int
}

func readState(t *testing.T, repo string) repoState {
	t.Helper()
	return repoState{packs: listPacks(t, repo), index: countFiles(t, filepath.Join(repo, "index")),
		snapshots: countFiles(t, filepath.Join(repo, "snapshots")), lock: countFiles(t, filepath.Join(repo, "locks"))}
}

// listPacks returns the pack files under data/ with their sizes.
func listPacks(t *testing.T, repo string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	subs, err := os.ReadDir(filepath.Join(repo, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		files, err := os.ReadDir(filepath.Join(repo, "data", s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			fi, err := f.Info()
			if err != nil {
				t.Fatal(err)
			}
			out[f.Name()] = fi.Size()
		}
	}
	return out
}

// countPacks counts pack files cheaply (it is polled while a backup runs).
func countPacks(repo string) int {
	n := 0
	for i := range 256 {
		d, err := os.Open(filepath.Join(repo, "data", fmt.Sprintf("%02x", i)))
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		n += len(names)
	}
	return n
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func newEntries(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func sumSizes(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// cloneRepo makes dst a copy of the repository src by hard links, leaving
// out the packs named in skip and any temporary files.
func cloneRepo(t *testing.T, src, dst string, skip map[string]int64) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(to, 0o700)
		case filepath.Dir(rel) == "tmp":
			return nil
		case skip != nil && filepath.Base(filepath.Dir(filepath.Dir(rel))) == "data":
			if _, ok := skip[d.Name()]; ok {
				return nil
			}
		}
		return os.Link(p, to)
	})
	if err != nil {
		t.Fatalf("clone repository: %v", err)
	}
}

// The source corpus: deterministic from the seed, about 64 MiB, mixed.

const (
	randomBytes = 44 << 20 // incompressible files of 1–8 MiB
	textBytes   = 16 << 20 // one compressible text file
	smallCount  = 300      // small files in nested directories
	smallDirs   = 12
)

type corpus struct {
	dir  string
	rng  *rand.Rand    // choices
	data *rand.ChaCha8 // file contents
	gen  int
}

func newCorpus(dir string, s uint64) *corpus {
	var s1, s2 [32]byte
	binary.LittleEndian.PutUint64(s1[:], s)
	binary.LittleEndian.PutUint64(s2[:], s)
	s1[31], s2[31] = 1, 2
	return &corpus{dir: dir, rng: rand.New(rand.NewChaCha8(s1)), data: rand.NewChaCha8(s2)}
}

func (c *corpus) path(parts ...string) string {
	return filepath.Join(append([]string{c.dir}, parts...)...)
}

func (c *corpus) generate(t *testing.T) {
	t.Helper()
	for _, d := range []string{"bin", "text", "links", "empty", "small"} {
		must(t, os.MkdirAll(c.path(d), 0o755))
	}
	for total, i := 0, 0; total < randomBytes; i++ {
		size := min(1<<20+c.rng.IntN(7<<20), max(randomBytes-total, 1<<20))
		c.writeRandom(t, c.path("bin", fmt.Sprintf("arsip-%02d.dat", i)), size)
		total += size
	}
	f, err := os.Create(c.path("text", "penduduk.csv"))
	must(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "nik;nama;tempat_lahir;tanggal_lahir;pekerjaan;rt_rw;desa")
	c.writeText(w, textBytes)
	must(t, w.Flush())
	must(t, f.Close())

	dirs := []string{}
	for i := range smallDirs {
		d := filepath.Join("small", fmt.Sprintf("d%02d", i))
		if i%4 == 3 {
			d = filepath.Join(d, "sub", "dalam")
		}
		dirs = append(dirs, d)
		must(t, os.MkdirAll(c.path(d), 0o755))
	}
	for i := range smallCount {
		c.writeSmall(t, c.path(dirs[c.rng.IntN(len(dirs))], fmt.Sprintf("f%03d.txt", i)))
	}
	must(t, os.WriteFile(c.path("small", "kosong.txt"), nil, 0o644))
	must(t, os.WriteFile(c.path("small", "d00", "hard-a"), []byte("hard-linked content\n"), 0o644))
	must(t, os.Link(c.path("small", "d00", "hard-a"), c.path("small", "d00", "hard-b")))
	must(t, os.WriteFile(c.path("small", "jalankan.sh"), []byte("#!/bin/sh\necho lumbung\n"), 0o755))
	must(t, os.Chmod(c.path("small", "d01"), 0o750))
	must(t, os.Symlink("../small/d00/hard-a", c.path("links", "ke-file")))
	must(t, os.Symlink("../small", c.path("links", "ke-dir")))
	must(t, os.Symlink("/nonexistent/lumbung/target", c.path("links", "putus")))
}

// mutate changes the corpus a little: one big file gets new content, the
// text grows, small files come and go, a mode and a symlink change.
func (c *corpus) mutate(t *testing.T) string {
	t.Helper()
	c.gen++
	var did []string
	bins := c.files(t, "bin")
	b := bins[c.rng.IntN(len(bins))]
	size := 1<<20 + c.rng.IntN(7<<20)
	c.writeRandom(t, b, size)
	did = append(did, fmt.Sprintf("rewrote %s (%s)", filepath.Base(b), mib(int64(size))))

	f, err := os.OpenFile(c.path("text", "penduduk.csv"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	w := bufio.NewWriter(f)
	c.writeText(w, 64<<10+c.rng.IntN(192<<10))
	must(t, w.Flush())
	must(t, f.Close())

	smalls := c.files(t, "small")
	for k := range 3 {
		d := filepath.Dir(smalls[c.rng.IntN(len(smalls))])
		c.writeSmall(t, filepath.Join(d, fmt.Sprintf("g%03d-%d.txt", c.gen, k)))
	}
	victim := smalls[c.rng.IntN(len(smalls))]
	must(t, os.Remove(victim))
	for {
		p := smalls[c.rng.IntN(len(smalls))]
		if p != victim {
			must(t, os.Chmod(p, []fs.FileMode{0o600, 0o640, 0o644, 0o755}[c.rng.IntN(4)]))
			break
		}
	}
	did = append(did, "+3 -1 small files")
	if c.gen%3 == 0 {
		d := c.path("small", fmt.Sprintf("gen%03d", c.gen))
		must(t, os.Mkdir(d, 0o755))
		c.writeSmall(t, filepath.Join(d, "a.txt"))
		c.writeSmall(t, filepath.Join(d, "b.txt"))
		rel, err := filepath.Rel(c.path("links"), filepath.Join(d, "a.txt"))
		must(t, err)
		must(t, os.Remove(c.path("links", "ke-file")))
		must(t, os.Symlink(rel, c.path("links", "ke-file")))
		did = append(did, "new dir, symlink moved")
	}
	return "source: " + strings.Join(did, ", ")
}

// addLarge adds a new incompressible file of size bytes.
func (c *corpus) addLarge(t *testing.T, size int) {
	t.Helper()
	c.gen++
	c.writeRandom(t, c.path("bin", fmt.Sprintf("besar-%03d.dat", c.gen)), size)
}

// files lists the regular files below dir (relative to the corpus), sorted.
func (c *corpus) files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(c.path(dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), "hard-") {
			out = append(out, p)
		}
		return err
	})
	must(t, err)
	if len(out) == 0 {
		t.Fatalf("no files left in %s", dir)
	}
	return out
}

func (c *corpus) writeRandom(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, len(buf))
		_, _ = c.data.Read(buf[:n])
		_, err := f.Write(buf[:n])
		must(t, err)
		size -= n
	}
	must(t, f.Close())
}

func (c *corpus) writeSmall(t *testing.T, path string) {
	t.Helper()
	size := c.rng.IntN(16<<10 + 1)
	var data []byte
	if c.rng.IntN(2) == 0 {
		var b bytes.Buffer
		c.writeText(&b, size)
		data = b.Bytes()
	} else {
		data = make([]byte, size)
		_, _ = c.data.Read(data)
	}
	must(t, os.WriteFile(path, data, 0o644))
	must(t, os.Chmod(path, []fs.FileMode{0o644, 0o600, 0o640, 0o755}[c.rng.IntN(4)]))
}

var (
	givenNames  = []string{"AGUS", "BUDI", "CITRA", "DEWI", "EKO", "FITRI", "GITA", "HADI", "INDAH", "JOKO", "KARTIKA", "LESTARI", "MADE", "NUR", "PUTU", "RAHMAT", "SARI", "TEGUH", "WAYAN", "YULI"}
	familyNames = []string{"SAPUTRA", "WIJAYA", "SETIAWAN", "HIDAYAT", "KUSUMA", "PRATAMA", "SANTOSO", "NUGROHO", "HARAHAP", "SIREGAR", "NASUTION", "LUBIS"}
	places      = []string{"BANDUNG", "GARUT", "CIANJUR", "BOGOR", "SUMEDANG", "TASIKMALAYA", "CIAMIS", "KUNINGAN", "CIREBON", "MAJALENGKA"}
	jobs        = []string{"PETANI", "GURU", "PNS", "WIRASWASTA", "NELAYAN", "PEDAGANG", "BURUH HARIAN LEPAS", "PELAJAR/MAHASISWA", "BIDAN", "SOPIR"}
	villages    = []string{"SUKAMAJU", "SUKASARI", "MEKARSARI", "CIPANAS", "SINDANGLAYA", "WANASARI", "MARGAMULYA", "KARANGANYAR"}
)

// writeText writes about n bytes of census-like lines.
func (c *corpus) writeText(w io.Writer, n int) {
	r := c.rng
	for n > 0 {
		line := fmt.Sprintf("32%02d%02d%010d;%s %s;%s;%04d-%02d-%02d;%s;%03d/%03d;%s\n",
			r.IntN(30), r.IntN(50), r.Int64N(1e10), givenNames[r.IntN(len(givenNames))], familyNames[r.IntN(len(familyNames))],
			places[r.IntN(len(places))], 1940+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28), jobs[r.IntN(len(jobs))],
			1+r.IntN(20), 1+r.IntN(15), villages[r.IntN(len(villages))])
		if len(line) > n {
			line = line[:n]
		}
		io.WriteString(w, line)
		n -= len(line)
	}
}

// Comparing trees.

// entry is what a restore must reproduce of one file system entry.
type entry struct {
	mode  fs.FileMode // type and permission bits
	size  int64
	mtime time.Time
	sum   [32]byte // SHA-256 of a regular file's content
	link  string   // symlink target
}

func (e entry) String() string {
	return fmt.Sprintf("%v size %d mtime %s sha256 %x link %q", e.mode, e.size, e.mtime.Format(time.RFC3339Nano), e.sum[:6], e.link)
}

const modeMask = fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// manifest describes every entry below root (root itself as ".").
func manifest(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		e := entry{mode: fi.Mode() & modeMask, mtime: fi.ModTime()}
		switch {
		case fi.Mode().IsRegular():
			e.size = fi.Size()
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			copy(e.sum[:], h.Sum(nil))
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// diffManifests lists the differences between want and got (at most 20).
func diffManifests(want, got map[string]entry) []string {
	var out []string
	for _, p := range sortedKeys(want) {
		w := want[p]
		g, ok := got[p]
		switch {
		case !ok:
			out = append(out, "missing: "+p)
		case g.mode != w.mode || g.size != w.size || !g.mtime.Equal(w.mtime) || g.sum != w.sum || g.link != w.link:
			out = append(out, fmt.Sprintf("%s:\n    want %v\n    got  %v", p, w, g))
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			out = append(out, "unexpected: "+p)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return out
}

// compareTrees compares the restored tree got with the source want entry
// by entry and byte for byte: type, permissions, modification time,
// symlink targets and content.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	paths := func(root string) []string {
		var out []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			out = append(out, rel)
			return err
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
		return out
	}
	wp, gp := paths(want), paths(got)
	if !slices.Equal(wp, gp) {
		t.Errorf("restored tree has different entries:\n  only in source: %q\n  only in restore: %q", minus(wp, gp), minus(gp, wp))
	}
	bad := 0
	for _, rel := range wp {
		if bad >= 20 {
			t.Errorf("... stopping after 20 differences")
			return
		}
		a, b := filepath.Join(want, rel), filepath.Join(got, rel)
		wi, err := os.Lstat(a)
		must(t, err)
		gi, err := os.Lstat(b)
		if err != nil {
			continue // listed above
		}
		if wi.Mode()&modeMask != gi.Mode()&modeMask {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode()&modeMask, wi.Mode()&modeMask)
			bad++
			continue
		}
		if !wi.ModTime().Equal(gi.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
			bad++
		}
		switch {
		case wi.Mode().IsRegular():
			if !sameContent(t, a, b) {
				t.Errorf("%s: content differs from the source", rel)
				bad++
			}
		case wi.Mode()&fs.ModeSymlink != 0:
			wl, err := os.Readlink(a)
			must(t, err)
			gl, err := os.Readlink(b)
			must(t, err)
			if wl != gl {
				t.Errorf("%s: symlink to %q, want %q", rel, gl, wl)
				bad++
			}
		}
	}
}

func sameContent(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Open(a)
	must(t, err)
	defer fa.Close()
	fb, err := os.Open(b)
	must(t, err)
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		for _, err := range []error{ea, eb} {
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatal(err)
			}
		}
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil { // at the end of one: equal if at the end of both
			return ea != nil && eb != nil
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func treeSize(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	must(t, err)
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func short(id string) string { return id[:min(8, len(id))] }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
