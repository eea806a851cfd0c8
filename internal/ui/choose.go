package ui

import (
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether f is an interactive terminal.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Choose picks the progress display for a command: JSON on stdout when json
// is true, a terminal status line on stderr when stderr is a terminal, and
// otherwise warnings only on stderr.
func Choose(json bool, stdout, stderr *os.File) Progress {
	switch {
	case json:
		return NewJSON(stdout)
	case IsTerminal(stderr):
		fd := int(stderr.Fd())
		return NewTerminal(stderr, func() int {
			w, _, err := term.GetSize(fd)
			if err != nil {
				return 0
			}
			return w
		})
	}
	return NewQuiet(stderr)
}
