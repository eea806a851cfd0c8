package main

import (
	"context"
	"fmt"
	"io"

	"github.com/lumbung-id/lumbung/internal/repository"
)

func runInit(ctx context.Context, e *env, args []string) error {
	f := newFlags("init")
	var rf repoFlags
	rf.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usagef("init takes no arguments (got %q)", f.args)
	}
	loc, err := rf.location(e)
	if err != nil {
		return err
	}
	// Refuse an existing repository before asking for a new password for it.
	if be, err := openBackend(ctx, e, loc); err == nil {
		return fmt.Errorf("a repository already exists at %s; nothing was changed (to create another one, choose a new or empty directory)", be.Location())
	}
	pw, err := rf.password(e, "Kata sandi baru / new password: ", true)
	if err != nil {
		return err
	}
	// The backend's error already names the location ("create repository
	// at DIR: ..."); wrapping it again printed the location twice.
	be, err := createBackend(ctx, e, loc)
	if err != nil {
		return err
	}
	repo, err := repository.Init(ctx, be, pw, repoOptions(e))
	if err != nil {
		return err
	}
	cfg := repo.Config()
	return f.printer(e).Result(map[string]any{"message_type": "initialized", "id": cfg.ID, "repository": be.Location(), "format_version": cfg.Version}, func(w io.Writer) {
		fmt.Fprintf(w, "created repository %s at %s\n", cfg.ID.Short(), be.Location())
		fmt.Fprintln(w, "Keep the password safe: without it the data cannot be recovered by anyone.")
	})
}
