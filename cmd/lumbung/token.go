package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// tokenJSON is a token in --json output: the same shape as the server's
// admin API answers.
type tokenJSON = reposerver.TokenView

// tokenAdmin is where tokens are managed: the server's data directory
// (on the server machine) or the server's admin API.
type tokenAdmin interface {
	list(ctx context.Context) ([]tokenJSON, error)
	create(ctx context.Context, spec reposerver.TokenSpec) (string, tokenJSON, error)
	revoke(ctx context.Context, name string) (tokenJSON, error)
	close()
}

func runToken(ctx context.Context, e *env, args []string) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	f := newFlags("token " + cmp.Or(sub, "create|list|revoke"))
	data := f.String("data", "", "the server's data `DIR` (on the server machine)")
	server := f.String("server", "", "or the server's `URL` (https://host:8443), with an admin token in LUMBUNG_TOKEN or LUMBUNG_TOKEN_FILE")
	fingerprint := f.String("fingerprint", "", "with --server: the certificate pin (sha256:...) printed by `lumbung serve`")
	name := f.String("name", "", "token `NAME` (create, revoke)")
	scope := f.String("scope", "append", "with create: read, append or admin")
	repo := f.String("repo", "", "with create: the repository `NAME` the token is for, or * for all")
	quota := f.String("quota", "0", "with create: bytes the token may add (e.g. 500G); 0 is unlimited")
	if err := f.parse(args); err != nil {
		return err
	}
	if sub == "" {
		if len(f.args) == 0 {
			return usagef("usage: lumbung token create|list|revoke (--data DIR | --server URL)")
		}
		sub, f.args = f.args[0], f.args[1:]
	}
	if sub == "revoke" && *name == "" && len(f.args) == 1 {
		*name, f.args = f.args[0], nil
	}
	if len(f.args) > 0 {
		return usagef("token %s: unexpected arguments %q", sub, f.args)
	}
	admin, err := openTokenAdmin(e, *data, *server, *fingerprint)
	if err != nil {
		return err
	}
	defer admin.close()
	p := f.printer(e)
	switch sub {
	case "list":
		list, err := admin.list(ctx)
		if err != nil {
			return err
		}
		return p.Result(list, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "Name\tScope\tRepository\tUsed\tQuota\tCreated")
			for _, t := range list {
				q := "unlimited"
				if t.Quota > 0 {
					q = ui.FormatBytes(t.Quota)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Scope, t.Repo, ui.FormatBytes(t.Used), q, t.Created.Local().Format(time.DateTime))
			}
			tw.Flush()
		})
	case "create":
		if *name == "" || *repo == "" {
			return usagef("token create needs --name NAME and --repo REPO (or --repo '*')")
		}
		sc, err := reposerver.ParseScope(*scope)
		if err != nil {
			return usageError{err.Error()}
		}
		q, err := parseSize(*quota)
		if err != nil {
			return usagef("invalid --quota %q: use a size such as 500G, or 0 for unlimited", *quota)
		}
		spec := reposerver.TokenSpec{Name: *name, Scope: sc, Repo: *repo, Quota: q}
		if err := spec.Validate(); err != nil {
			return usageError{err.Error()}
		}
		secret, info, err := admin.create(ctx, spec)
		if err != nil {
			return err
		}
		return p.Result(map[string]any{"message_type": "token_created", "token": secret, "info": info}, func(w io.Writer) {
			fmt.Fprintf(w, "created %s token %q for repository %s\n%s\n", info.Scope, info.Name, info.Repo, secret)
			fmt.Fprintln(w, "This is the only time the token is shown: give it to its user now (as LUMBUNG_TOKEN or a LUMBUNG_TOKEN_FILE).")
		})
	case "revoke":
		if *name == "" {
			return usagef("token revoke needs --name NAME")
		}
		info, err := admin.revoke(ctx, *name)
		if err != nil {
			return err
		}
		return p.Result(map[string]any{"message_type": "token_revoked", "info": info}, func(w io.Writer) {
			fmt.Fprintf(w, "revoked token %q; requests with it are refused from now on\n", info.Name)
		})
	}
	return usagef("unknown subcommand token %q: use create, list or revoke", sub)
}

func openTokenAdmin(e *env, data, server, fingerprint string) (tokenAdmin, error) {
	switch {
	case (data == "") == (server == ""):
		return nil, usagef("give --data DIR (on the server machine) or --server URL (remotely, with an admin token)")
	case data != "":
		st, err := reposerver.OpenTokenStore(data)
		if err != nil {
			return nil, err
		}
		return localTokens{st, data}, nil
	}
	token := e.getenv("LUMBUNG_TOKEN")
	if f := e.getenv("LUMBUNG_TOKEN_FILE"); token == "" && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read token file (LUMBUNG_TOKEN_FILE): %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	a, err := rest.NewAdmin(server, fingerprint, token)
	if err != nil {
		return nil, err
	}
	return remoteTokens{a}, nil
}

// localTokens manages the token file directly.
type localTokens struct {
	st   *reposerver.TokenStore
	data string
}

func localJSON(t reposerver.Token) tokenJSON {
	return tokenJSON{Name: t.Name, Scope: t.Scope, Repo: t.Repo, Quota: t.Quota, Created: t.Created}
}

func (l localTokens) list(context.Context) ([]tokenJSON, error) {
	ts, err := l.st.List()
	if err != nil {
		return nil, err
	}
	usage, err := reposerver.ReadUsage(l.data)
	if err != nil {
		return nil, err
	}
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		j := localJSON(t)
		j.Used = usage[t.ID]
		out = append(out, j)
	}
	return out, nil
}

func (l localTokens) create(_ context.Context, spec reposerver.TokenSpec) (string, tokenJSON, error) {
	secret, t, err := l.st.Create(spec, time.Now())
	return secret, localJSON(t), err
}

func (l localTokens) revoke(_ context.Context, name string) (tokenJSON, error) {
	t, err := l.st.Revoke(name)
	return localJSON(t), err
}

func (l localTokens) close() {}

type remoteTokens struct{ a *rest.Admin }

func remoteJSON(t rest.TokenInfo) tokenJSON {
	return tokenJSON{Name: t.Name, Scope: reposerver.Scope(t.Scope), Repo: t.Repo, Quota: t.Quota, Used: t.Used, Created: t.Created}
}

func (r remoteTokens) list(ctx context.Context) ([]tokenJSON, error) {
	ts, err := r.a.Tokens(ctx)
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, remoteJSON(t))
	}
	return out, err
}

func (r remoteTokens) create(ctx context.Context, spec reposerver.TokenSpec) (string, tokenJSON, error) {
	secret, t, err := r.a.CreateToken(ctx, rest.TokenRequest{Name: spec.Name, Scope: string(spec.Scope), Repo: spec.Repo, Quota: spec.Quota})
	return secret, remoteJSON(t), err
}

func (r remoteTokens) revoke(ctx context.Context, name string) (tokenJSON, error) {
	t, err := r.a.RevokeToken(ctx, name)
	return remoteJSON(t), err
}

func (r remoteTokens) close() { r.a.Close() }

// parseSize reads a byte size: a number with an optional binary suffix
// K, M, G, T (with or without "B" or "iB"): "500G" is 500 GiB.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
