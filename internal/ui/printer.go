package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Printer writes a command's results to stdout, either as text for people
// or as one line of JSON per result for scripts.
type Printer struct {
	w    io.Writer
	json bool
}

// NewPrinter returns a Printer writing to stdout, in JSON mode if json is
// true.
func NewPrinter(stdout io.Writer, json bool) *Printer {
	return &Printer{w: stdout, json: json}
}

// JSON reports whether p is in JSON mode.
func (p *Printer) JSON() bool { return p.json }

// Result prints a command result: in JSON mode v is encoded as one line of
// JSON; otherwise text is called to write the human form (a nil text prints
// nothing). The error is the JSON encoding or write error.
func (p *Printer) Result(v any, text func(w io.Writer)) error {
	if !p.json {
		if text != nil {
			text(p.w)
		}
		return nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // paths with & < > stay readable
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// Line prints a formatted line in text mode, adding the newline if missing.
// In JSON mode it prints nothing, so informational text never corrupts the
// JSON stream.
func (p *Printer) Line(format string, args ...any) {
	if p.json {
		return
	}
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	io.WriteString(p.w, s)
}
