package main

import (
	"context"

	"github.com/lumbung-id/lumbung/internal/demo"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	f := newFlags("demo")
	dir := f.String("dir", "", "work in this `DIR` (default: a new temporary directory, kept for you to explore)")
	size := f.Int("size-mib", 64, "approximate size of the sample data in MiB")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usagef("demo takes no arguments (got %q)", f.args)
	}
	return demo.Run(ctx, demo.Options{Dir: *dir, SizeMiB: *size, Out: e.stdout, JSON: f.json, Stderr: e.stderr, Version: version})
}
