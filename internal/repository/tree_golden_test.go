package repository

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

var updateGoldenTree = flag.Bool("update-tree", false, "rewrite testdata/golden-tree-xattrs.bin (only when it is first added)")

// goldenXattrTree is a tree with extended attributes (tag 19, added within
// format version 1 on 2026-12-06). Its encoding is kept in testdata so that
// later versions keep reading exactly these bytes.
func goldenXattrTree() *Tree {
	return &Tree{Nodes: []*Node{
		{Name: "arsip", Type: NodeDir, Mode: 0o2770, Subtree: crypto.Hash([]byte("arsip")),
			Xattrs: []Xattr{{Name: "system.posix_acl_default", Value: []byte{2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255}}}},
		{Name: "warga.csv", Type: NodeFile, Mode: 0o640, Size: 9, ModTime: time.Unix(1718870400, 0),
			Content: []crypto.ID{crypto.Hash([]byte("nik,nama\n"))},
			Xattrs:  []Xattr{{Name: "security.capability", Value: []byte{1, 0, 0, 2}}, {Name: "user.DOSATTRIB", Value: []byte("0x20")}, {Name: "user.kosong"}}},
	}}
}

func TestGoldenTreeWithXattrs(t *testing.T) {
	path := filepath.Join("testdata", "golden-tree-xattrs.bin")
	if *updateGoldenTree {
		enc, err := EncodeTree(goldenXattrTree())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTree(data)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenXattrTree()
	if len(got.Nodes) != len(want.Nodes) {
		t.Fatalf("%d nodes, want %d", len(got.Nodes), len(want.Nodes))
	}
	for i, w := range want.Nodes {
		g := got.Nodes[i]
		if g.Name != w.Name || g.Mode != w.Mode || g.Subtree != w.Subtree || len(g.Xattrs) != len(w.Xattrs) {
			t.Fatalf("node %d: %+v, want %+v", i, g, w)
		}
		for j, x := range w.Xattrs {
			if g.Xattrs[j].Name != x.Name || !bytes.Equal(g.Xattrs[j].Value, x.Value) {
				t.Errorf("node %d attribute %d: %q=%q, want %q=%q", i, j, g.Xattrs[j].Name, g.Xattrs[j].Value, x.Name, x.Value)
			}
		}
	}
	// And this version writes those very bytes.
	if enc, err := EncodeTree(want); err != nil || !bytes.Equal(enc, data) {
		t.Errorf("EncodeTree no longer writes the golden bytes (%v)", err)
	}
}
