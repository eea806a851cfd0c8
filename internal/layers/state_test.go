package layers

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Several writers (each with its own State, as separate processes have)
// recording at the same moment must not lose a record: every Record is a
// read-modify-write under the state lock.
func TestStateConcurrentRecords(t *testing.T) {
	path := StatePath(t.TempDir(), "")
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := OpenState(path)
			if err != nil {
				errs <- err
				return
			}
			for i := range each {
				layer := fmt.Sprintf("layer-%d-%d", w, i)
				if err := st.Record("siak", layer, Verification{Time: now, OK: true}); err != nil {
					errs <- err
				}
				if err := st.RecordReplications("siak", map[string]Replication{layer: {Time: now, Outcome: OutcomeOK, Copied: i}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for w := range writers {
		for i := range each {
			layer := fmt.Sprintf("layer-%d-%d", w, i)
			if st.Last("siak", layer) == nil {
				lost++
			}
			if r := st.LastReplication("siak", layer); r == nil || r.Copied != i {
				lost++
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d records lost", lost, 2*writers*each)
	}
}

// Replications are kept per dataset and layer, next to verifications, and
// status shows them on each layer.
func TestStateReplications(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFileName)
	st, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	copies := []LayerCopy{
		{Layer: "provinsi", Error: "layer provinsi: connection refused"},
		{Layer: "usb", Skipped: "offline layer: written by export"},
	}
	if err := st.RecordCopies("siak", copies, at); err != nil {
		t.Fatal(err)
	}
	if err := st.Record("siak", "lokal", Verification{Time: at, OK: true}); err != nil {
		t.Fatal(err)
	}
	st, err = OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ layer, outcome, err string }{
		{"provinsi", OutcomeFailed, "connection refused"},
		{"usb", OutcomeSkipped, "offline layer: written by export"},
	} {
		r := st.LastReplication("siak", tc.layer)
		if r == nil || r.Outcome != tc.outcome || r.Error != tc.err || !r.Time.Equal(at) {
			t.Errorf("%s: %+v, want %s %q", tc.layer, r, tc.outcome, tc.err)
		}
	}
	if st.LastReplication("siak", "lokal") != nil || st.LastReplication("simpeg", "provinsi") != nil || st.Last("siak", "lokal") == nil {
		t.Error("records leak between datasets or layers, or the verification was lost")
	}
	ds := DatasetStatusOf(t.Context(), &Dataset{Name: "siak", Layers: []*Layer{{Name: "provinsi", Repository: filepath.Join(dir, "none"), Role: RoleRegional, Media: MediaServer}}}, StatusOptions{State: st})
	if r := ds.Layers[0].LastReplication; r == nil || r.Outcome != OutcomeFailed {
		t.Errorf("status of provinsi: last replication %+v", r)
	}
}
