package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the printers' injectable now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for the printers' goroutines and the
// test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{10 * 1024, "10.0 KiB"},
		{1024*1024 - 1, "1.0 MiB"}, // rounds up into the next unit, not "1024.0 KiB"
		{1024 * 1024, "1.0 MiB"},
		{5*1024*1024 + 512*1024, "5.5 MiB"},
		{3 << 30, "3.0 GiB"},
		{1 << 40, "1.0 TiB"},
		{1 << 50, "1.0 PiB"},
		{1 << 60, "1.0 EiB"},
		{math.MaxInt64, "8.0 EiB"},
		{-1536, "-1.5 KiB"},
		{math.MinInt64, "-8.0 EiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-5 * time.Second, "0s"},
		{400 * time.Millisecond, "0s"},
		{5 * time.Second, "5s"},
		{59*time.Second + 600*time.Millisecond, "1m00s"},
		{65 * time.Second, "1m05s"},
		{time.Hour + 2*time.Minute + 3*time.Second, "1h02m03s"},
		{50 * time.Hour, "50h00m00s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestJSONStatus(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	p := newJSON(&buf, options{now: clk.now, interval: -1})

	p.Start("backup", Counts{Files: 10, Dirs: 2, Bytes: 1000})
	p.Add(Counts{Files: 3, Bytes: 300})
	p.Add(Counts{Files: 1, Dirs: 1, Bytes: 120})
	p.Item("/data/surat/2024.pdf")
	clk.advance(10 * time.Second)
	p.tick()

	msgs := decodeLines(t, buf.String())
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1:\n%s", len(msgs), buf.String())
	}
	m := msgs[0]
	want := map[string]any{
		"message_type":      "status",
		"op":                "backup",
		"percent_done":      0.42,
		"files_done":        4.0,
		"total_files":       10.0,
		"dirs_done":         1.0,
		"total_dirs":        2.0,
		"bytes_done":        420.0,
		"total_bytes":       1000.0,
		"seconds_elapsed":   10.0,
		"seconds_remaining": 14.0, // 10s * 0.58/0.42 = 13.8s
		"current_file":      "/data/surat/2024.pdf",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}

	// Start again with larger totals: counters are kept, the clock is not reset.
	p.Start("backup", Counts{Files: 20, Bytes: 2100})
	p.Warn("/data/rusak.doc", errors.New("permission denied"))
	p.Finish()
	p.Finish() // idempotent
	p.Add(Counts{Files: 100})
	p.tick() // after Finish: nothing

	msgs = decodeLines(t, buf.String())
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3:\n%s", len(msgs), buf.String())
	}
	w := msgs[1]
	if w["message_type"] != "warning" || w["path"] != "/data/rusak.doc" || w["error"] != "permission denied" {
		t.Errorf("warning message = %v", w)
	}
	f := msgs[2]
	if f["message_type"] != "status" || f["percent_done"] != 0.2 || f["total_bytes"] != 2100.0 ||
		f["seconds_elapsed"] != 10.0 || f["warnings"] != 1.0 {
		t.Errorf("final status = %v", f)
	}
}

func TestJSONUnknownTotals(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	p := newJSON(&buf, options{now: clk.now, interval: -1})
	p.Start("check", Counts{})
	p.Add(Counts{Files: 5, Bytes: 50})
	clk.advance(3 * time.Second)
	p.Finish()
	msgs := decodeLines(t, buf.String())
	if len(msgs) != 1 {
		t.Fatalf("got %d messages:\n%s", len(msgs), buf.String())
	}
	m := msgs[0]
	if _, ok := m["seconds_remaining"]; ok {
		t.Errorf("seconds_remaining present with unknown totals: %v", m)
	}
	if m["percent_done"] != 0.0 || m["files_done"] != 5.0 || m["op"] != "check" {
		t.Errorf("status = %v", m)
	}
}

