package repository

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Every parser of repository objects has a fuzz target: hostile or damaged
// storage must give an error, never a panic, a hang or a huge allocation.

func sampleTree() *Tree {
	return &Tree{Nodes: []*Node{
		{Name: "a.txt", Type: NodeFile, Mode: 0o644, Size: 3, Content: []crypto.ID{crypto.Hash([]byte("a"))}, ModTime: time.Unix(1, 5)},
		{Name: "caf\xe9", Type: NodeFile, Error: "permission denied"},
		{Name: "dir", Type: NodeDir, Mode: 0o755, Subtree: crypto.Hash([]byte("t")),
			Xattrs: []Xattr{{Name: "system.posix_acl_default", Value: []byte{2, 0, 0, 0, 1, 0, 6, 0, 255, 255, 255, 255}}, {Name: "user.kosong"}}},
		{Name: "link", Type: NodeSymlink, LinkTarget: "../x", User: "root", Group: "root"},
	}}
}

func FuzzDecodeTree(f *testing.F) {
	enc, err := EncodeTree(sampleTree())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := DecodeTree(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same names.
		again, err := EncodeTree(tr)
		if err != nil {
			t.Fatalf("decoded tree does not re-encode: %v", err)
		}
		tr2, err := DecodeTree(again)
		if err != nil || len(tr2.Nodes) != len(tr.Nodes) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func TestTreeRoundTrip(t *testing.T) {
	in := sampleTree()
	enc, err := EncodeTree(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeTree(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range in.Nodes {
		o := out.Nodes[i]
		if o.Name != n.Name || o.Type != n.Type || o.Mode != n.Mode || o.Size != n.Size || !o.ModTime.Equal(n.ModTime) ||
			o.LinkTarget != n.LinkTarget || o.Error != n.Error || o.Subtree != n.Subtree || len(o.Content) != len(n.Content) || o.User != n.User ||
			!slices.EqualFunc(o.Xattrs, n.Xattrs, func(a, b Xattr) bool { return a.Name == b.Name && bytes.Equal(a.Value, b.Value) }) {
			t.Fatalf("node %d: got %+v want %+v", i, o, n)
		}
	}
	for _, bad := range [][]Xattr{
		{{Name: ""}},
		{{Name: "user.a\x00b"}},
		{{Name: strings.Repeat("x", MaxXattrName+1)}},
		{{Name: "user.big", Value: make([]byte, MaxXattrValue+1)}},
		{{Name: "user.b"}, {Name: "user.a"}},
		{{Name: "user.a"}, {Name: "user.a"}},
	} {
		if _, err := EncodeTree(&Tree{Nodes: []*Node{{Name: "f", Type: NodeFile, Xattrs: bad}}}); err == nil {
			t.Errorf("EncodeTree accepted extended attributes %.40q", bad)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b"} {
		if _, err := EncodeTree(&Tree{Nodes: []*Node{{Name: bad, Type: NodeFile}}}); err == nil {
			t.Errorf("EncodeTree accepted name %q", bad)
		}
	}
	if _, err := EncodeTree(&Tree{Nodes: []*Node{{Name: "b", Type: NodeFile}, {Name: "a", Type: NodeFile}}}); err == nil {
		t.Error("EncodeTree accepted unsorted nodes")
	}
}

func FuzzDecodeIndexFile(f *testing.F) {
	f.Add(encodeIndexFile([]IndexPack{{ID: crypto.Hash([]byte("p")), Blobs: []PackedBlob{{Type: DataBlob, ID: crypto.Hash([]byte("b")), Offset: 0, Length: 100, RawLength: 70}}}}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255, 255, 255, 255, 255, 255, 255, 255, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		packs, err := decodeIndexFile(data)
		if err != nil {
			return
		}
		again, err := decodeIndexFile(encodeIndexFile(packs))
		if err != nil || !reflect.DeepEqual(again, packs) {
			t.Fatalf("index does not survive a round trip: %v", err)
		}
	})
}

func FuzzParsePackHeader(f *testing.F) {
	pb := packBuilder{buf: make([]byte, 0, 100)}
	pb.reserve(DataBlob, crypto.Hash([]byte("x")), 40, 10)
	pb.reserve(TreeBlob, crypto.Hash([]byte("y")), 60, 20)
	hdr := []byte{packHeaderVersion}
	for _, b := range pb.blobs {
		hdr = append(hdr, byte(b.Type))
		hdr = append(hdr, b.ID[:]...)
		hdr = append(hdr, byte(b.Length), byte(b.RawLength))
	}
	f.Add(hdr, int64(100))
	f.Fuzz(func(t *testing.T, hdr []byte, dataLen int64) {
		blobs, err := parsePackHeader(hdr, dataLen)
		if err != nil {
			return
		}
		var end int64
		for _, b := range blobs {
			if int64(b.Offset) != end {
				t.Fatal("blobs do not tile the pack")
			}
			end += int64(b.Length)
		}
		if end != dataLen {
			t.Fatal("blobs do not cover the data area")
		}
	})
}

func FuzzConfigHeader(f *testing.F) {
	key, _ := crypto.NewRandomKey()
	cfg := &Config{Version: 1, Cipher: crypto.CipherAES256GCM, BlobIDHash: crypto.IDKeyedBLAKE3, Compression: "zstd", CompressionLevel: 2, PackSize: DefaultPackSize, Chunker: DefaultChunker}
	data, _ := encodeConfig(key, cfg)
	f.Add(data)
	f.Add([]byte("{\"format\":\"lumbung-repository\",\"version\":99}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = parseConfigHeader(data)
		_, _ = decodeConfig(key, data)
	})
}

func FuzzKeySlot(f *testing.F) {
	key, _ := crypto.NewRandomKey()
	slot, _ := newKeySlot(key, []byte("pw"), crypto.TestKDF, "")
	f.Add(slot)
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := parseKeySlot(data)
		if err != nil {
			return
		}
		if ks.Params.MemoryKiB > 1<<16 || ks.Params.Time > 4 {
			return // valid but slow: not the point of this target
		}
		_, _ = ks.Unwrap([]byte("pw"))
	})
}

func FuzzBlobDecode(f *testing.F) {
	c, err := newCompressor(&Config{Compression: "zstd", CompressionLevel: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.encode(nil, bytes.Repeat([]byte("pemda "), 1000)), 6000)
	f.Add([]byte{0, 1, 2, 3}, 3)
	f.Fuzz(func(t *testing.T, plain []byte, rawLen int) {
		out, err := c.decode(nil, plain, rawLen)
		if err == nil && len(out) != rawLen {
			t.Fatalf("decoded %d bytes, promised %d", len(out), rawLen)
		}
	})
}

func TestCompressionSkipsIncompressible(t *testing.T) {
	c, err := newCompressor(&Config{Compression: "zstd", CompressionLevel: 2})
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(i*7919 ^ i>>3*131 ^ i>>11)
	}
	key, _ := crypto.NewRandomKey()
	random = key.Seal(nil, random, nil)[:1<<20] // ciphertext: incompressible
	if enc := c.encode(nil, random); enc[0] != codecRaw {
		t.Fatal("incompressible data was compressed")
	}
	text := bytes.Repeat([]byte("INSERT INTO penduduk VALUES ('3201', 'Budi');\n"), 20000)
	enc := c.encode(nil, text)
	if enc[0] != codecZstd || len(enc) > len(text)/4 {
		t.Fatalf("text compressed to %d of %d bytes", len(enc), len(text))
	}
	dec, err := c.decode(nil, enc, len(text))
	if err != nil || !bytes.Equal(dec, text) {
		t.Fatal("round trip failed")
	}
}

// fuzzRepo is an empty in-memory repository for the targets that go through
// the real load path (read, check the name, open the seal, parse).
func fuzzRepo(f *testing.F) *Repository {
	f.Helper()
	r, err := Init(context.Background(), mem.New(), []byte("pw"), Options{KDF: crypto.TestKDF})
	if err != nil {
		f.Fatal(err)
	}
	return r
}

// storeFuzz stores data as a file of type t named by its hash, as a writer
// would, and returns its id and a function that removes it again (so a long
// fuzzing run does not grow the in-memory backend).
func storeFuzz(t *testing.T, r *Repository, ft backend.FileType, data []byte) (crypto.ID, func()) {
	t.Helper()
	ctx := context.Background()
	id := crypto.Hash(data)
	h := backend.Handle{Type: ft, Name: id.String()}
	if err := r.be.Save(ctx, h, data); err != nil && !errors.Is(err, backend.ErrExists) {
		t.Fatal(err)
	}
	return id, func() { _ = r.be.Remove(ctx, h) }
}

// FuzzSnapshotJSON feeds arbitrary snapshot plaintexts through LoadSnapshot
// (sealed as a writer would seal them) and the same bytes stored unsealed.
func FuzzSnapshotJSON(f *testing.F) {
	r := fuzzRepo(f)
	parent := crypto.Hash([]byte("parent"))
	full, err := json.Marshal(&Snapshot{
		Time: time.Date(2026, 11, 23, 1, 30, 0, 0, time.UTC), Tree: crypto.Hash([]byte("tree")),
		Paths: []string{"/srv/data"}, Hostname: "srv-dukcapil", Username: "backup", UID: 998, GID: 998,
		Tags: []string{"harian"}, Excludes: []string{"*.tmp"}, Parent: &parent, Dataset: "siak",
		ProgramVersion: "lumbung 0.1.0", Summary: &Summary{FilesNew: 3, TotalBytes: 1 << 20},
		Unreadable: []UnreadableFile{{Path: "/srv/data/locked.db", Error: "permission denied"}},
		Verdict:    &Verdict{Level: "clean"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"snapshot"`, `{"time":"yesterday"}`, `{"tree":"zz"}`,
		`{"tree":"` + crypto.Hash(nil).String() + `"}`, `{"paths":"/srv"}`, `{"uid":-1}`, `{"uid":4294967296}`,
		`{"parent":null}`, `{"summary":{"files_new":1.5}}`, `{"time":"9999-12-31T23:59:59-23:59"}`,
		`{"verdict":{"level":"suspect","reasons":[1]}}`, "{\"paths\":[\"\xff\xfe\"]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		ctx := context.Background()

		// Unsealed bytes are garbage to a reader, whatever they hold.
		id, remove := storeFuzz(t, r, backend.SnapshotFile, plain)
		if _, err := r.LoadSnapshot(ctx, id); err == nil {
			t.Fatal("an unsealed snapshot was accepted")
		}
		remove()

		id, remove = storeFuzz(t, r, backend.SnapshotFile, r.key.Seal(nil, plain, snapshotAD))
		defer remove()
		sn, err := r.LoadSnapshot(ctx, id)
		if !json.Valid(plain) && err == nil {
			t.Fatalf("invalid JSON was accepted as a snapshot: %q", plain)
		}
		if err != nil {
			return
		}
		// Whatever loads must save again (cat and later versions re-encode
		// snapshots) and load to the same thing.
		enc, err := json.Marshal(sn)
		if err != nil {
			t.Fatalf("a loaded snapshot does not encode: %v", err)
		}
		var again Snapshot
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("a re-encoded snapshot does not decode: %v", err)
		}
		if enc2, err := json.Marshal(&again); err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("snapshot does not survive a round trip: %v\n%s\n%s", err, enc, enc2)
		}
	})
}

// FuzzLockJSON feeds arbitrary lock plaintexts through Locks and everything
// that acts on them. An unreadable lock must be skipped (it cannot be
// honoured, and check reports it), never returned, and never panic.
func FuzzLockJSON(f *testing.F) {
	r := fuzzRepo(f)
	host := "srv-dukcapil"
	for _, l := range []LockInfo{
		{Time: time.Now().UTC(), Exclusive: true, Hostname: host, PID: 4242},
		{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Hostname: host, Username: "root", PID: 1},
	} {
		data, err := json.Marshal(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"time":"now"}`, `{"exclusive":"yes"}`, `{"pid":-1,"exclusive":true}`,
		`{"pid":1e100}`, `{"time":"0001-01-01T00:00:00Z","exclusive":true}`, `{"time":"9999-12-31T23:59:59+23:59","exclusive":true}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		ctx := context.Background()

		id, remove := storeFuzz(t, r, backend.LockFile, plain)
		locks, err := r.Locks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := locks[id]; ok {
			t.Fatal("an unsealed lock was accepted")
		}
		remove()

		id, remove = storeFuzz(t, r, backend.LockFile, r.key.Seal(nil, plain, lockAD))
		defer remove()
		locks, err = r.Locks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, ok := locks[id]
		if !json.Valid(plain) && ok {
			t.Fatalf("invalid JSON was accepted as a lock: %q", plain)
		}
		if !ok {
			return
		}
		_ = l.Stale(time.Now())
		// The consumers of locks: taking a lock (shared and exclusive) and
		// unlock. Their answers depend on the content; they must not panic.
		for _, exclusive := range []bool{false, true} {
			if err := r.checkLocks(ctx, crypto.ID{}, exclusive); err != nil && !errors.Is(err, ErrLocked) {
				t.Fatalf("checkLocks: %v", err)
			}
		}
		if _, err := r.RemoveStaleLocks(ctx, false); err != nil {
			t.Fatalf("RemoveStaleLocks: %v", err)
		}
	})
}
