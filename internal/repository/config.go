package repository

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// FormatVersion is the repository format this code writes. Every earlier
// version must stay readable (see testdata/golden and docs/format.md).
const FormatVersion = 1

// formatName marks a Lumbung repository config.
const formatName = "lumbung-repository"

// ErrNewerFormat means the repository was written by a newer Lumbung.
var ErrNewerFormat = errors.New("repository format is newer than this lumbung supports")

// ErrNotRepository means the config does not describe a Lumbung repository.
var ErrNotRepository = errors.New("not a lumbung repository")

// configHeader is the plaintext first line of the config: enough to refuse a
// newer or foreign repository before asking for a password. It is bound to
// the sealed body as associated data, so it cannot be altered unnoticed.
type configHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	ID      crypto.ID `json:"id"`
}

// Config is the sealed repository configuration: the algorithms and sizes
// that every writer must use.
type Config struct {
	Version          int           `json:"version"`
	ID               crypto.ID     `json:"id"`
	Created          time.Time     `json:"created"`
	Cipher           string        `json:"cipher"`
	BlobIDHash       string        `json:"blob_id_hash"`
	Chunker          ChunkerParams `json:"chunker"`
	Compression      string        `json:"compression"`
	CompressionLevel int           `json:"compression_level"`
	PackSize         int           `json:"pack_size"`
}

// Limits for values read from a config, so a hostile one cannot make writers
// allocate without bound.
const (
	minPackSize = 1 << 20
	maxPackSize = 128 << 20
)

// Validate checks a config read from storage or built for init.
func (c *Config) Validate() error {
	switch {
	case c.Version < 1 || c.Version > FormatVersion:
		return fmt.Errorf("config: version %d unsupported", c.Version)
	case c.Cipher != crypto.CipherAES256GCM:
		return fmt.Errorf("config: unknown cipher %q", c.Cipher)
	case c.BlobIDHash != crypto.IDKeyedBLAKE3:
		return fmt.Errorf("config: unknown blob id hash %q", c.BlobIDHash)
	case c.Compression != "zstd" && c.Compression != "none":
		return fmt.Errorf("config: unknown compression %q", c.Compression)
	case c.CompressionLevel < 0 || c.CompressionLevel > 4:
		return fmt.Errorf("config: compression level %d out of range 0..4", c.CompressionLevel)
	case c.PackSize < minPackSize || c.PackSize > maxPackSize:
		return fmt.Errorf("config: pack size %d out of range", c.PackSize)
	}
	if err := c.Chunker.params().Validate(); err != nil {
		return fmt.Errorf("config: chunker: %w", err)
	}
	if c.Chunker.Max > MaxBlobSize {
		return fmt.Errorf("config: chunks up to %d bytes exceed the %d-byte blob limit", c.Chunker.Max, MaxBlobSize)
	}
	if c.Chunker.Max > c.PackSize {
		return fmt.Errorf("config: chunks up to %d bytes do not fit packs of %d", c.Chunker.Max, c.PackSize)
	}
	return nil
}

// ChunkerParams are the content-defined chunking bounds in bytes.
type ChunkerParams struct {
	Min int `json:"min"`
	Avg int `json:"avg"`
	Max int `json:"max"`
}

func (p ChunkerParams) params() chunker.Params {
	return chunker.Params{Min: p.Min, Avg: p.Avg, Max: p.Max}
}

var configAD = []byte("lumbung/config")

// encodeConfig produces the stored config: header line, newline, sealed body.
func encodeConfig(key *crypto.Key, c *Config) ([]byte, error) {
	hdr, err := json.Marshal(configHeader{Format: formatName, Version: c.Version, ID: c.ID})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := append(hdr, '\n')
	return key.Seal(out, body, append(append([]byte{}, configAD...), hdr...)), nil
}

// maxConfigSize bounds how much of a config file is read.
const maxConfigSize = 1 << 16

// parseConfigHeader reads the plaintext header and refuses newer or foreign
// repositories.
func parseConfigHeader(data []byte) (configHeader, []byte, error) {
	var h configHeader
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || nl > 4096 {
		return h, nil, fmt.Errorf("%w: config has no header line", ErrNotRepository)
	}
	if err := json.Unmarshal(data[:nl], &h); err != nil || h.Format != formatName {
		return h, nil, fmt.Errorf("%w: config header is not recognised", ErrNotRepository)
	}
	if h.Version > FormatVersion {
		return h, nil, fmt.Errorf("%w: repository is format version %d, this lumbung reads up to %d; upgrade lumbung to open it",
			ErrNewerFormat, h.Version, FormatVersion)
	}
	if h.Version < 1 {
		return h, nil, fmt.Errorf("%w: config version %d is invalid", ErrNotRepository, h.Version)
	}
	return h, data[:nl], nil
}

// decodeConfig authenticates and parses the sealed body.
func decodeConfig(key *crypto.Key, data []byte) (*Config, error) {
	h, hdr, err := parseConfigHeader(data)
	if err != nil {
		return nil, err
	}
	body, err := key.Open(nil, data[len(hdr)+1:], append(append([]byte{}, configAD...), hdr...))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if c.Version != h.Version || c.ID != h.ID {
		return nil, fmt.Errorf("config: header and body disagree")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
