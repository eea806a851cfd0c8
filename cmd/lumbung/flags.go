package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/lumbung-id/lumbung/internal/ui"
)

// errHelp means --help was shown; not a failure.
var errHelp = errors.New("help shown")

// helpShown is errHelp carrying the usage text, which report prints on the
// command's standard output (the env's, not the process's).
type helpShown struct{ usage string }

func (h helpShown) Error() string        { return errHelp.Error() }
func (h helpShown) Is(target error) bool { return target == errHelp }

// flags wraps a FlagSet with the flags every command has, and parses flags
// and arguments in any order (`backup /srv --tag x`).
type flags struct {
	*flag.FlagSet
	json bool
	args []string
	name string
}

func newFlags(name string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), name: name}
	f.SetOutput(io.Discard)
	f.BoolVar(&f.json, "json", false, "print machine-readable JSON (one object per line)")
	return f
}

// parse parses args, allowing flags after positional arguments; "--" ends flags.
func (f *flags) parse(args []string) error {
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				f.printUsage(&b)
				return helpShown{b.String()}
			}
			return usagef("%v (see `lumbung %s --help`)", err, f.name)
		}
		rest := f.FlagSet.Args()
		if len(rest) == 0 {
			return nil
		}
		// FlagSet stops at "--" (consumed) or at the first non-flag.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			f.args = append(f.args, rest...)
			return nil
		}
		f.args = append(f.args, rest[0])
		args = rest[1:]
	}
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: lumbung %s [flags]\n\nFlags:\n", f.name)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

func (f *flags) printer(e *env) *ui.Printer { return ui.NewPrinter(e.stdout, f.json) }

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
