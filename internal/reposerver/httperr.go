package reposerver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// ErrorHeader carries the error message too, so that a HEAD request (which
// has no body) still tells the client why it failed.
const ErrorHeader = "Lumbung-Error"

// apiError is the JSON body of every error response.
type apiError struct {
	Error  string `json:"error"`
	Offset *int64 `json:"offset,omitempty"` // upload sessions: the server's offset
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeErrorBody(w, status, apiError{Error: msg})
}

func writeErrorBody(w http.ResponseWriter, status int, body apiError) {
	w.Header().Set(ErrorHeader, strings.NewReplacer("\r", " ", "\n", " ").Replace(body.Error))
	writeJSON(w, status, body)
}

// storageStatus maps a storage error to a status code.
func storageStatus(err error) int {
	switch {
	case errors.Is(err, backend.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, backend.ErrExists):
		return http.StatusConflict
	case errors.Is(err, backend.ErrNoSpace):
		return http.StatusInsufficientStorage
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusRequestedRangeNotSatisfiable
	}
	return http.StatusInternalServerError
}
