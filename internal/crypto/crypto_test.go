package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("NIK 3201012345678901, Siti Rahmawati")
	sealed := k.Seal(nil, plain, []byte("ad"))
	if len(sealed) != len(plain)+Overhead {
		t.Fatalf("sealed length %d, want %d", len(sealed), len(plain)+Overhead)
	}
	if bytes.Contains(sealed, plain[:10]) {
		t.Fatal("ciphertext contains plaintext")
	}
	got, err := k.Open(nil, sealed, []byte("ad"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	tests := map[string]func([]byte) ([]byte, []byte){
		"flipped bit":  func(s []byte) ([]byte, []byte) { s[len(s)/2] ^= 1; return s, []byte("ad") },
		"truncated":    func(s []byte) ([]byte, []byte) { return s[:len(s)-1], []byte("ad") },
		"too short":    func(s []byte) ([]byte, []byte) { return s[:5], []byte("ad") },
		"wrong ad":     func(s []byte) ([]byte, []byte) { return s, []byte("other") },
		"empty":        func(s []byte) ([]byte, []byte) { return nil, []byte("ad") },
		"nonce change": func(s []byte) ([]byte, []byte) { s[0] ^= 0x80; return s, []byte("ad") },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			s, ad := mutate(append([]byte(nil), sealed...))
			if _, err := k.Open(nil, s, ad); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
	other, _ := NewRandomKey()
	if _, err := other.Open(nil, sealed, []byte("ad")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("other key opened: %v", err)
	}
}

func TestNoncesDiffer(t *testing.T) {
	k, _ := NewRandomKey()
	a, b := k.Seal(nil, []byte("x"), nil), k.Seal(nil, []byte("x"), nil)
	if bytes.Equal(a[:NonceSize], b[:NonceSize]) {
		t.Fatal("two seals reused a nonce")
	}
}

func TestKeyedIDs(t *testing.T) {
	k1, _ := NewRandomKey()
	k2, _ := NewRandomKey()
	data := []byte("same content")
	if k1.ID(data) != k1.ID(data) {
		t.Fatal("id not deterministic")
	}
	if k1.ID(data) == k2.ID(data) {
		t.Fatal("ids of different repositories must differ (keyed hash)")
	}
	if k1.ID(data) == Hash(data) {
		t.Fatal("keyed id equals the unkeyed hash")
	}
}

func TestWrapUnwrap(t *testing.T) {
	k, _ := NewRandomKey()
	w, err := Wrap(k, []byte("kata sandi"), TestKDF)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Unwrap([]byte("kata sandi"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Encryption != k.Encryption || got.BlobID != k.BlobID || got.ChunkerSeed != k.ChunkerSeed {
		t.Fatal("unwrapped key differs")
	}
	if _, err := w.Unwrap([]byte("salah")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	hostile := []struct {
		name string
		mut  func(*Wrapped)
	}{
		{"huge memory", func(w *Wrapped) { w.Params.MemoryKiB = 1 << 31 }},
		{"zero time", func(w *Wrapped) { w.Params.Time = 0 }},
		{"huge time", func(w *Wrapped) { w.Params.Time = 1 << 30 }},
		{"no threads", func(w *Wrapped) { w.Params.Threads = 0 }},
		{"unknown kdf", func(w *Wrapped) { w.KDF = "scrypt" }},
		{"short salt", func(w *Wrapped) { w.Salt = w.Salt[:2] }},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			c := w
			c.Salt = append([]byte(nil), w.Salt...)
			h.mut(&c)
			if _, err := c.Unwrap([]byte("kata sandi")); err == nil {
				t.Fatal("hostile key slot accepted")
			}
		})
	}
}

func TestParseID(t *testing.T) {
	id := Hash([]byte("x"))
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "abc", id.String()[:63] + "g", id.String() + "00"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func BenchmarkSeal1MiB(b *testing.B) {
	k, _ := NewRandomKey()
	data := make([]byte, 1<<20)
	buf := make([]byte, 0, len(data)+Overhead)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		buf = k.Seal(buf[:0], data, nil)
	}
}

func BenchmarkID1MiB(b *testing.B) {
	k, _ := NewRandomKey()
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		k.ID(data)
	}
}

func TestSealInPlace(t *testing.T) {
	k, _ := NewRandomKey()
	plain := []byte("data kependudukan")
	buf := append(make([]byte, NonceSize, 64), plain...)
	sealed := k.SealInPlace(buf, nil)
	got, err := k.Open(nil, sealed, nil)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("in-place seal does not open: %q %v", got, err)
	}
}
