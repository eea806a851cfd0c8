package reposerver

import (
	"context"
	"io"
	"log/slog"
	"net/http"
)

// auditLog records refused requests: who (token name, never the token),
// from where, what, and why. An attacker probing with a stolen append token
// shows up here.
type auditLog struct{ log *slog.Logger }

func newAuditLog(w io.Writer) *auditLog {
	return &auditLog{log: slog.New(slog.NewJSONHandler(w, nil))}
}

func (a *auditLog) refused(r *http.Request, tokenName string, status int, reason string) {
	a.log.LogAttrs(context.Background(), slog.LevelWarn, "refused",
		slog.String("token", tokenName),
		slog.String("remote", r.RemoteAddr),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.String("reason", reason))
}
