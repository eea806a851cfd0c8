// Package rest is the client backend of the Lumbung repository server
// (internal/reposerver, `lumbung serve`): a backend.Backend that stores a
// repository on the server over HTTPS.
//
// It pins the server's certificate when the location carries a fingerprint
// (self-signed certificates are the normal case), retries transient
// failures with bounded backoff, sends large objects through resumable
// upload sessions, and maps the server's answers to the backend errors
// (403 to ErrPermission, 404 to ErrNotExist, 409 to ErrExists, 507 to
// ErrNoSpace). It enforces nothing itself: the server decides what a
// token may do. It must never send the token anywhere but the configured
// server, and never trust the server's data beyond what it asked for.
package rest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Options configure a client. Zero fields take the defaults in withDefaults.
type Options struct {
	// URL is the server's base URL, e.g. "https://prov.example:8443".
	URL string
	// Repo is the repository name on the server.
	Repo string
	// Token is the bearer token (lumbung token create).
	Token string
	// Fingerprint pins the server certificate ("sha256:<64 hex>"); empty
	// means the system's trusted roots verify it.
	Fingerprint string

	// Retries bounds the attempts after a transient failure (default 6).
	Retries int
	// RetryBase is the first backoff; it doubles up to RetryMax (defaults
	// 500 ms and 30 s).
	RetryBase, RetryMax time.Duration
	// SessionThreshold: objects larger than this go through a resumable
	// upload session (default 4 MiB).
	SessionThreshold int
	// ChunkSize bounds one chunk of a session (default 16 MiB).
	ChunkSize int
	// AttemptTimeout is the time one request may take before it is
	// abandoned and retried, plus a second per 16 KiB it moves (default 1
	// minute).
	AttemptTimeout time.Duration
	// WrapTransport, if set, wraps the HTTP transport (tests inject faults).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

func (o Options) withDefaults() Options {
	if o.Retries <= 0 {
		o.Retries = 6
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 500 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.SessionThreshold <= 0 {
		o.SessionThreshold = 4 << 20
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 16 << 20
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = time.Minute
	}
	return o
}

var (
	repoNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	fingerprintRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ParseLocation parses the part of a "rest:" location after the scheme:
// "https://host:port[/prefix]/<repo>[?fingerprint=sha256:<hex>]".
func ParseLocation(s string) (Options, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Options{}, fmt.Errorf("rest location %q: %w", s, err)
	}
	if u.User != nil {
		return Options{}, fmt.Errorf("rest location %q: do not put credentials in the location; set LUMBUNG_TOKEN or LUMBUNG_TOKEN_FILE", redact(u))
	}
	base, repo := "/", ""
	if i := strings.LastIndex(u.Path, "/"); i >= 0 {
		base, repo = u.Path[:i+1], u.Path[i+1:]
	}
	if !repoNameRE.MatchString(repo) {
		return Options{}, fmt.Errorf("rest location %q: it must end in a repository name (1-63 characters a-z, 0-9, '.', '_', '-'), e.g. rest:https://host:8443/dukcapil", s)
	}
	q := u.Query()
	fp := strings.ToLower(q.Get("fingerprint"))
	q.Del("fingerprint")
	if len(q) > 0 || u.Fragment != "" {
		return Options{}, fmt.Errorf("rest location %q: the only query parameter is fingerprint=sha256:<hex>", s)
	}
	o := Options{URL: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(base, "/")}).String(), Repo: repo, Fingerprint: fp}
	if err := o.validate(); err != nil {
		return Options{}, fmt.Errorf("rest location %q: %w", s, err)
	}
	return o, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// validate checks the fields that say where and how to connect.
func (o Options) validate() error {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid server URL %q: use https://host:port", o.URL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Plain HTTP would show the token to the network; only loopback
		// (tests, a local reverse proxy) is allowed.
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("plain http is allowed only to localhost (it would send the token unencrypted); use https://%s", u.Host)
		}
		if o.Fingerprint != "" {
			return errors.New("a fingerprint needs https")
		}
	default:
		return fmt.Errorf("unsupported scheme %q in %q: use https://", u.Scheme, o.URL)
	}
	if !repoNameRE.MatchString(o.Repo) {
		return fmt.Errorf("invalid repository name %q", o.Repo)
	}
	if o.Fingerprint != "" && !fingerprintRE.MatchString(o.Fingerprint) {
		return fmt.Errorf("invalid fingerprint %q: use sha256: and 64 hex digits, as printed by `lumbung serve`", o.Fingerprint)
	}
	return nil
}

// Location is the location string of o (without the token, which never
// appears in one).
func (o Options) Location() string {
	s := "rest:" + strings.TrimSuffix(o.URL, "/") + "/" + o.Repo
	if o.Fingerprint != "" {
		s += "?fingerprint=" + o.Fingerprint
	}
	return s
}

// FingerprintError is returned when the server's certificate is not the
// pinned one: either the wrong server, a man in the middle, or a
// certificate replaced on purpose.
type FingerprintError struct{ Want, Got string }

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("the server's certificate has fingerprint %s, expected %s (the location's fingerprint=); refusing to talk to it. If its admin replaced the certificate, get the new fingerprint from `lumbung serve`'s output and update the location", e.Got, e.Want)
}
