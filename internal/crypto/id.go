package crypto

import (
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// IDSize is the length of every id in bytes.
const IDSize = 32

// ID names a blob (keyed hash of its plaintext) or a stored file (plain
// BLAKE3 of its stored bytes, so storage damage shows without a key).
type ID [IDSize]byte

// Hash returns the unkeyed BLAKE3-256 of data: the name of a stored file.
func Hash(data []byte) ID {
	return ID(blake3.Sum256(data))
}

// String is the lowercase hex form used in file names and messages.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 8 hex digits, for display.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is all zeroes (no id).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses a full 64-digit hex id.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("invalid id %q: want %d hex digits", s, 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid id %q: %w", s, err)
	}
	return id, nil
}

// MarshalText encodes the id as hex (for JSON).
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 2*IDSize)
	hex.Encode(b, id[:])
	return b, nil
}

// UnmarshalText decodes a hex id.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