// TestJSONTicker runs the real background goroutine and clock.
func TestJSONTicker(t *testing.T) {
	var buf syncBuffer
	p := newJSON(&buf, options{interval: 5 * time.Millisecond})
	p.Start("restore", Counts{Files: 2, Bytes: 10})
	p.Add(Counts{Files: 1, Bytes: 5})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	p.Finish()
	n := len(buf.String())
	time.Sleep(20 * time.Millisecond)
	if len(buf.String()) != n {
		t.Error("output after Finish: goroutine still running")
	}
	msgs := decodeLines(t, buf.String())
	if len(msgs) < 2 {
		t.Fatalf("want a ticker status and a final one, got:\n%s", buf.String())
	}
	for _, m := range msgs {
		if m["message_type"] != "status" || m["op"] != "restore" || m["percent_done"] != 0.5 {
			t.Errorf("status = %v", m)
		}
	}
}

// TestFinishWithoutStart: an operation that fails before it starts (the
// repository cannot be opened, the snapshot is unreadable) calls Finish
// without Start. The printers then print only the warnings they were given:
// no status of an unnamed operation, no "done" summary.
func TestFinishWithoutStart(t *testing.T) {
	type ticking interface {
		Progress
		tick()
	}
	printers := map[string]func(w io.Writer, clk *fakeClock) ticking{
		"json": func(w io.Writer, clk *fakeClock) ticking {
			return newJSON(w, options{now: clk.now, interval: -1})
		},
		"terminal": func(w io.Writer, clk *fakeClock) ticking {
			return newTerminal(w, func() int { return 100 }, options{now: clk.now, interval: -1})
		},
	}
	cases := []struct {
		name    string
		started bool
		calls   func(p Progress)
		// want is what the output must contain; empty means no output.
		want map[string][]string
	}{
		{"nothing", false, func(Progress) {}, nil},
		{"add and item only", false, func(p Progress) {
			p.Add(Counts{Files: 2, Bytes: 10})
			p.Item("/srv/data/a")
		}, nil},
		{"warning only", false, func(p Progress) {
			p.Warn("/srv/lumbung/tmp", errors.New("permission denied"))
		}, map[string][]string{
			"json":     {`{"message_type":"warning","path":"/srv/lumbung/tmp","error":"permission denied"}`},
			"terminal": {"warning: /srv/lumbung/tmp: permission denied\n"},
		}},
		{"started", true, func(p Progress) {
			p.Add(Counts{Files: 2, Bytes: 10}) // kept until Start
			p.Start("restore", Counts{Files: 4})
		}, map[string][]string{
			"json":     {`"message_type":"status"`, `"op":"restore"`, `"files_done":2`, `"percent_done":0.5`},
			"terminal": {"restore done: 2 files"},
		}},
	}
	for name, mk := range printers {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				clk := newFakeClock()
				var buf syncBuffer
				p := mk(&buf, clk)
				tc.calls(p)
				clk.advance(2 * time.Second)
				p.tick()
				p.Finish()
				p.Finish()
				out := buf.String()
				want := tc.want[name]
				if len(want) == 0 && out != "" {
					t.Errorf("output %q, want none", out)
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("output %q lacks %q", out, w)
					}
				}
				if name == "json" && out != "" {
					decodeLines(t, out) // every line is one JSON object
				}
				if !tc.started && (strings.Contains(out, `"status"`) || strings.Contains(out, " done: ")) {
					t.Errorf("status or summary without Start: %q", out)
				}
			})
		}
	}
}

// lastLine returns what a terminal would show on the last line: the text
// after the last \r, without the clear-to-end-of-line sequence.
func lastLine(out string) string {
	if i := strings.LastIndexByte(out, '\r'); i >= 0 {
		out = out[i+1:]
	}
	return strings.TrimSuffix(out, "\x1b[K")
}

