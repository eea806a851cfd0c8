package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Admin manages the tokens of a server remotely with an admin token bound
// to every repository ("*").
type Admin struct{ c *client }

// TokenInfo is a token as the server shows it (docs/server.md).
type TokenInfo struct {
	Name    string    `json:"name"`
	Scope   string    `json:"scope"`
	Repo    string    `json:"repo"`
	Quota   int64     `json:"quota"`
	Used    int64     `json:"used"`
	Created time.Time `json:"created"`
}

// TokenRequest asks for a new token.
type TokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	Repo  string `json:"repo"`
	Quota int64  `json:"quota,omitempty"`
}

// NewAdmin returns an admin client for the server at serverURL.
func NewAdmin(serverURL, fingerprint, token string) (*Admin, error) {
	// The repository name only satisfies validation; admin calls do not use it.
	c, err := newClient(Options{URL: serverURL, Repo: "admin", Fingerprint: fingerprint, Token: token})
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// Close releases idle connections.
func (a *Admin) Close() { a.c.close() }

func (a *Admin) call(ctx context.Context, method, path string, in, out any, what string) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	retryable := method == http.MethodGet
	return a.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, a.c.timeoutFor(0))
		defer cancel()
		resp, err := a.c.do(ctx, method, path, body, http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			if !retryable {
				// A create whose answer is lost must not be sent twice
				// blindly: the secret would be lost with it.
				return fmt.Errorf("%s: %w", what, unwrapTemporary(err))
			}
			return err
		}
		if resp.StatusCode/100 != 2 {
			err := statusError(resp, what)
			if !retryable {
				return unwrapTemporary(err)
			}
			return err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
			return fmt.Errorf("%s: unreadable answer: %w", what, err)
		}
		return nil
	})
}

func unwrapTemporary(err error) error {
	if t, ok := err.(temporary); ok {
		return t.err
	}
	return err
}

// Tokens lists the server's tokens.
func (a *Admin) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	err := a.call(ctx, http.MethodGet, "/v1/admin/tokens", nil, &out, "list tokens")
	return out, err
}

// CreateToken makes a token and returns its secret, shown only this once.
func (a *Admin) CreateToken(ctx context.Context, req TokenRequest) (string, TokenInfo, error) {
	var out struct {
		Token string    `json:"token"`
		Info  TokenInfo `json:"info"`
	}
	err := a.call(ctx, http.MethodPost, "/v1/admin/tokens", req, &out, "create token")
	return out.Token, out.Info, err
}

// RevokeToken removes the token called name.
func (a *Admin) RevokeToken(ctx context.Context, name string) (TokenInfo, error) {
	var out TokenInfo
	err := a.call(ctx, http.MethodDelete, "/v1/admin/tokens/"+url.PathEscape(name), nil, &out, "revoke token")
	return out, err
}
