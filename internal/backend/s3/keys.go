package s3

import (
	"fmt"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// prefix returns the key prefix of the repository, "" or ending in "/".
func (b *Backend) prefix() string {
	if b.cfg.Prefix == "" {
		return ""
	}
	return b.cfg.Prefix + "/"
}

// key returns the object key of h after validating it: the path of
// docs/format.md ("Layout") below the prefix. Nothing but a valid handle
// ever becomes a key, so a hostile name cannot reach another object.
func (b *Backend) key(h backend.Handle) (string, error) {
	if err := h.Valid(); err != nil {
		return "", err
	}
	switch h.Type {
	case backend.ConfigFile:
		return b.prefix() + "config", nil
	case backend.PackFile:
		if len(h.Name) < 2 {
			return "", fmt.Errorf("invalid name %q for %v: pack names need at least 2 characters", h.Name, h.Type)
		}
		return b.prefix() + h.Type.Dir() + "/" + h.Name[:2] + "/" + h.Name, nil
	}
	return b.prefix() + h.Type.Dir() + "/" + h.Name, nil
}

// listPrefix returns the key prefix under which files of type t live.
func (b *Backend) listPrefix(t backend.FileType) string {
	if t == backend.ConfigFile {
		return b.prefix() + "config"
	}
	return b.prefix() + t.Dir() + "/"
}

// handleOf returns the handle that key names for type t, and false for keys
// that are not a valid file of that type (foreign objects under the prefix,
// which List skips rather than report).
func (b *Backend) handleOf(t backend.FileType, key string) (backend.Handle, bool) {
	h := backend.Handle{Type: t}
	if t != backend.ConfigFile {
		h.Name = key[strings.LastIndexByte(key, '/')+1:]
	}
	k, err := b.key(h)
	if err != nil || k != key {
		return h, false
	}
	return h, true
}

// infoName is the FileInfo name of h ("config" for the config).
func infoName(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return "config"
	}
	return h.Name
}