func TestTerminalLine(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	p := newTerminal(&buf, func() int { return 120 }, options{now: clk.now, interval: -1})

	p.Start("backup", Counts{Files: 400, Bytes: 4 << 30})
	p.Add(Counts{Files: 100, Bytes: 1 << 30})
	p.Item("/home/arsip/dokumen/laporan.xlsx")
	clk.advance(65 * time.Second)
	p.tick()

	line := lastLine(buf.String())
	for _, want := range []string{
		"backup [1m05s]",
		"25.0%",
		"[###",
		"1.0 GiB / 4.0 GiB",
		"100 / 400 files",
		"15.8 MiB/s",
		"ETA 3m15s",
		"laporan.xlsx",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("status line %q lacks %q", line, want)
		}
	}
	if n := len([]rune(line)); n > 119 {
		t.Errorf("status line is %d runes, want <= 119: %q", n, line)
	}

	// Unchanged state: no redraw.
	n := len(buf.String())
	p.tick()
	if len(buf.String()) != n {
		t.Error("redrew an unchanged line")
	}

	// A warning goes above the status line, which is restored.
	p.Warn("/home/arsip/x\x1b[2J", errors.New("permission denied"))
	out := buf.String()[n:]
	if !strings.HasPrefix(out, "\r\x1b[K") || !strings.Contains(out, "warning: /home/arsip/x?[2J: permission denied\n") ||
		!strings.HasSuffix(out, line) {
		t.Errorf("warning output %q", out)
	}

	p.Add(Counts{Files: 300, Dirs: 7, Bytes: 3 << 30})
	clk.advance(15 * time.Second)
	p.Finish()
	p.Finish()
	out = buf.String()
	if !strings.HasSuffix(out, "\r\x1b[Kbackup done: 400 files, 7 dirs, 4.0 GiB in 1m20s (51.2 MiB/s), 1 warning\n") {
		t.Errorf("finish output ends %q", out[max(0, len(out)-120):])
	}
}

func TestTerminalNarrowAndUnknown(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	p := newTerminal(&buf, func() int { return 40 }, options{now: clk.now, interval: -1})
	p.Start("scan", Counts{})
	p.Add(Counts{Files: 7, Bytes: 1536})
	p.Item("/a/very/long/path/that/does/not/fit/in/forty/columns.txt")
	clk.advance(2 * time.Second)
	p.tick()
	line := lastLine(buf.String())
	if !strings.HasPrefix(line, "scan [2s] 1.5 KiB  7 files") {
		t.Errorf("line = %q", line)
	}
	if strings.Contains(line, "%") || strings.Contains(line, "ETA") {
		t.Errorf("percent or ETA shown with unknown totals: %q", line)
	}
	if n := len([]rune(line)); n > 39 {
		t.Errorf("line is %d runes wide in 40 columns: %q", n, line)
	}
	p.Finish()
}

func TestTerminalWidthDefault(t *testing.T) {
	var buf syncBuffer
	p := newTerminal(&buf, nil, options{interval: -1})
	p.Start("backup", Counts{Bytes: 100})
	p.Item(strings.Repeat("x", 300))
	p.tick()
	if n := len([]rune(lastLine(buf.String()))); n > 79 {
		t.Errorf("line %d runes with default width", n)
	}
	p.Finish()
}

func TestTerminalTicker(t *testing.T) {
	var buf syncBuffer
	p := NewTerminal(&buf, func() int { return 100 })
	p.Start("backup", Counts{Files: 1, Bytes: 10})
	p.Add(Counts{Bytes: 5})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "50.0%") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), "50.0%") {
		t.Fatalf("no status line drawn: %q", buf.String())
	}
	p.Finish()
	n := len(buf.String())
	time.Sleep(250 * time.Millisecond)
	if len(buf.String()) != n {
		t.Error("output after Finish: goroutine still running")
	}
}

func TestQuiet(t *testing.T) {
	var buf syncBuffer
	p := NewQuiet(&buf)
	p.Start("backup", Counts{Files: 10, Bytes: 100})
	p.Add(Counts{Files: 10, Bytes: 100})
	p.Item("/a")
	p.Warn("/srv/data/locked.db", errors.New("permission denied"))
	p.Warn("", errors.New("scan interrupted"))
	p.Finish()
	want := "warning: /srv/data/locked.db: permission denied\nwarning: scan interrupted\n"
	if got := buf.String(); got != want {
		t.Errorf("quiet output %q, want %q", got, want)
	}
}

