// Package forgery makes the objects a hostile appender would add to a
// repository, for the tests that prove readers survive them. For tests only.
package forgery

import (
	"context"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// Opener opens a repository on a backend with the attacker's (the owner's)
// password.
type Opener func(backend.Backend) (*repository.Repository, error)

// FirstIndex stores an index file naming packs whose id sorts before every
// index file already in be, so that its places are the ones readers try
// first (the index is merged in order of file ids). An attacker can grind
// for that, and it makes sure a test fails if readers do not fall back.
// Grinding happens in memory — each seal has a fresh nonce, so each try has
// a new id — and only the winner is stored.
func FirstIndex(t testing.TB, be backend.Backend, open Opener, packs []repository.IndexPack) crypto.ID {
	t.Helper()
	ctx := context.Background()
	lowest := ""
	err := be.List(ctx, backend.IndexFile, func(fi backend.FileInfo) error {
		if lowest == "" || fi.Name < lowest {
			lowest = fi.Name
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	held := &heldIndex{Backend: be}
	atk, err := open(held)
	if err != nil {
		t.Fatal(err)
	}
	for range 1 << 22 {
		id, err := atk.SaveIndexFile(ctx, packs)
		if err != nil {
			t.Fatal(err)
		}
		if lowest == "" || id.String() < lowest {
			if err := be.Save(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}, held.data); err != nil {
				t.Fatal(err)
			}
			return id
		}
	}
	t.Fatalf("no index file id below %s found", lowest)
	return crypto.ID{}
}

// heldIndex keeps the last index file saved through it in memory instead of
// storing it.
type heldIndex struct {
	backend.Backend
	data []byte
}

func (h *heldIndex) Save(ctx context.Context, hd backend.Handle, data []byte) error {
	if hd.Type != backend.IndexFile {
		return h.Backend.Save(ctx, hd, data)
	}
	h.data = data
	return nil
}
