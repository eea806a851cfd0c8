package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"

	"github.com/lumbung-id/lumbung/internal/hugepage"
)

// KDFParams are Argon2id cost parameters, stored in each key slot.
type KDFParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF costs 48 MiB and 3 passes on 2 lanes: above OWASP's
// strongest Argon2id setting (46 MiB, 1 pass) in both memory and time, and
// about 0.15 s on a 2-core server. Against 64 MiB and 2 passes it costs a
// guesser more (144 against 128 MiB-passes) while the key derivation, which
// is the peak memory of a quick command such as an unchanged backup, needs
// 16 MiB less on the small servers Lumbung runs on.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 48 << 10, Threads: 2}

// TestKDF is cheap, for unit tests only.
var TestKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// Limits on KDF parameters read from storage, so a hostile repository cannot
// make the client allocate unbounded memory or spin forever.
const (
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
	maxKDFTime      = 100
)

// Validate refuses parameters that are unusable or beyond safe limits.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxKDFTime)
	case p.MemoryKiB < 8*uint32(max(p.Threads, 1)) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range", p.MemoryKiB)
	case p.Threads < 1:
		return fmt.Errorf("argon2id threads must be at least 1")
	}
	return nil
}

// ErrWrongPassword means no key slot opened with the given password.
var ErrWrongPassword = errors.New("wrong password or no key slot for it")

// SaltSize is the length of a key slot's random salt.
const SaltSize = 16

const masterKeyLen = 1 + 3*KeySize

// slotAD binds a wrapped key to its purpose.
var slotAD = []byte("lumbung key slot v1")

// Wrapped is the secret part of a key slot: the master key sealed with a key
// derived from a password.
type Wrapped struct {
	KDF    string    `json:"kdf"`
	Params KDFParams `json:"params"`
	Salt   []byte    `json:"salt"`
	Data   []byte    `json:"data"`
}

// Wrap seals k under password with fresh salt.
func Wrap(k *Key, password []byte, p KDFParams) (Wrapped, error) {
	if err := p.Validate(); err != nil {
		return Wrapped{}, err
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return Wrapped{}, fmt.Errorf("read salt: %w", err)
	}
	kek, err := deriveKEK(password, salt, p)
	if err != nil {
		return Wrapped{}, err
	}
	plain := make([]byte, 0, masterKeyLen)
	plain = append(plain, 1) // master key encoding version
	plain = append(plain, k.Encryption[:]...)
	plain = append(plain, k.BlobID[:]...)
	plain = append(plain, k.ChunkerSeed[:]...)
	return Wrapped{KDF: KDFArgon2id, Params: p, Salt: salt, Data: kek.Seal(nil, plain, slotAD)}, nil
}

// Unwrap opens the slot with password. A wrong password gives ErrWrongPassword.
func (w Wrapped) Unwrap(password []byte) (*Key, error) {
	if w.KDF != KDFArgon2id {
		return nil, fmt.Errorf("key slot uses unknown KDF %q", w.KDF)
	}
	if err := w.Params.Validate(); err != nil {
		return nil, fmt.Errorf("key slot: %w", err)
	}
	if len(w.Salt) < 8 || len(w.Salt) > 64 {
		return nil, fmt.Errorf("key slot: salt of %d bytes is invalid", len(w.Salt))
	}
	kek, err := deriveKEK(password, w.Salt, w.Params)
	if err != nil {
		return nil, err
	}
	plain, err := kek.Open(nil, w.Data, slotAD)
	if err != nil {
		return nil, ErrWrongPassword
	}
	if len(plain) != masterKeyLen || plain[0] != 1 {
		return nil, fmt.Errorf("key slot: unknown master key encoding")
	}
	k := &Key{}
	copy(k.Encryption[:], plain[1:])
	copy(k.BlobID[:], plain[1+KeySize:])
	copy(k.ChunkerSeed[:], plain[1+2*KeySize:])
	if err := k.init(); err != nil {
		return nil, err
	}
	return k, nil
}

func deriveKEK(password, salt []byte, p KDFParams) (*Key, error) {
	kek := &Key{}
	large := p.MemoryKiB >= 16<<10
	done := func() {}
	if large {
		// Argon2id reads and writes its memory at random; with huge pages
		// it takes ~25 page faults instead of 12,000 and misses the TLB
		// less (48 MiB, 3 passes: 170–180 → 70–80 ms on the bench VM).
		// The command's buffers allocated next share the range if it says
		// how much it needs (a restore does; see ExpectWorkingSet).
		done = hugepage.PrepareHeap(int(p.MemoryKiB) << 10)
	}
	copy(kek.Encryption[:], argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, KeySize))
	done()
	if large {
		// Argon2id just filled tens of MiB that are garbage now. Collect
		// them at once, so they do not double the next GC goal, but keep
		// the pages: the buffers a backup or restore allocates next reuse
		// them instead of faulting in fresh memory, which costs more than
		// the copy itself on virtual machines (docs/benchmarks.md).
		runtime.GC()
	}
	if err := kek.init(); err != nil {
		return nil, err
	}
	return kek, nil
}
