package ui

import (
	"io"
	"sync"
)

// NewQuiet returns a Progress that prints only warnings, one per line as
// "warning: PATH: ERR". It is meant for output that is not a terminal (logs,
// cron mail), where an updating status line would be noise.
func NewQuiet(w io.Writer) Progress {
	return &quiet{w: w}
}

type quiet struct {
	mu sync.Mutex
	w  io.Writer
}

func (*quiet) Start(string, Counts) {}
func (*quiet) Add(Counts)           {}
func (*quiet) Item(string)          {}
func (*quiet) Finish()              {}

func (q *quiet) Warn(path string, err error) {
	line := sanitize(warningText(path, err)) + "\n"
	q.mu.Lock()
	defer q.mu.Unlock()
	io.WriteString(q.w, line)
}
