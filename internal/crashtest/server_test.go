//go:build unix

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The repository server crash test. A snapshot of the corpus is copied
// (`lumbung copy`, mirror mode) from a local layer to a `lumbung serve`
// layer, and the server is killed in the middle: SIGKILL at a random moment
// or right after it stored a pack, once SIGTERM (the graceful shutdown).
// It is restarted on the same port and data directory either at once — the
// copy's retries must carry it through — or only after the copy gave up —
// then the copy must fail with a clear message, and a second copy must
// finish and reuse what the first one stored. After every iteration `check
// --read-data` through the server passes; at the end the snapshot restores
// from the server byte for byte, and the server's log shows no panic, no
// error and no 5xx answer.

const (
	// serverStartTimeout bounds the wait for the "serving" message.
	serverStartTimeout = 30 * time.Second
	// serverLifetime bounds one server process; the whole test is far
	// shorter, so reaching it means something hung.
	serverLifetime = 5 * time.Minute
	// serverStopTimeout bounds the wait for a signalled server to exit. A
	// SIGTERM lets in-flight requests finish (up to 30 s in reposerver.Run).
	serverStopTimeout = 45 * time.Second
	// copyTimeout bounds one `lumbung copy`. A copy that lost its server
	// gives up after about 8–16 s of retries (internal/backend/rest:
	// 6 attempts, backoff from 500 ms); a minute means it hangs.
	copyTimeout   = 90 * time.Second
	serverDataset = "d"
)

// serverKillPlan is how one iteration interrupts the server.
type serverKillPlan struct {
	sig syscall.Signal
	// onPack kills as soon as the server's repository holds a pack file
	// (plus a few random milliseconds); otherwise after a random share of
	// the calibrated copy time.
	onPack bool
	// inCreate kills as soon as the server's repository directory exists
	// without a config: the copy has created the repository and not yet
	// stored the config (the restarted server must go on serving it).
	inCreate bool
	// afterGiveUp keeps the server down until the copy has given up;
	// otherwise it is restarted at once, while the copy still retries.
	afterGiveUp bool
}

func (p serverKillPlan) String() string {
	s := map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}[p.sig]
	switch {
	case p.onPack:
		s += " on the first pack"
	case p.inCreate:
		s += " between creating the repository and storing its config"
	default:
		s += " at a random moment"
	}
	if p.afterGiveUp {
		return s + ", restarted after the copy gave up"
	}
	return s + ", restarted at once"
}

// serverPlans: every iteration covers one case; the seed shuffles the order
// and picks the moments. The give-up case costs the client's whole retry
// budget (8–16 s), so it runs once.
var serverPlans = []serverKillPlan{
	{sig: syscall.SIGKILL},
	{sig: syscall.SIGKILL, onPack: true, afterGiveUp: true},
	{sig: syscall.SIGTERM},
	{sig: syscall.SIGKILL, onPack: true},
	{sig: syscall.SIGKILL, inCreate: true},
}

