package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

func runKey(ctx context.Context, e *env, args []string) error {
	// The subcommand is the first argument; flags may come before it
	// (`key --json list`), and `key --help` shows the flags.
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	f := newFlags("key " + cmp.Or(sub, "add|list|remove"))
	var rf repoFlags
	rf.register(f)
	newPwFile := f.String("new-password-file", "", "with add: read the new password from this file")
	label := f.String("label", "", "with add: a note on whose key this is")
	if err := f.parse(args); err != nil {
		return err
	}
	if sub == "" {
		if len(f.args) == 0 {
			return usagef("usage: lumbung key add|list|remove --repo R")
		}
		sub, f.args = f.args[0], f.args[1:]
	}
	p := f.printer(e)
	switch sub {
	case "list":
		repo, err := rf.open(ctx, e, false)
		if err != nil {
			return err
		}
		keys, err := repo.ListKeys(ctx)
		if err != nil {
			return err
		}
		return p.Result(keys, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, " \tID\tUser\tHost\tCreated\tLabel")
			for _, k := range keys {
				cur := " "
				if k.Current {
					cur = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cur, k.ID.Short(), k.Username, k.Hostname, k.Created.Local().Format(time.DateTime), k.Label)
			}
			tw.Flush()
		})
	case "add":
		repo, err := rf.open(ctx, e, false)
		if err != nil {
			return err
		}
		var pw []byte
		if *newPwFile != "" {
			data, err := os.ReadFile(*newPwFile)
			if err != nil {
				return fmt.Errorf("read new password file: %w", err)
			}
			pw = []byte(strings.TrimRight(string(data), "\r\n"))
		} else if v := e.getenv("LUMBUNG_NEW_PASSWORD"); v != "" {
			pw = []byte(v)
		} else {
			pw, err = readPasswordTTY(e, "Kata sandi baru / new password: ", true)
			if err != nil {
				return err
			}
		}
		if len(pw) == 0 {
			return usagef("the new password is empty")
		}
		id, err := repo.AddKey(ctx, pw, *label)
		if err != nil {
			return err
		}
		return p.Result(map[string]any{"message_type": "key_added", "id": id}, func(w io.Writer) {
			fmt.Fprintf(w, "added key %s\n", id.Short())
		})
	case "remove":
		if len(f.args) != 1 {
			return usagef("usage: lumbung key remove --repo R KEY-ID")
		}
		repo, err := rf.open(ctx, e, false)
		if err != nil {
			return err
		}
		keys, err := repo.ListKeys(ctx)
		if err != nil {
			return err
		}
		var match []crypto.ID
		for _, k := range keys {
			if strings.HasPrefix(k.ID.String(), strings.ToLower(f.args[0])) {
				match = append(match, k.ID)
			}
		}
		if len(match) != 1 {
			return fmt.Errorf("key id %q matches %d keys; `lumbung key list` shows them", f.args[0], len(match))
		}
		if err := repo.RemoveKey(ctx, match[0]); err != nil {
			return err
		}
		return p.Result(map[string]any{"message_type": "key_removed", "id": match[0]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed key %s\n", match[0].Short())
		})
	}
	return usagef("unknown key subcommand %q: use add, list or remove", sub)
}
