package checker

import (
	"testing"

	"github.com/lumbung-id/lumbung/internal/repository"
)

// Blobs are opened over the pack's own bytes only when no two share any:
// an index (forged or damaged) that lists overlapping places must not make
// one blob's decryption damage another's bytes.
func TestOverlapping(t *testing.T) {
	at := func(off, n uint32) blobRef { return blobRef{loc: repository.Location{Offset: off, Length: n}} }
	for _, tc := range []struct {
		name  string
		blobs []blobRef
		want  bool
	}{
		{"none", nil, false},
		{"one", []blobRef{at(0, 100)}, false},
		{"back to back", []blobRef{at(0, 100), at(100, 50), at(150, 1)}, false},
		{"out of order, apart", []blobRef{at(300, 10), at(0, 100), at(100, 50)}, false},
		{"overlap", []blobRef{at(0, 100), at(99, 50)}, true},
		{"overlap out of order", []blobRef{at(150, 10), at(0, 100), at(50, 10)}, true},
		{"same place twice", []blobRef{at(40, 10), at(40, 10)}, true},
	} {
		if got := overlapping(tc.blobs); got != tc.want {
			t.Errorf("%s: overlapping = %v, want %v", tc.name, got, tc.want)
		}
	}
}
