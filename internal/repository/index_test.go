package repository

import (
	"testing"
	"unsafe"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// The per-blob cost documented in docs/format.md: the place flags fit in
// the entry's padding.
func TestIndexEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(indexEntry{}); n != 52 {
		t.Fatalf("an index entry takes %d bytes, docs/format.md says 52", n)
	}
}

// A blob listed in several places keeps every one, best first; Has counts
// only usable places (pack stored, not failed verification).
func TestIndexPlaces(t *testing.T) {
	id := crypto.Hash([]byte("blob"))
	other := crypto.Hash([]byte("other"))
	p1, p2, p3 := crypto.Hash([]byte("p1")), crypto.Hash([]byte("p2")), crypto.Hash([]byte("p3"))
	at := func(off uint32) PackedBlob {
		return PackedBlob{Type: DataBlob, ID: id, Offset: off, Length: 100, RawLength: 71}
	}
	loc := func(p crypto.ID, off uint32) Location {
		return Location{Type: DataBlob, Pack: p, Offset: off, Length: 100, RawLength: 71}
	}
	cases := []struct {
		name    string
		build   func(x *Index)
		want    []Location
		has     bool
		entries int // places Each visits
	}{
		{"one place", func(x *Index) { x.AddPack(p1, []PackedBlob{at(0)}) }, []Location{loc(p1, 0)}, true, 1},
		{"same place twice", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0)})
			x.AddPack(p1, []PackedBlob{at(0)})
		}, []Location{loc(p1, 0)}, true, 1},
		{"three places in order", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0)})
			x.AddPack(p2, []PackedBlob{at(5)})
			x.AddPack(p1, []PackedBlob{at(7)})
		}, []Location{loc(p1, 0), loc(p2, 5), loc(p1, 7)}, true, 3},
		{"missing pack last", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0)})
			x.AddPack(p2, []PackedBlob{at(5)})
			x.markMissing(func(pn uint32) bool { return x.packs[pn] != p1 })
		}, []Location{loc(p2, 5), loc(p1, 0)}, true, 2},
		{"only in a missing pack", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0)})
			x.markMissing(func(uint32) bool { return false })
		}, []Location{loc(p1, 0)}, false, 1},
		{"bad place last, its pack after others", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0), {Type: DataBlob, ID: other, Length: 50}})
			x.AddPack(p2, []PackedBlob{at(5)})
			x.AddPack(p3, []PackedBlob{at(9)})
			x.AddPack(p1, []PackedBlob{at(3)})
			x.MarkBad(id, loc(p1, 0))
		}, []Location{loc(p2, 5), loc(p3, 9), loc(p1, 3), loc(p1, 0)}, true, 4},
		{"every place bad", func(x *Index) {
			x.AddPack(p1, []PackedBlob{at(0)})
			x.AddPack(p2, []PackedBlob{at(5)})
			x.MarkBad(id, loc(p1, 0))
			x.MarkBad(id, loc(p2, 5))
		}, []Location{loc(p1, 0), loc(p2, 5)}, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex()
			tc.build(x)
			got := x.Locations(id)
			if len(got) != len(tc.want) {
				t.Fatalf("places %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("place %d is %+v, want %+v (all: %v)", i, got[i], tc.want[i], got)
				}
			}
			if l, ok := x.Lookup(id); !ok || l != tc.want[0] {
				t.Errorf("Lookup = %+v, %v; want the first place", l, ok)
			}
			if x.Has(id) != tc.has {
				t.Errorf("Has = %v, want %v", !tc.has, tc.has)
			}
			n := 0
			x.Each(func(eid crypto.ID, _ Location) {
				if eid == id {
					n++
				}
			})
			if n != tc.entries {
				t.Errorf("Each visits %d places, want %d", n, tc.entries)
			}
			if x.Len() != 1+boolInt(x.find(&other) >= 0) {
				t.Errorf("Len = %d counts places, not blobs", x.Len())
			}
		})
	}
	if x := NewIndex(); x.Has(id) || len(x.Locations(id)) != 0 {
		t.Error("an empty index knows a blob")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Many blobs with duplicates survive table growth with every place intact.
func TestIndexGrowthKeepsPlaces(t *testing.T) {
	x := NewIndex()
	p1, p2 := crypto.Hash([]byte("p1")), crypto.Hash([]byte("p2"))
	var blobs []PackedBlob
	for i := range 20000 {
		blobs = append(blobs, PackedBlob{Type: DataBlob, ID: crypto.Hash([]byte{byte(i), byte(i >> 8)}), Offset: uint32(i), Length: 30, RawLength: 1})
	}
	x.AddPack(p1, blobs)
	x.AddPack(p2, blobs[:100])
	for i, b := range blobs {
		want := 1
		if i < 100 {
			want = 2
		}
		if got := x.Locations(b.ID); len(got) != want || got[0].Pack != p1 || got[0].Offset != uint32(i) {
			t.Fatalf("blob %d: places %v", i, got)
		}
	}
}