func TestCrashServerDuringCopy(t *testing.T) {
	testStart := time.Now()
	sd := seed(t)
	t.Logf("seed %d (LUMBUNG_CRASH_SEED=%d repeats the corpus and the random choices)", sd, sd)
	rng := rand.New(rand.NewPCG(sd, 0x73727672))
	h := newHarness(t)
	work := t.TempDir()

	// The source: the crash test's corpus (about 64 MiB, 44 MiB of it
	// incompressible), backed up as dataset d into the local layer.
	src := filepath.Join(work, "src")
	c := newCorpus(src, sd)
	c.generate(t)
	local := filepath.Join(work, "local")
	h.mustRun("init", "--repo", local, "--json")
	cfgLocal := filepath.Join(work, "local.yaml")
	writeLayersConfig(t, cfgLocal, src, local, "", "")
	bk := h.mustRun("backup", "--config", cfgLocal, "--dataset", serverDataset, "--json")
	snap := decodeMessage[backupSummary](t, bk.stdout, "summary").SnapshotID
	t.Logf("corpus %s in %d entries, backed up as snapshot %s in %v",
		mib(treeSize(t, src)), len(manifest(t, src)), short(snap), bk.dur.Round(time.Millisecond))

	// The server, with an append token made before it starts (as an admin
	// would), which is all the copying host holds.
	srv := newRepoServer(t, h, filepath.Join(work, "server"))
	tok := h.mustRun("token", "create", "--json", "--data", srv.data, "--name", "agent", "--scope", "append", "--repo", "*")
	tokFile := filepath.Join(work, "agent.token")
	must(t, os.WriteFile(tokFile, []byte(decodeMessage[struct {
		Token string `json:"token"`
	}](t, tok.stdout, "token_created").Token+"\n"), 0o600))
	srv.start()
	hTok := &harness{t: t, bin: h.bin, env: append(slices.Clone(h.env), "LUMBUNG_TOKEN_FILE="+tokFile)}

	// Each iteration copies into a repository of its own on the server
	// (r0, r1, ...): a fresh destination makes every copy move the whole
	// snapshot, so the kill lands in the middle of a long transfer, and
	// its first steps (creating the repository, keys, config) can be hit
	// too. Keeping one repository would leave nothing to copy after the
	// first success.
	cfgFor := func(repo string) (cfg, loc string) {
		loc = srv.location(repo)
		cfg = filepath.Join(work, repo+".yaml")
		writeLayersConfig(t, cfg, src, local, loc, tokFile)
		return cfg, loc
	}

	// Calibrate: an uninterrupted copy tells how long a copy takes here and
	// how many objects it stores, so the kill times spread over a copy.
	calCfg, _ := cfgFor("calibrate")
	cal := h.runCopy(calCfg, snap)
	if cal.code != 0 {
		t.Fatalf("uninterrupted copy: exit code %d\nstderr: %s\nserver log:\n%s", cal.code, cal.stderr, srv.logTail())
	}
	calRes := decodeMessage[copyMessage](t, cal.stdout, "copy").Result
	est := cal.dur
	t.Logf("calibration: an uninterrupted copy takes %v and stores %d objects (%s)", est.Round(time.Millisecond), calRes.Objects, mib(calRes.Bytes))
	srv.checkLog()

	order := slices.Clone(serverPlans)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	plans := make([]serverKillPlan, serverIterations(t))
	for i := range plans { // a longer soak repeats the cases in this order
		plans[i] = order[i%len(order)]
	}
	interrupted := 0
	var lastLoc string
	for i, plan := range plans {
		itStart := time.Now()
		repo := fmt.Sprintf("r%d", i)
		cfg, loc := cfgFor(repo)
		lastLoc = loc
		trigger := "after the first pack"
		var delay time.Duration
		if !plan.onPack {
			delay = time.Duration((0.05 + 0.85*rng.Float64()) * float64(est))
			trigger = "after " + delay.Round(time.Millisecond).String()
		}
		extra := time.Duration(rng.Int64N(int64(30 * time.Millisecond)))

		cp := h.startCopy(cfg, snap)
		repoDir := filepath.Join(srv.data, "repos", repo)
		switch {
		case plan.onPack:
			waitFor(t, "a pack file in "+repoDir, cp.done, func() bool { return countPacks(repoDir) > 0 })
			time.Sleep(extra)
		case plan.inCreate:
			// The directory appears while the server handles the create
			// request; a kill then only makes the copy retry the create.
			// Shortly after, the copy has its answer and works on
			// (listing, reading the source) before it stores the config.
			wait := 10*time.Millisecond + extra*2
			trigger = fmt.Sprintf("%v after the repository was created", wait.Round(time.Millisecond))
			waitFor(t, "the new repository "+repoDir, cp.done, func() bool { return createdWithoutConfig(repoDir) })
			time.Sleep(wait)
		default:
			select {
			case <-cp.done:
			case <-time.After(delay):
			}
		}
		running := !cp.finished()
		srv.stop(plan.sig)
		inWindow := createdWithoutConfig(repoDir)
		if running {
			interrupted++
		}
		line := fmt.Sprintf("iteration %d: %v: killed %s, copy still running: %v, repository without config: %v", i, plan, trigger, running, inWindow)

		if plan.afterGiveUp && running {
			first := cp.wait(t)
			if first.code != 1 {
				t.Fatalf("%s\nthe copy that lost its server exited %d, want 1 (failed)\nstdout: %s\nstderr: %s",
					line, first.code, tail(first.stdout, 2000), first.stderr)
			}
			// The message must say which layer failed and why, in one
			// line, without a Go panic or stack.
			msg := strings.TrimSpace(first.stderr)
			if !strings.Contains(msg, "copy to layer prov failed") || !regexp.MustCompile(`connection refused|gave up after`).MatchString(msg) ||
				strings.Contains(msg, "\n") || strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
				t.Errorf("%s\nthe failed copy's message is not clear: %s", line, msg)
			}
			stored := countRepoFiles(t, filepath.Join(srv.data, "repos", repo))
			line += fmt.Sprintf("; it gave up after %v (%q) leaving %d objects on the server",
				first.dur.Round(time.Millisecond), tail(lastLine(msg), 160), stored)
			srv.start()
			second := h.runCopy(cfg, snap)
			if second.code != 0 {
				t.Fatalf("%s\nthe copy after the restart exited %d\nstderr: %s\nserver log:\n%s", line, second.code, second.stderr, srv.logTail())
			}
			res := decodeMessage[copyMessage](t, second.stdout, "copy").Result
			assertCopied(t, line, res, snap)
			// Whatever the first copy stored (whole files only: the local
			// backend renames a finished file into place) is found again.
			if res.Reused != int64(stored) || res.Objects+res.Reused != calRes.Objects {
				t.Errorf("%s\nthe copy after the restart stored %d objects and found %d already there; want %d already there (what the first copy stored) and %d in all (as the uninterrupted copy)",
					line, res.Objects, res.Reused, stored, calRes.Objects)
			}
			line += fmt.Sprintf("; a second copy took %v: %d stored, %d already there", second.dur.Round(time.Millisecond), res.Objects, res.Reused)
		} else {
			// Restart at once: the copy is still retrying and must finish
			// (or it finished before the kill; then the repository must
			// simply have survived the kill).
			srv.start()
			r := cp.wait(t)
			if r.code != 0 {
				t.Fatalf("%s\nthe copy exited %d although the server came back at once\nstdout: %s\nstderr: %s\nserver log:\n%s",
					line, r.code, tail(r.stdout, 2000), r.stderr, srv.logTail())
			}
			res := decodeMessage[copyMessage](t, r.stdout, "copy").Result
			assertCopied(t, line, res, snap)
			line += fmt.Sprintf("; the copy finished after %v: %d stored, %d already there", r.dur.Round(time.Millisecond), res.Objects, res.Reused)
		}

		chk := hTok.check(loc, true, true)
		if chk.sum.Report.Snapshots != 1 {
			t.Errorf("%s\ncheck through the server sees %d snapshots, want 1", line, chk.sum.Report.Snapshots)
		}
		srv.checkLog()
		t.Logf("%s; check --read-data read %s in %v [%v]", line, mib(chk.sum.Report.BytesRead), chk.dur.Round(time.Millisecond), since(itStart))
	}
	if interrupted == 0 {
		t.Errorf("no kill landed while a copy was running (copies take %v here): the test proved nothing", est.Round(time.Millisecond))
	}

	// The last copy restores from the server exactly as the source.
	target := filepath.Join(work, "restore")
	r := hTok.mustRun("restore", snap, "--repo", lastLoc, "--target", target, "--json")
	compareTrees(t, src, filepath.Join(target, src))
	srv.stop(syscall.SIGTERM)
	srv.checkLog()
	// A copy that had to start over (after giving up) leaves the old
	// directory set aside, never deleted.
	aside, err := filepath.Glob(filepath.Join(srv.data, "repos", ".abandoned-*"))
	must(t, err)
	t.Logf("done: %d of %d kills interrupted a copy, %d server starts, %d repository directories set aside by the server; restore from the server in %v matches the source; %v in all",
		interrupted, len(plans), srv.starts, len(aside), r.dur.Round(time.Millisecond), since(testStart))
}

