package ui

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// terminalInterval is how often the status line is redrawn.
const terminalInterval = 100 * time.Millisecond

// NewTerminal returns a Progress that keeps a single status line updated on
// w, which should be a terminal, at most every 100 ms: elapsed time, a
// percentage and bar when totals are known, bytes done/total, files,
// throughput and ETA, then the current item if there is room. width reports
// the terminal's width in columns (nil or a result <= 0 means 80). Warnings
// are printed on their own lines above the status line. Finish clears the
// line, prints a one-line summary (none if Start was never called) and stops
// the drawing goroutine.
func NewTerminal(w io.Writer, width func() int) Progress {
	return newTerminal(w, width, options{})
}

func newTerminal(w io.Writer, width func() int, o options) *terminal {
	if o.interval == 0 {
		o.interval = terminalInterval
	}
	t := &terminal{meter: meter{interval: o.interval, tr: newTracker(o.now)}, w: w, width: width}
	t.meter.tick = t.tick
	return t
}

type terminal struct {
	meter
	w     io.Writer
	width func() int
	shown string // the status line currently on screen, "" if none
}

func (t *terminal) Warn(path string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tr.warnings++
	var b strings.Builder
	if t.shown != "" {
		b.WriteString("\r\x1b[K")
	}
	b.WriteString(sanitize(warningText(path, err)))
	b.WriteByte('\n')
	if t.shown != "" && !t.finished {
		// Put the status line back right away instead of waiting a tick.
		b.WriteString(t.shown)
	}
	io.WriteString(t.w, b.String())
}

func (t *terminal) Finish() {
	if !t.stop() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tr.started {
		return // the operation never began: no "done" line for it
	}
	var b strings.Builder
	if t.shown != "" {
		b.WriteString("\r\x1b[K")
		t.shown = ""
	}
	b.WriteString(summaryLine(t.tr.status()))
	b.WriteByte('\n')
	io.WriteString(t.w, b.String())
}

// tick redraws the status line if it changed.
func (t *terminal) tick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished || !t.tr.started {
		return
	}
	line := statusLine(t.tr.status(), t.columns())
	if line == t.shown {
		return
	}
	t.shown = line
	io.WriteString(t.w, "\r"+line+"\x1b[K")
}

// columns is the usable width: one less than the terminal's, so that the
// cursor never wraps to the next line.
func (t *terminal) columns() int {
	w := 0
	if t.width != nil {
		w = t.width()
	}
	if w <= 0 {
		w = 80
	}
	return max(w-1, 10)
}

// statusLine renders s in at most width columns (counting runes), e.g.
//
//	backup [1m05s]  42.0% [########          ] 1.5 GiB / 3.6 GiB  120 / 400 files  23.4 MiB/s  ETA 1m30s  /home/a/file
func statusLine(s status, width int) string {
	head := "[" + FormatDuration(s.elapsed) + "]"
	if s.op != "" {
		head = sanitize(s.op) + " " + head
	}
	var pct string
	var parts []string
	if s.percent >= 0 {
		pct = fmt.Sprintf("%5.1f%%", s.percent*100)
	}
	if s.total.Bytes > 0 {
		parts = append(parts, FormatBytes(s.done.Bytes)+" / "+FormatBytes(s.total.Bytes))
	} else {
		parts = append(parts, FormatBytes(s.done.Bytes))
	}
	if s.total.Files > 0 {
		parts = append(parts, fmt.Sprintf("%d / %d files", s.done.Files, s.total.Files))
	} else {
		parts = append(parts, fmt.Sprintf("%d files", s.done.Files))
	}
	if s.rate > 0 {
		parts = append(parts, formatRate(s.rate))
	}
	if s.remaining >= 0 && s.percent < 1 {
		parts = append(parts, "ETA "+FormatDuration(s.remaining))
	}
	if s.warnings > 0 {
		parts = append(parts, fmt.Sprintf("%d warnings", s.warnings))
	}
	stats := strings.Join(parts, "  ")

	line := head
	if pct != "" {
		line += " " + pct
		// The bar gets what is left after the text and some room for the
		// item, up to 20 cells.
		reserve := 0
		if s.item != "" {
			reserve = min(runeLen(s.item)+2, 20)
		}
		if n := min(width-runeLen(line)-runeLen(stats)-4-reserve, 20); n >= 5 {
			line += " " + bar(s.percent, n)
		}
	}
	line += " " + stats
	if s.item != "" {
		if room := width - runeLen(line) - 2; room >= 8 {
			line += "  " + truncLeft(sanitize(s.item), room)
		}
	}
	return truncRight(line, width)
}

func bar(p float64, n int) string {
	filled := min(max(int(p*float64(n)), 0), n)
	return "[" + strings.Repeat("#", filled) + strings.Repeat(" ", n-filled) + "]"
}

// summaryLine is printed when the operation finishes, e.g.
// "backup done: 1234 files, 56 dirs, 3.0 GiB in 1m05s (47.3 MiB/s), 2 warnings".
func summaryLine(s status) string {
	op := sanitize(s.op)
	if op == "" {
		op = "operation"
	}
	line := fmt.Sprintf("%s done: %d files, %d dirs, %s in %s",
		op, s.done.Files, s.done.Dirs, FormatBytes(s.done.Bytes), FormatDuration(s.elapsed))
	if s.rate > 0 {
		line += " (" + formatRate(s.rate) + ")"
	}
	switch s.warnings {
	case 0:
	case 1:
		line += ", 1 warning"
	default:
		line += fmt.Sprintf(", %d warnings", s.warnings)
	}
	return line
}

func runeLen(s string) int { return len([]rune(s)) }

// truncRight cuts s to at most n runes.
func truncRight(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n, 0)])
}

// truncLeft keeps the end of s (the file name is the interesting part of a
// path), marking the cut with "...".
func truncLeft(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 3 {
		return string(r[len(r)-n:])
	}
	return "..." + string(r[len(r)-(n-3):])
}
