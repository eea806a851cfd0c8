// Package crypto holds Lumbung's keys and the three primitives the repository
// format is built on: AES-256-GCM sealing of every stored object, keyed BLAKE3
// blob ids, and Argon2id key slots that wrap the master key.
//
// It never writes keys or plaintext anywhere; callers decide what is stored.
// Algorithms are named in the repository config (docs/format.md), so a later
// version can add others without breaking existing repositories.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// Algorithm names recorded in the repository config.
const (
	CipherAES256GCM = "aes-256-gcm"
	IDKeyedBLAKE3   = "blake3-keyed"
	KDFArgon2id     = "argon2id"
)

const (
	// KeySize is the size of every secret key.
	KeySize = 32
	// NonceSize is the size of the random nonce that starts a sealed object.
	NonceSize = 12
	// TagSize is the size of the authentication tag that ends a sealed object.
	TagSize = 16
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = NonceSize + TagSize
)

// ErrUnauthenticated means a sealed object failed authentication: it was
// damaged, truncated, or not made with this key.
var ErrUnauthenticated = errors.New("ciphertext verification failed (damaged data or wrong key)")

// Key is a repository master key. All three parts are secret.
type Key struct {
	// Encryption seals every object.
	Encryption [KeySize]byte
	// BlobID keys the hash that names blobs, so ids reveal nothing about
	// content to someone without the key.
	BlobID [KeySize]byte
	// ChunkerSeed derives the chunker's gear table, so chunk boundaries do
	// not leak content either.
	ChunkerSeed [KeySize]byte

	aead    cipher.AEAD
	hashers sync.Pool
}

// NewRandomKey makes a fresh master key from the system's secure random source.
func NewRandomKey() (*Key, error) {
	k := &Key{}
	for _, b := range [][]byte{k.Encryption[:], k.BlobID[:], k.ChunkerSeed[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("read random key: %w", err)
		}
	}
	if err := k.init(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Key) init() error {
	block, err := aes.NewCipher(k.Encryption[:])
	if err != nil {
		return fmt.Errorf("init cipher: %w", err)
	}
	k.aead, err = cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("init gcm: %w", err)
	}
	idKey := k.BlobID
	k.hashers.New = func() any {
		h, err := blake3.NewKeyed(idKey[:])
		if err != nil {
			panic(err) // unreachable: the key is always 32 bytes
		}
		return h
	}
	return nil
}

// Seal encrypts and authenticates plaintext, binding it to ad, and appends
// nonce || ciphertext || tag to dst. dst and plaintext must not overlap unless
// dst[len(dst):] is exactly plaintext's storage shifted by NonceSize, which
// callers never rely on.
func (k *Key) Seal(dst, plaintext, ad []byte) []byte {
	start := len(dst)
	dst = grow(dst, NonceSize+len(plaintext)+TagSize)
	nonce := dst[start : start+NonceSize]
	if _, err := rand.Read(nonce); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ crashes
		// instead); keep the check so a future change cannot reuse a nonce.
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return k.aead.Seal(dst[:start+NonceSize], nonce, plaintext, ad)
}

// SealInPlace seals buf[NonceSize:] (the plaintext, after room for the
// nonce) without a second buffer, and returns nonce || ciphertext || tag
// using buf's storage (grown for the tag if needed).
func (k *Key) SealInPlace(buf, ad []byte) []byte {
	if len(buf) < NonceSize {
		panic("crypto: SealInPlace buffer shorter than the nonce")
	}
	if _, err := rand.Read(buf[:NonceSize]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	var nonce [NonceSize]byte
	copy(nonce[:], buf)
	return k.aead.Seal(buf[:NonceSize], nonce[:], buf[NonceSize:], ad)
}

// Open authenticates and decrypts sealed (as made by Seal with the same ad)
// and appends the plaintext to dst.
func (k *Key) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: object of %d bytes is shorter than the %d-byte envelope", ErrUnauthenticated, len(sealed), Overhead)
	}
	out, err := k.aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return out, nil
}

// ID computes the keyed blob id of data.
func (k *Key) ID(data []byte) ID {
	h := k.hashers.Get().(*blake3.Hasher)
	h.Reset()
	_, _ = h.Write(data)
	var id ID
	h.Sum(id[:0])
	k.hashers.Put(h)
	return id
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
