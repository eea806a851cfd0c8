package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// runServe runs the repository server (docs/server.md) until interrupted.
func runServe(ctx context.Context, e *env, args []string) error {
	f := newFlags("serve")
	data := f.String("data", "", "server data `DIR` (repositories, tokens, certificate, audit log)")
	listen := f.String("listen", ":8443", "listen on this `ADDRESS` (host:port)")
	certFile := f.String("tls-cert", "", "TLS certificate `FILE` (PEM); default: a self-signed one made in DIR/server on first run")
	keyFile := f.String("tls-key", "", "TLS private key `FILE` (PEM), with --tls-cert")
	var hosts stringList
	f.Var(&hosts, "hostname", "a `NAME` or IP address clients use to reach this server, put in a generated certificate (repeatable)")
	maxObject := f.String("max-object-size", "256M", "largest object accepted (`SIZE`)")
	storage := f.String("storage", "", "keep the repositories in this S3 `LOCATION` (s3:https://host/bucket/prefix?retention=30d; keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) instead of DIR/repos")
	var pullFlags stringList
	f.Var(&pullFlags, "pull", "pull a repository from a lower layer's server on a schedule, as `SPEC` "+
		"name=NAME,from=LOCATION,token-file=FILE,to=REPO[,every=1h][,window=19:00-06:00][,bandwidth=20Mbit] (repeatable; see docs/server.md)")
	pullFile := f.String("pull-file", "", "read pull jobs from `FILE`: one --pull SPEC per line, '#' starts a comment")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usagef("serve takes no arguments (got %q)", f.args)
	}
	if *data == "" {
		return usagef("no data directory: use --data DIR (it is created if missing)")
	}
	if (*certFile == "") != (*keyFile == "") {
		return usagef("give both --tls-cert and --tls-key, or neither (for a generated self-signed certificate)")
	}
	maxSize, err := parseSize(*maxObject)
	if err != nil || maxSize <= 0 {
		return usagef("invalid --max-object-size %q: use a size such as 256M", *maxObject)
	}
	var pulls []reposerver.PullSpec
	for _, v := range pullFlags {
		spec, err := reposerver.ParsePullSpec(v)
		if err != nil {
			return usagef("invalid --pull: %v", err)
		}
		pulls = append(pulls, spec)
	}
	if *pullFile != "" {
		specs, err := reposerver.ReadPullFile(*pullFile)
		if err != nil {
			return usagef("invalid --pull-file: %v", err)
		}
		pulls = append(pulls, specs...)
	}
	p := f.printer(e)
	diag := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := reposerver.Options{DataDir: *data, MaxObjectSize: maxSize, Log: diag, AuditCopy: e.stderr}
	if *storage != "" {
		rest, ok := strings.CutPrefix(*storage, "s3:")
		if !ok {
			return usagef("invalid --storage %q: only an S3 location (s3:https://host/bucket/prefix) is supported; without --storage repositories are kept in DIR/repos", *storage)
		}
		st, err := reposerver.NewS3Store(rest, e.getenv("AWS_ACCESS_KEY_ID"), e.getenv("AWS_SECRET_ACCESS_KEY"))
		if err != nil {
			return fmt.Errorf("--storage: %w", err)
		}
		opts.Store = st
	}
	srv, err := reposerver.New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, spec := range pulls {
		if err := srv.AddPull(spec); err != nil {
			return usagef("invalid --pull: %v", err)
		}
	}

	var cert tls.Certificate
	created := false
	if *certFile != "" {
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
	} else if cert, created, err = reposerver.LoadOrCreateCertificate(*data, hosts, time.Now()); err != nil {
		return err
	}
	fp := reposerver.Fingerprint(cert.Certificate[0])

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? choose another --listen)", *listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := "HOST"
	if len(hosts) > 0 {
		host = hosts[0]
	} else if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	location := "rest:https://" + net.JoinHostPort(host, strconv.Itoa(addr.Port)) + "/REPO?fingerprint=" + fp
	tokens, err := srv.Tokens().List()
	if err != nil {
		ln.Close()
		return err
	}
	pullJobs := make([]map[string]any, 0, len(pulls))
	for _, j := range pulls {
		m := map[string]any{"name": j.Name, "from": j.From, "to": j.To, "every": j.Every.String()}
		if j.Window != nil {
			m["window"] = j.Window.String()
		}
		if j.BytesPerSecond > 0 {
			m["bytes_per_second"] = j.BytesPerSecond
		}
		pullJobs = append(pullJobs, m)
	}
	if err := p.Result(map[string]any{
		"message_type": "serving", "listen": addr.String(), "fingerprint": fp,
		"certificate_created": created, "location": location, "tokens": len(tokens),
		"pull_jobs": pullJobs,
	}, func(w io.Writer) {
		if created {
			fmt.Fprintf(w, "created a self-signed certificate in %s/server\n", *data)
		}
		fmt.Fprintf(w, "serving on %s\ncertificate fingerprint: %s\n", addr, fp)
		fmt.Fprintf(w, "clients use: --repo %s\n", location)
		if len(tokens) == 0 {
			fmt.Fprintf(w, "no tokens yet: lumbung token create --data %s --name NAME --scope append --repo REPO\n", *data)
		}
		for _, j := range pulls {
			fmt.Fprintf(w, "pull job %s: %s into repository %s every %s", j.Name, j.From, j.To, j.Every)
			if j.Window != nil {
				fmt.Fprintf(w, ", window %s", j.Window)
			}
			if j.BytesPerSecond > 0 {
				fmt.Fprintf(w, ", at most %d bytes/s", j.BytesPerSecond)
			}
			fmt.Fprintln(w)
		}
		if len(pulls) > 0 {
			fmt.Fprintf(w, "pull status: %s/server/pull-state.json or GET /v1/admin/pull (admin token)\n", *data)
		}
	}); err != nil {
		ln.Close()
		return err
	}
	if err := srv.Run(ctx, ln, cert); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return p.Result(map[string]any{"message_type": "stopped"}, func(w io.Writer) { fmt.Fprintln(w, "stopped") })
}
