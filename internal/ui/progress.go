// Package ui holds Lumbung's user-facing output: progress reporting for long
// operations (backup, restore, check) and a small printer for command
// results.
//
// Progress is an interface with a no-op default (NoProgress), so library
// packages such as the archiver and restorer report counters without knowing
// whether a terminal, a JSON consumer or nobody is listening. The
// implementations here are a single updating status line for terminals
// (NewTerminal), one JSON object per line for scripts (NewJSON) and a
// warnings-only printer for logs and cron jobs (NewQuiet); Choose picks one.
//
// This package only formats and writes; it never reads files, touches the
// repository or decides anything about the operation it reports on.
package ui

import (
	"sync"
	"time"
)

// Counts are the counters that long operations report: totals to Start and
// increments to Add.
type Counts struct {
	Files, Dirs, Bytes int64
}

func (c *Counts) add(o Counts) {
	c.Files += o.Files
	c.Dirs += o.Dirs
	c.Bytes += o.Bytes
}

// Progress receives counters from long operations (backup, restore, check).
// Implementations are safe for concurrent use.
type Progress interface {
	// Start names the operation and sets the expected totals. total may be
	// zero (unknown), in which case no percentage or ETA is shown. Start may
	// be called again to update the totals as a scan finds more; counters
	// already added are kept and the elapsed time is not reset. Nothing but
	// warnings is printed before the first Start.
	Start(op string, total Counts)
	// Add adds increments to the done counters. Counts added before Start
	// are kept and shown once it is called.
	Add(done Counts)
	// Item names the file currently being worked on (optional display).
	Item(path string)
	// Warn reports a non-fatal problem, such as an unreadable file. It is
	// printed immediately.
	Warn(path string, err error)
	// Finish ends the display, prints a final status or summary and stops
	// any background goroutine. Further calls to Finish do nothing. If
	// Start was never called (the operation failed before it began), there
	// is nothing to summarise and Finish prints nothing.
	Finish()
}

// NoProgress discards everything.
var NoProgress Progress = noProgress{}

type noProgress struct{}

func (noProgress) Start(string, Counts) {}
func (noProgress) Add(Counts)           {}
func (noProgress) Item(string)          {}
func (noProgress) Warn(string, error)   {}
func (noProgress) Finish()              {}

// options are the knobs tests need: a fake clock and control over the
// background ticker.
type options struct {
	now      func() time.Time // nil means time.Now
	interval time.Duration    // < 0: no background goroutine (tests drive tick by hand)
}

// tracker holds the counters shared by the terminal and JSON printers. It
// is not locked itself; its owner's mutex protects it.
type tracker struct {
	now      func() time.Time
	op       string
	total    Counts
	done     Counts
	item     string
	start    time.Time
	started  bool // Start was called
	warnings int64
}

func newTracker(now func() time.Time) tracker {
	if now == nil {
		now = time.Now
	}
	return tracker{now: now, start: now()}
}

func (t *tracker) setStart(op string, total Counts) {
	if !t.started {
		t.started = true
		t.start = t.now()
	}
	t.op = op
	t.total = total
}

// status is a computed snapshot of a tracker.
type status struct {
	op        string
	total     Counts
	done      Counts
	item      string
	elapsed   time.Duration
	percent   float64       // in [0, 1]; -1 when totals are unknown
	remaining time.Duration // -1 when unknown
	rate      float64       // bytes per second; 0 when unknown
	warnings  int64
}

func (t *tracker) status() status {
	s := status{
		op:        t.op,
		total:     t.total,
		done:      t.done,
		item:      t.item,
		elapsed:   t.now().Sub(t.start),
		percent:   -1,
		remaining: -1,
		warnings:  t.warnings,
	}
	if s.elapsed < 0 {
		s.elapsed = 0
	}
	known, pct := false, 0.0
	switch {
	case t.total.Bytes > 0:
		known, pct = true, float64(t.done.Bytes)/float64(t.total.Bytes)
	case t.total.Files > 0:
		known, pct = true, float64(t.done.Files)/float64(t.total.Files)
	}
	if known {
		s.percent = min(max(pct, 0), 1)
	}
	if secs := s.elapsed.Seconds(); secs > 0 {
		s.rate = float64(t.done.Bytes) / secs
	}
	switch {
	case s.percent >= 1:
		s.remaining = 0
	case s.percent > 0:
		rem := float64(s.elapsed) * (1 - s.percent) / s.percent
		if rem < float64(1<<62) {
			s.remaining = time.Duration(rem)
		}
	}
	return s
}

// loop calls fn every interval on its own goroutine until stop is called.
// stop waits for the goroutine to exit, so fn never runs after stop returns.
type loop struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func startLoop(interval time.Duration, fn func()) *loop {
	l := &loop{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-tk.C:
				fn()
			}
		}
	}()
	return l
}

func (l *loop) stop() {
	if l == nil {
		return
	}
	l.once.Do(func() { close(l.quit) })
	<-l.done
}

// warningText is the one-line form of a warning shared by the text printers.
func warningText(path string, err error) string {
	switch {
	case path == "" && err == nil:
		return "warning"
	case path == "":
		return "warning: " + err.Error()
	case err == nil:
		return "warning: " + path
	}
	return "warning: " + path + ": " + err.Error()
}
