package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// startServe runs `lumbung serve` in process on a loopback port (with
// extra arguments) and checks its "serving" message. stop shuts it down (a
// test can take a layer down in the middle) and checks it stopped cleanly;
// it runs at the end of the test anyway.
func startServe(t *testing.T, data string, extra ...string) (listen, fingerprint string, stop func()) {
	t.Helper()
	_, statErr := os.Stat(filepath.Join(data, "server", "tls.crt"))
	freshCert := statErr != nil
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.CreateTemp(t.TempDir(), "serve-stderr-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	e := &env{stdin: strings.NewReader(""), stdout: w, stderr: errf, getenv: func(string) string { return "" }}
	go func() {
		done <- runMain(ctx, e, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--hostname", "lumbung.test", "--json"}, extra...))
		w.Close()
	}()
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var first string
	select {
	case first = <-lines:
	case code := <-done:
		errText, _ := os.ReadFile(errf.Name())
		t.Fatalf("serve exited with %d before serving: %s", code, errText)
	case <-time.After(time.Minute):
		t.Fatal("serve did not start within a minute")
	}
	var m struct {
		Type        string `json:"message_type"`
		Listen      string `json:"listen"`
		Fingerprint string `json:"fingerprint"`
		Location    string `json:"location"`
		Created     bool   `json:"certificate_created"`
	}
	if err := json.Unmarshal([]byte(first), &m); err != nil || m.Type != "serving" {
		t.Fatalf("first line of serve: %q (%v)", first, err)
	}
	if m.Created != freshCert || !strings.HasPrefix(m.Fingerprint, "sha256:") || !strings.Contains(m.Location, "rest:https://lumbung.test:") || !strings.HasSuffix(m.Location, "/REPO?fingerprint="+m.Fingerprint) {
		t.Errorf("serving message (certificate made now: %v): %+v", freshCert, m)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				errText, _ := os.ReadFile(errf.Name())
				t.Errorf("serve exited with %d after shutdown: %s", code, errText)
			}
		case <-time.After(time.Minute):
			t.Error("serve did not stop within a minute of the interrupt")
		}
		var last string
		for l := range lines {
			last = l
		}
		if !strings.Contains(last, `"stopped"`) {
			t.Errorf("last line of serve: %q, want the stopped message", last)
		}
		r.Close()
	}
	t.Cleanup(stop)
	return m.Listen, m.Fingerprint, stop
}

// TestServeEndToEnd backs up, restores and checks through a real server
// with an append token, then makes sure the server holds no plaintext.
func TestServeEndToEnd(t *testing.T) {
	data := t.TempDir()
	listen, fp, _ := startServe(t, data)
	base := newCLI(t)

	// Tokens: bootstrap an admin token on the server machine, then manage
	// tokens remotely with it.
	created := message[struct {
		Token string `json:"token"`
	}](t, base.ok("token", "create", "--data", data, "--name", "root", "--scope", "admin", "--repo", "*", "--json"), "token_created")
	admin := base.with("LUMBUNG_TOKEN", created.Token)
	server := "https://" + listen
	agent := message[struct {
		Token string `json:"token"`
		Info  struct {
			Scope string `json:"scope"`
			Quota int64  `json:"quota"`
		} `json:"info"`
	}](t, admin.ok("token", "create", "--server", server, "--fingerprint", fp, "--name", "opd-dukcapil", "--scope", "append", "--repo", "dukcapil", "--quota", "1G", "--json"), "token_created")
	if agent.Info.Scope != "append" || agent.Info.Quota != 1<<30 {
		t.Errorf("created token: %+v", agent.Info)
	}
	list := decodeAll[[]tokenJSON](t, admin.ok("token", "list", "--server", server, "--fingerprint", fp, "--json"))
	if len(list) != 2 {
		t.Errorf("token list: %+v", list)
	}
	admin.fails(exitFailed, []string{"token", "list", "--server", server, "--fingerprint", "sha256:" + strings.Repeat("00", 32)}, "fingerprint", fp)

	// Back up through the server with the append token.
	loc := "rest:https://" + listen + "/dukcapil?fingerprint=" + fp
	c := base.with("LUMBUNG_TOKEN", agent.Token).withRepo(loc)
	const marker = "RAHASIA-NIK-3201010101900001-PENANDA"
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"ktp.csv":      strings.Repeat(marker+";BUDI;SUKAMAJU\n", 2000),
		"data/big.bin": string(testutil.RandBytes(3, 9<<20)), // more than one pack: upload sessions
		"catatan.txt":  marker + "\n",
	})
	c.ok("init", "--json")
	c.ok("backup", src, "--json")
	target := t.TempDir()
	c.ok("restore", "latest", "--target", target, "--json")
	compareTrees(t, src, filepath.Join(target, src), nil)
	c.ok("check", "--read-data", "--json")
	c.fails(exitFailed, []string{"init"}, "already exists")
	// The server counted what the agent stored.
	for _, tk := range decodeAll[[]tokenJSON](t, admin.ok("token", "list", "--server", server, "--fingerprint", fp, "--json")) {
		if tk.Name == "opd-dukcapil" && (tk.Used < 9<<20 || tk.Used > tk.Quota) {
			t.Errorf("usage of the agent's token: %d bytes (quota %d)", tk.Used, tk.Quota)
		}
	}
	// The append token removed its own locks, and nothing was refused.
	if locks, err := os.ReadDir(filepath.Join(data, "repos", "dukcapil", "locks")); err != nil || len(locks) != 0 {
		t.Errorf("locks left on the server: %v, %v", locks, err)
	}
	if audit, err := os.ReadFile(filepath.Join(data, "server", "audit.log")); err != nil || strings.Contains(string(audit), "opd-dukcapil") {
		t.Errorf("the normal workflow was refused something: %s (%v)", audit, err)
	}

	// The server holds ciphertext only.
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), marker) || strings.Contains(string(b), agent.Token) {
			t.Errorf("%s holds plaintext or a token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A wrong token is a clear error.
	c.with("LUMBUNG_TOKEN", "lbg_wrong").fails(exitFailed, []string{"snapshots"}, "does not know this token")
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1000", 1000, true}, {"500G", 500 << 30, true}, {"500GB", 500 << 30, true},
		{"2GiB", 2 << 30, true}, {"16m", 16 << 20, true}, {"1T", 1 << 40, true}, {"", 0, false},
		{"-1", 0, false}, {"G", 0, false}, {"1.5G", 0, false}, {"99999999999T", 0, false},
	} {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v", c.in, got, err)
		}
	}
}

