package attacktest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// restoresEverything opens the layer behind be afresh with the owner's
// password and proves the copy survived: the real key slot opens it (the
// forged ones are passed over and listed), every earlier snapshot restores
// byte-identical to the tree it was taken of, "latest" is the real newest
// (and the forged snapshots passed over are named), and check names the
// forged objects while listing every real snapshot as restorable.
func restoresEverything(t *testing.T, layer string, be backend.Backend, src string, hist *history, f *forged) {
	repo := openLayer(t, layer, be, hist, f)
	t.Run("key list", func(t *testing.T) { keySlotsListed(t, layer, repo, hist, f) })
	restoreAll(t, layer, repo, src, hist)
	t.Run("latest", func(t *testing.T) {
		warnings := latestIsReal(t, layer, repo, hist)
		for _, forged := range []string{f.future.Short(), f.treeless.Short()} {
			if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, forged) }) {
				t.Errorf("layer %s: no warning names the forged snapshot %s passed over: %q", layer, forged, warnings)
			}
		}
	})
	t.Run("check", func(t *testing.T) { checkNamesForged(t, layer, repo, hist, f) })
}

// openLayer opens the repository with the owner's password and loads its
// index as the CLI does (cmd/lumbung/repo.go): an unreadable index file is
// skipped with a warning. Only the attacker's garbage may be skipped. The
// forged key slots open with the same password: the repository must
// still open, and with its own slot.
func openLayer(t *testing.T, layer string, be backend.Backend, hist *history, f *forged) *repository.Repository {
	t.Helper()
	ctx := t.Context()
	repo, err := repository.Open(ctx, be, []byte(password), testOpts)
	if err != nil {
		t.Fatalf("layer %s: open with the owner's password (the attacker added key slots %v): %v", layer, shortIDs(f.keySlots), err)
	}
	if repo.KeyID() != hist.key {
		t.Errorf("layer %s: opened with key slot %s, want the agent's own %s", layer, repo.KeyID().Short(), hist.key.Short())
	}
	err = repo.LoadIndex(ctx, func(id crypto.ID, err error) {
		t.Logf("layer %s: index %s is unreadable and skipped: %v", layer, id.Short(), err)
		if !slices.Contains(f.planted, id) {
			t.Errorf("layer %s: index %s, not planted by the attacker, is unreadable: %v", layer, id.Short(), err)
		}
	})
	if err != nil {
		t.Fatalf("layer %s: load the index: %v", layer, err)
	}
	return repo
}

// restoreAll restores every snapshot of hist from repo (same ids: a
// mirror) and compares each with the tree it was taken of.
func restoreAll(t *testing.T, layer string, repo *repository.Repository, src string, hist *history) {
	for i, id := range hist.ids {
		t.Run(fmt.Sprintf("restore snapshot %d", i+1), func(t *testing.T) {
			restoreOne(t, layer, repo, id, src, hist.trees[i])
		})
	}
}

// restoreOne restores snapshot id into a new directory and compares the
// dataset's directory there with want.
func restoreOne(t *testing.T, layer string, repo *repository.Repository, id crypto.ID, src string, want tree) {
	t.Helper()
	ctx := t.Context()
	sn, err := repo.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatalf("layer %s: snapshot %s: %v", layer, id.Short(), err)
	}
	target := t.TempDir()
	res, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: target})
	if err != nil {
		t.Fatalf("layer %s: restore snapshot %s: %v", layer, id.Short(), err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("layer %s: restore snapshot %s: %+v", layer, id.Short(), res.Errors)
	}
	sameTree(t, layer, id.Short(), want, readTree(t, filepath.Join(target, src)))
}

// latestIsReal checks that "latest" of the dataset is the real newest
// snapshot and returns the warnings about snapshots passed over.
func latestIsReal(t *testing.T, layer string, repo *repository.Repository, hist *history) []string {
	t.Helper()
	sn, warnings, err := repo.ResolveSnapshot(t.Context(), "latest", repository.SnapshotFilter{Dataset: dataset})
	if err != nil {
		t.Fatalf("layer %s: latest: %v (warnings %q)", layer, err, warnings)
	}
	if want := hist.ids[len(hist.ids)-1]; sn.ID != want {
		t.Errorf("layer %s: latest is %s (%s), want the real newest %s: a forged snapshot hides the real ones", layer, sn.ID.Short(), sn.Time, want.Short())
	}
	return warnings
}

// checkNamesForged runs check with read-data: every real snapshot is
// restorable, every forged object is named, and nothing else is reported.
func checkNamesForged(t *testing.T, layer string, repo *repository.Repository, hist *history, f *forged) {
	rep, err := checker.Check(t.Context(), repo, checker.Options{ReadData: true})
	if err != nil {
		t.Fatalf("layer %s: check: %v", layer, err)
	}
	for _, id := range hist.ids {
		if !slices.Contains(rep.Restorable, id.String()) {
			t.Errorf("layer %s: check does not list real snapshot %s as restorable (restorable %v, damaged %v)", layer, id.Short(), rep.Restorable, rep.Damaged)
		}
	}
	mentions := func(p checker.Problem, s string) bool {
		return strings.Contains(p.Object, s) || strings.Contains(p.Message, s)
	}
	for _, id := range f.ids() {
		if !slices.ContainsFunc(rep.Errors, func(p checker.Problem) bool { return mentions(p, id.Short()) }) {
			t.Errorf("layer %s: check does not name the forged object %s", layer, id.Short())
		}
	}
	for _, p := range rep.Errors {
		if !slices.ContainsFunc(f.ids(), func(id crypto.ID) bool { return mentions(p, id.Short()) }) {
			t.Errorf("layer %s: check reports a problem the attacker's objects do not explain: %s %s: %s", layer, p.Kind, p.Object, p.Message)
		}
	}
	if t.Failed() {
		for _, p := range rep.Errors {
			t.Logf("check: %s %s: %s", p.Kind, p.Object, p.Message)
		}
	}
}

// sameTree fails unless got holds exactly the files of want, byte for byte.
func sameTree(t *testing.T, layer, snap string, want, got tree) {
	t.Helper()
	for name, data := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("layer %s: snapshot %s restored without %s", layer, snap, name)
		case !bytes.Equal(g, data):
			t.Errorf("layer %s: snapshot %s restored %s with other bytes (%d, want %d)", layer, snap, name, len(g), len(data))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("layer %s: snapshot %s restored %s, which it never held", layer, snap, name)
		}
	}
}

// wipeLocal is the ransomware on the host: the local layer is gone (it
// could as well be encrypted; either way it is the host's own).
func wipeLocal(t *testing.T, h *host) {
	t.Helper()
	if err := os.RemoveAll(h.localRepo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.localRepo); !os.IsNotExist(err) {
		t.Fatalf("the local layer is still there: %v", err)
	}
}

// shortIDs abbreviates ids for messages.
func shortIDs(ids []crypto.ID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.Short())
	}
	return out
}
