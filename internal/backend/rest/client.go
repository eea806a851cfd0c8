package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// errorHeader mirrors reposerver.ErrorHeader (the message of a failed HEAD).
const errorHeader = "Lumbung-Error"

// client does the HTTP of both the backend and the admin API: pinned TLS,
// the bearer token, retries, and mapping of error answers.
type client struct {
	opts Options
	base string // URL without trailing slash
	http *http.Client
	tr   *http.Transport
}

func newClient(opts Options) (*client, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Token == "" {
		return nil, errors.New("no token for the repository server: set LUMBUNG_TOKEN or LUMBUNG_TOKEN_FILE (ask the server's admin: `lumbung token create`)")
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.Fingerprint != "" {
		want := opts.Fingerprint
		// The pin replaces chain verification: exactly this certificate,
		// self-signed or not, and nothing else.
		tlsConf.InsecureSkipVerify = true
		tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &FingerprintError{Want: want, Got: "(no certificate)"}
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := "sha256:" + hex.EncodeToString(sum[:]); got != want {
				return &FingerprintError{Want: want, Got: got}
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute, // finishing a large object hashes and syncs it
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
	var rt http.RoundTripper = tr
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(tr)
	}
	return &client{
		opts: opts, base: strings.TrimSuffix(opts.URL, "/"), tr: tr,
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			// A redirect could carry the token elsewhere.
			return http.ErrUseLastResponse
		}},
	}, nil
}

func (c *client) close() { c.tr.CloseIdleConnections() }

// timeoutFor bounds one attempt moving n bytes: AttemptTimeout plus the
// time at 16 KiB/s, the slowest link the regional layer is expected to serve.
func (c *client) timeoutFor(n int) time.Duration {
	return c.opts.AttemptTimeout + time.Duration(n/(16<<10))*time.Second
}

// temporary marks an error worth retrying.
type temporary struct{ err error }

func (t temporary) Error() string { return t.err.Error() }
func (t temporary) Unwrap() error { return t.err }

// retry runs fn until it succeeds, fails with a non-temporary error, the
// attempts are used up, or ctx ends. fn gets the attempt number (0 first).
func (c *client) retry(ctx context.Context, fn func(ctx context.Context, attempt int) error) error {
	delay := c.opts.RetryBase
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn(ctx, attempt)
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// The attempt's own timeout, not the caller's: try again.
			err = temporary{fmt.Errorf("no answer from the repository server in time: %w", err)}
		}
		var tmp temporary
		if err == nil || !errors.As(err, &tmp) {
			return err
		}
		if attempt+1 >= c.opts.Retries {
			return fmt.Errorf("%w (gave up after %d attempts)", tmp.err, attempt+1)
		}
		wait := delay/2 + rand.N(delay/2+1)
		var ra retryAfter
		if errors.As(err, &ra) && ra.d > wait {
			wait = min(ra.d, c.opts.RetryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), tmp.err)
		case <-t.C:
		}
		delay = min(2*delay, c.opts.RetryMax)
	}
}

type retryAfter struct {
	error
	d time.Duration
}

func (r retryAfter) Unwrap() error { return r.error }

// do sends one request. body may be nil. The caller closes the response
// body on success; an error answer is turned into an error by statusError.
func (c *client) do(ctx context.Context, method, path string, body []byte, hdr http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	req.Header.Set("User-Agent", "lumbung")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	return resp, nil
}

// transportError classifies a failure to get an answer.
func (c *client) transportError(ctx context.Context, err error) error {
	var fp *FingerprintError
	if errors.As(err, &fp) {
		return fp
	}
	if ctx.Err() != nil {
		return err // wraps the context's error
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return fmt.Errorf("%w; if the server uses a self-signed certificate, add ?fingerprint=sha256:... (printed by `lumbung serve`) to the location", err)
	}
	return temporary{fmt.Errorf("cannot reach the repository server %s: %w", c.base, err)}
}

// statusError turns an error answer into an error matching the backend
// sentinels; it reads (a bounded part of) and closes the body.
func statusError(resp *http.Response, what string) error {
	defer resp.Body.Close()
	msg := resp.Header.Get(errorHeader)
	var body struct {
		Error  string `json:"error"`
		Offset *int64 `json:"offset"`
	}
	if data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); len(data) > 0 && json.Unmarshal(data, &body) == nil && body.Error != "" {
		msg = body.Error
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	msg = fmt.Sprintf("%s: server answered %d: %s", what, resp.StatusCode, sanitize(msg))
	var err error
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		err = fmt.Errorf("%s: %w", msg, backend.ErrPermission)
	case code == http.StatusForbidden:
		err = fmt.Errorf("%s: %w", msg, backend.ErrPermission)
	case code == http.StatusNotFound:
		err = fmt.Errorf("%s: %w", msg, backend.ErrNotExist)
	case code == http.StatusConflict:
		err = &conflict{msg: msg, offset: body.Offset}
	case code == http.StatusRequestedRangeNotSatisfiable:
		err = fmt.Errorf("%s: %w", msg, io.ErrUnexpectedEOF)
	case code == http.StatusInsufficientStorage:
		err = fmt.Errorf("%s: %w", msg, backend.ErrNoSpace)
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		err = temporary{errors.New(msg)}
		if s := resp.Header.Get("Retry-After"); s != "" {
			if n, perr := strconv.Atoi(s); perr == nil && n > 0 {
				err = retryAfter{err, time.Duration(n) * time.Second}
			}
		}
	default:
		err = errors.New(msg)
	}
	return err
}

// conflict is a 409: the name exists (ErrExists), or an upload offset
// differs (offset set).
type conflict struct {
	msg    string
	offset *int64
}

func (c *conflict) Error() string        { return c.msg }
func (c *conflict) Is(target error) bool { return target == backend.ErrExists && c.offset == nil }

// sanitize keeps a server's message to one printable line of bounded size.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}