func TestNoProgress(t *testing.T) {
	p := NoProgress
	p.Start("x", Counts{Files: 1})
	p.Add(Counts{Files: 1})
	p.Item("a")
	p.Warn("a", errors.New("b"))
	p.Finish()
}

// TestConcurrent hammers every implementation from many goroutines with the
// real ticker running; run with -race.
func TestConcurrent(t *testing.T) {
	const workers, perWorker = 8, 500
	mk := map[string]func(w io.Writer) Progress{
		"terminal": func(w io.Writer) Progress {
			return newTerminal(w, func() int { return 100 }, options{interval: time.Millisecond})
		},
		"json":  func(w io.Writer) Progress { return newJSON(w, options{interval: time.Millisecond}) },
		"quiet": NewQuiet,
		"none":  func(io.Writer) Progress { return NoProgress },
	}
	for name, f := range mk {
		t.Run(name, func(t *testing.T) {
			var buf syncBuffer
			p := f(&buf)
			p.Start("backup", Counts{Files: workers * perWorker, Bytes: workers * perWorker * 10})
			var wg sync.WaitGroup
			for i := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range perWorker {
						p.Add(Counts{Files: 1, Bytes: 10})
						p.Item(fmt.Sprintf("/w%d/f%d", i, j))
						if j%100 == 0 {
							p.Warn(fmt.Sprintf("/w%d/f%d", i, j), errors.New("busy"))
							p.Start("backup", Counts{Files: workers * perWorker, Bytes: workers * perWorker * 10})
						}
					}
				}()
			}
			wg.Wait()
			p.Finish()
			out := buf.String()
			if got := strings.Count(out, "busy"); name != "none" && got != workers*perWorker/100 {
				t.Errorf("%d warnings printed, want %d", got, workers*perWorker/100)
			}
			switch name {
			case "terminal":
				if !strings.Contains(out, "backup done: 4000 files, 0 dirs, 39.1 KiB") {
					t.Errorf("summary missing: %q", out[max(0, len(out)-200):])
				}
			case "json":
				msgs := decodeLines(t, out)
				last := msgs[len(msgs)-1]
				if last["files_done"] != 4000.0 || last["percent_done"] != 1.0 {
					t.Errorf("final status %v", last)
				}
			}
		})
	}
}

func TestPrinter(t *testing.T) {
	type result struct {
		ID    string `json:"id"`
		Files int    `json:"files"`
	}
	var text, js bytes.Buffer
	tp := NewPrinter(&text, false)
	jp := NewPrinter(&js, true)
	for _, p := range []*Printer{tp, jp} {
		p.Line("snapshot %s saved", "ab12")
		if err := p.Result(result{ID: "ab12<&>", Files: 3}, func(w io.Writer) {
			fmt.Fprintf(w, "files: %d\n", 3)
		}); err != nil {
			t.Fatal(err)
		}
		p.Line("done\n")
	}
	if got, want := text.String(), "snapshot ab12 saved\nfiles: 3\ndone\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if got, want := js.String(), `{"id":"ab12<&>","files":3}`+"\n"; got != want {
		t.Errorf("json = %q, want %q", got, want)
	}
	if tp.JSON() || !jp.JSON() {
		t.Error("JSON() wrong")
	}
	if err := jp.Result(func() {}, nil); err == nil {
		t.Error("want an error encoding a func")
	}
}

func TestChoose(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(nil) {
		t.Error("a regular file is not a terminal")
	}
	if _, ok := Choose(true, f, f).(*jsonProgress); !ok {
		t.Error("json=true should give JSON")
	}
	if _, ok := Choose(false, f, f).(*quiet); !ok {
		t.Error("non-terminal stderr should give quiet")
	}
}