// TestServePull: a province server started with --pull mirrors a
// kabupaten repository with a read token there and no password; the owner
// restores from the province with the same password, and the source saw
// no refused request.
func TestServePull(t *testing.T) {
	kabData, provData := t.TempDir(), t.TempDir()
	kabListen, kabFP, _ := startServe(t, kabData)
	base := newCLI(t)
	token := func(data, name, scope string) string {
		return message[struct {
			Token string `json:"token"`
		}](t, base.ok("token", "create", "--data", data, "--name", name, "--scope", scope, "--repo", "siak", "--json"), "token_created").Token
	}
	kab := base.with("LUMBUNG_TOKEN", token(kabData, "agent-siak", "append")).withRepo("rest:https://" + kabListen + "/siak?fingerprint=" + kabFP)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"penduduk.csv": "NIK;NAMA\n3201;BUDI\n", "arsip/scan.bin": string(testutil.RandBytes(7, 3<<20))})
	kab.ok("init", "--json")
	kab.ok("backup", src, "--json")

	tokenFile := filepath.Join(t.TempDir(), "kab.token")
	if err := os.WriteFile(tokenFile, []byte(token(kabData, "prov-pull", "read")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	from := "rest:https://" + kabListen + "/siak?fingerprint=" + kabFP
	// The job comes from a pull file (what a province with many kab/kota
	// servers uses); the --pull flag is checked below.
	pullFile := filepath.Join(t.TempDir(), "pull.txt")
	if err := os.WriteFile(pullFile, []byte("# kabupaten\nname=kab-siak,from="+from+",token-file="+tokenFile+",to=siak,every=1h,window=00:00-00:00,bandwidth=100MB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	provListen, provFP, _ := startServe(t, provData, "--pull-file", pullFile)

	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := reposerver.ReadPullStatus(provData)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 1 && st[0].Result != "" && !st[0].Running {
			if st[0].Result != reposerver.PullOK || st[0].SnapshotsCopied != 1 {
				t.Fatalf("pull: %+v", st[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull did not finish within two minutes: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}

	prov := base.with("LUMBUNG_TOKEN", token(provData, "owner", "read")).withRepo("rest:https://" + provListen + "/siak?fingerprint=" + provFP)
	target := t.TempDir()
	// A read token cannot write a lock: restore goes on without one and
	// says so; check is told with --no-lock.
	if out := prov.ok("restore", "latest", "--target", target, "--json"); !strings.Contains(out.stderr, "may not write a lock") {
		t.Errorf("restore with a read token did not say it took no lock; stderr: %s", out.stderr)
	}
	compareTrees(t, src, filepath.Join(target, src), nil)
	prov.ok("check", "--read-data", "--no-lock", "--json")
	if audit, err := os.ReadFile(filepath.Join(kabData, "server", "audit.log")); err != nil || len(audit) != 0 {
		t.Errorf("the source refused something: %s (%v)", audit, err)
	}

	base.fails(exitUsage, []string{"serve", "--data", t.TempDir(), "--pull", "from=" + from + ",to=siak"}, "token-file")
	base.fails(exitUsage, []string{"serve", "--data", t.TempDir(), "--pull", "name=a,to=siak,from=/x", "--pull", "name=b,to=siak,from=/y"}, "both fill")
	// A job in the file clashing with one on the command line.
	base.fails(exitUsage, []string{"serve", "--data", t.TempDir(), "--pull", "name=a,to=siak,from=/x", "--pull-file", pullFile}, "both fill")
	base.fails(exitUsage, []string{"serve", "--data", t.TempDir(), "--pull-file", filepath.Join(t.TempDir(), "tidak-ada")}, "pull file")
}