// serverIterations is len(serverPlans) (each case once), or more when
// LUMBUNG_SERVER_CRASH_ITERATIONS asks for a longer soak. It is not
// LUMBUNG_CRASH_ITERATIONS: `make test` sets that to 25 for TestCrash, and
// 25 copies here would take minutes.
func serverIterations(t *testing.T) int {
	t.Helper()
	v := os.Getenv("LUMBUNG_SERVER_CRASH_ITERATIONS")
	if v == "" {
		return len(serverPlans)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("LUMBUNG_SERVER_CRASH_ITERATIONS=%q: want a positive number", v)
	}
	return n
}

// writeLayersConfig writes a config with dataset d of src: the local layer,
// and the server layer at loc (with the token in tokFile) unless loc is "".
func writeLayersConfig(t *testing.T, path, src, local, loc, tokFile string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "datasets:\n  %s:\n    paths: [%q]\n    layers:\n", serverDataset, src)
	fmt.Fprintf(&b, "      - name: lokal\n        repository: %q\n        role: local\n        media: disk\n        password: {env: LUMBUNG_PASSWORD}\n", local)
	if loc != "" {
		fmt.Fprintf(&b, "      - name: prov\n        repository: %q\n        role: regional\n        media: server\n        token: {file: %q}\n", loc, tokFile)
	}
	must(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// copyMessage is the "copy" line of `lumbung copy --json`.
type copyMessage struct {
	Result copyResult `json:"result"`
}

type copyResult struct {
	Mode      string `json:"mode"`
	Snapshots []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"snapshots"`
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Reused  int64 `json:"reused"`
}

// assertCopied requires that the copy reports snap copied in mirror mode
// (the server layer has no password: it mirrors the local one).
func assertCopied(t *testing.T, what string, res copyResult, snap string) {
	t.Helper()
	if res.Mode != "mirror" || len(res.Snapshots) != 1 || res.Snapshots[0].ID != snap || res.Snapshots[0].Status != "copied" {
		t.Errorf("%s\ncopy result: %+v; want snapshot %s copied in mirror mode", what, res, short(snap))
	}
}

// A `lumbung copy` run in the background.

type bgCopy struct {
	cmd       *exec.Cmd
	ctx       context.Context
	cancel    context.CancelFunc
	out, errb bytes.Buffer
	done      chan struct{}
	start     time.Time
	dur       time.Duration
}

func (h *harness) startCopy(cfg, snap string) *bgCopy {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), copyTimeout)
	b := &bgCopy{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	b.cmd = exec.CommandContext(ctx, h.bin, "copy", "--config", cfg, "--from", "lokal", "--to", "prov", "--json", snap)
	b.cmd.Env = h.env
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errb
	b.start = time.Now()
	if err := b.cmd.Start(); err != nil {
		cancel()
		h.t.Fatalf("start lumbung copy: %v", err)
	}
	go func() {
		_ = b.cmd.Wait()
		b.dur = time.Since(b.start)
		close(b.done)
	}()
	h.t.Cleanup(func() { // a test that failed half-way leaves no copy behind
		cancel()
		<-b.done
	})
	return b
}

func (b *bgCopy) finished() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// wait returns the copy's result; one that outlived copyTimeout fails the
// test as hung.
func (b *bgCopy) wait(t *testing.T) result {
	t.Helper()
	<-b.done // bounded: the command's context kills it at copyTimeout
	r := result{stdout: b.out.String(), stderr: b.errb.String(), dur: b.dur, code: b.cmd.ProcessState.ExitCode()}
	hung := b.ctx.Err() != nil
	b.cancel()
	if hung {
		t.Fatalf("lumbung copy: no result after %v (hung?)\nstderr: %s", copyTimeout, r.stderr)
	}
	return r
}

// runCopy runs a copy to its end.
func (h *harness) runCopy(cfg, snap string) result {
	h.t.Helper()
	return h.startCopy(cfg, snap).wait(h.t)
}

// waitFor polls cond until it holds or the copy ended (done).
func waitFor(t *testing.T, what string, done <-chan struct{}, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(copyTimeout)
	for {
		select {
		case <-done:
			return
		case <-timeout:
			t.Fatalf("waited %v for %s", copyTimeout, what)
		case <-tick.C:
			if cond() {
				return
			}
		}
	}
}

// createdWithoutConfig reports whether the server repository directory
// repo exists without a config: created, not yet usable.
func createdWithoutConfig(repo string) bool {
	if _, err := os.Stat(repo); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(repo, "config"))
	return os.IsNotExist(err)
}

// countRepoFiles counts the objects a copy stores in a server repository
// and finds again later: the config, key files, packs, index files and
// snapshots.
func countRepoFiles(t *testing.T, repo string) int {
	t.Helper()
	n := countPacks(repo)
	if _, err := os.Stat(filepath.Join(repo, "config")); err == nil {
		n++
	}
	for _, d := range []string{"keys", "index", "snapshots"} {
		if es, err := os.ReadDir(filepath.Join(repo, d)); err == nil {
			n += len(es)
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return n
}

// The server under test.

type repoServer struct {
	t    *testing.T
	h    *harness
	data string
	// logPath collects the server's stderr (diagnostics and audit lines)
	// over all its runs; logChecked is how far checkLog has read it.
	logPath    string
	logChecked int
	// addr is host:port: chosen by the kernel on the first start (listen
	// on port 0, read the "serving" message), then reused by every restart
	// so that the copy's location stays valid.
	addr, fp string
	starts   int
	cur      *serveRun
}

// serveRun is one server process.
type serveRun struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
	out    string // file with its stdout
}

func newRepoServer(t *testing.T, h *harness, data string) *repoServer {
	t.Helper()
	must(t, os.MkdirAll(data, 0o700))
	s := &repoServer{t: t, h: h, data: data, logPath: filepath.Join(filepath.Dir(data), "serve.log")}
	t.Cleanup(func() {
		if s.cur != nil {
			s.kill(syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", s.logTail())
		}
	})
	return s
}

func (s *repoServer) location(repo string) string {
	return "rest:https://" + s.addr + "/" + repo + "?fingerprint=" + s.fp
}

// start runs the server and waits for its "serving" message. A restart
// asks for the same address; binding it can fail for a moment after a
// kill, so a few attempts are made.
func (s *repoServer) start() {
	t := s.t
	t.Helper()
	listen := s.addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		msg, err := s.tryStart(listen)
		if err != nil {
			lastErr = err
			continue
		}
		if s.addr != "" && (msg.Listen != s.addr || msg.Fingerprint != s.fp) {
			t.Fatalf("restarted server listens on %s with certificate %s; want %s and %s", msg.Listen, msg.Fingerprint, s.addr, s.fp)
		}
		s.addr, s.fp = msg.Listen, msg.Fingerprint
		s.starts++
		return
	}
	t.Fatalf("start lumbung serve on %s: %v\nserver log:\n%s", listen, lastErr, s.logTail())
}

type servingMessage struct {
	Listen      string `json:"listen"`
	Fingerprint string `json:"fingerprint"`
}

func (s *repoServer) tryStart(listen string) (servingMessage, error) {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return servingMessage{}, err
	}
	defer logf.Close() // the child has its own descriptor
	out := filepath.Join(filepath.Dir(s.data), fmt.Sprintf("serve-%d.out", s.starts))
	outf, err := os.Create(out)
	if err != nil {
		return servingMessage{}, err
	}
	defer outf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), serverLifetime)
	cmd := exec.CommandContext(ctx, s.h.bin, "serve", "--json", "--data", s.data, "--listen", listen)
	cmd.Env = s.h.env
	cmd.Stdout, cmd.Stderr = outf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		return servingMessage{}, err
	}
	run := &serveRun{cmd: cmd, cancel: cancel, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(run.done) }()
	deadline := time.After(serverStartTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-run.done:
			cancel()
			return servingMessage{}, fmt.Errorf("exited with code %d before serving", cmd.ProcessState.ExitCode())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-run.done
			cancel()
			return servingMessage{}, fmt.Errorf("no \"serving\" message within %v", serverStartTimeout)
		case <-tick.C:
		}
		if m, ok := findServing(out); ok {
			s.cur = run
			return m, nil
		}
	}
}

// findServing reads the "serving" message from the server's stdout file.
func findServing(path string) (servingMessage, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return servingMessage{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m struct {
			Type string `json:"message_type"`
			servingMessage
		}
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Type == "serving" && m.Listen != "" && m.Fingerprint != "" {
			return m.servingMessage, true
		}
	}
	return servingMessage{}, false
}

// stop signals the server and checks how it ended: killed by SIGKILL, or
// after SIGTERM a clean exit with its "stopped" message.
func (s *repoServer) stop(sig syscall.Signal) {
	t := s.t
	t.Helper()
	run := s.cur
	ws := s.kill(sig)
	switch {
	case sig == syscall.SIGKILL && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL):
		t.Fatalf("server after SIGKILL: %v, want killed by the signal", ws)
	case sig == syscall.SIGTERM:
		out, _ := os.ReadFile(run.out)
		if ws.ExitStatus() != 0 || !bytes.Contains(out, []byte(`"message_type":"stopped"`)) {
			t.Fatalf("server after SIGTERM: %v, want exit code 0 and a \"stopped\" message\nstdout: %s\nserver log:\n%s", ws, out, s.logTail())
		}
	}
}

// kill sends sig and waits (bounded) for the server to exit.
func (s *repoServer) kill(sig syscall.Signal) syscall.WaitStatus {
	t := s.t
	t.Helper()
	run := s.cur
	s.cur = nil
	defer run.cancel()
	_ = run.cmd.Process.Signal(sig)
	select {
	case <-run.done:
	case <-time.After(serverStopTimeout):
		_ = run.cmd.Process.Kill()
		<-run.done
		t.Fatalf("server did not exit within %v of %v", serverStopTimeout, sig)
	}
	ws, _ := run.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ws
}

// badLogLine matches what must never be in the server's log: a panic (also
// net/http's "http: panic serving"), a Go runtime crash, an ERROR line (the
// server logs one for every 5xx answer it gives: reposerver's internal and
// storePayload) and an audit line with a 5xx status.
var badLogLine = regexp.MustCompile(`panic|fatal error:|level=ERROR|"status":5\d\d`)

// checkLog fails the test for every bad line the server logged since the
// last check.
func (s *repoServer) checkLog() {
	t := s.t
	t.Helper()
	data, err := os.ReadFile(s.logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var bad []string
	for _, l := range strings.Split(string(data[min(s.logChecked, len(data)):]), "\n") {
		if badLogLine.MatchString(l) {
			bad = append(bad, l)
		}
	}
	s.logChecked = len(data)
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... and %d more", len(bad)-20))
		}
		t.Errorf("the server logged a panic, an error or a 5xx answer:\n%s", strings.Join(bad, "\n"))
	}
}

func (s *repoServer) logTail() string {
	data, _ := os.ReadFile(s.logPath)
	if len(bytes.TrimSpace(data)) == 0 {
		return "(empty)"
	}
	return tail(string(data), 4000)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
