package reposerver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Scope is what a token may do. Each scope includes the ones below it.
type Scope string

// The scopes, weakest first.
const (
	ScopeRead   Scope = "read"   // GET, HEAD, list
	ScopeAppend Scope = "append" // read + add new objects, create a repository, remove its own locks
	ScopeAdmin  Scope = "admin"  // everything, including DELETE and token management
)

func (s Scope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeAppend:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// Includes reports whether a token of scope s may do what needs scope need.
func (s Scope) Includes(need Scope) bool { return s.rank() > 0 && s.rank() >= need.rank() }

// ParseScope checks s.
func ParseScope(s string) (Scope, error) {
	sc := Scope(s)
	if sc.rank() == 0 {
		return "", fmt.Errorf("unknown scope %q: use read, append or admin", s)
	}
	return sc, nil
}

// TokenPrefix starts every token, so that a leaked token is recognisable
// (secret scanners, logs).
const TokenPrefix = "lbg_"

// AllRepos in Token.Repo binds a token to every repository of the server.
const AllRepos = "*"

var (
	repoNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
)

// ValidRepoName checks a repository name: 1 to 63 characters of a-z, 0-9,
// '.', '_' and '-', starting with a letter or digit (so it is always a safe
// single path element).
func ValidRepoName(name string) error {
	if !repoNameRE.MatchString(name) {
		return fmt.Errorf("invalid repository name %q: use 1-63 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

// Token is one stored token. The secret itself is never stored: only its
// SHA-256, so a copy of tokens.json does not give access.
type Token struct {
	ID      string    `json:"id"` // random, stable: owns usage and locks
	Name    string    `json:"name"`
	Scope   Scope     `json:"scope"`
	Repo    string    `json:"repo"`            // a repository name or "*"
	Quota   int64     `json:"quota,omitempty"` // bytes the token may add; 0 is unlimited
	Created time.Time `json:"created"`
	Hash    string    `json:"sha256"`
}

// TokenSpec is what a new token is made from.
type TokenSpec struct {
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
	Repo  string `json:"repo"`
	Quota int64  `json:"quota,omitempty"`
}

// Validate names the field that is wrong and how to fix it.
func (sp TokenSpec) Validate() error {
	if !tokenNameRE.MatchString(sp.Name) {
		return fmt.Errorf("invalid token name %q: use 1-63 characters A-Z, a-z, 0-9, '.', '_', '-'", sp.Name)
	}
	if _, err := ParseScope(string(sp.Scope)); err != nil {
		return err
	}
	if sp.Repo != AllRepos {
		if err := ValidRepoName(sp.Repo); err != nil {
			return fmt.Errorf("token repository: %w (or %q for every repository)", err, AllRepos)
		}
	}
	if sp.Quota < 0 {
		return fmt.Errorf("invalid quota %d: use 0 for unlimited or a positive size", sp.Quota)
	}
	return nil
}

// ErrTokenExists is returned when a token name is taken.
var ErrTokenExists = errors.New("a token with this name exists")

// ErrNoToken is returned when a named token does not exist.
var ErrNoToken = errors.New("no token with this name")

// TokenStore keeps the tokens in DATA/server/tokens.json. The file may be
// changed by `lumbung token create --data` while the server runs: the store
// notices a changed file and reloads it before authenticating.
type TokenStore struct {
	path string

	mu     sync.Mutex
	tokens []Token
	byHash map[string]Token
	stamp  fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// OpenTokenStore opens (creating the directory if needed) the token store of
// the server data directory dataDir.
func OpenTokenStore(dataDir string) (*TokenStore, error) {
	dir := filepath.Join(dataDir, "server")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	s := &TokenStore{path: filepath.Join(dir, "tokens.json")}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(true); err != nil {
		return nil, err
	}
	return s, nil
}

// reloadLocked rereads the file if it changed since the last read.
func (s *TokenStore) reloadLocked(force bool) error {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.tokens, s.byHash, s.stamp = nil, map[string]Token{}, fileStamp{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read tokens: %w", err)
	}
	st := fileStamp{fi.ModTime(), fi.Size()}
	if !force && st == s.stamp {
		return nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("read tokens: %w", err)
	}
	var f struct {
		Tokens []Token `json:"tokens"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("read tokens from %s: %w (restore it from a backup or remove it and create new tokens)", s.path, err)
	}
	byHash := make(map[string]Token, len(f.Tokens))
	for _, t := range f.Tokens {
		byHash[t.Hash] = t
	}
	s.tokens, s.byHash, s.stamp = f.Tokens, byHash, st
	return nil
}

func (s *TokenStore) writeLocked(tokens []Token) error {
	data, err := json.MarshalIndent(struct {
		Tokens []Token `json:"tokens"`
	}{tokens}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("write tokens: %w", err)
	}
	return s.reloadLocked(true)
}

// Create makes a token and returns its secret: the only time it is visible.
func (s *TokenStore) Create(spec TokenSpec, now time.Time) (secret string, tok Token, err error) {
	if err := spec.Validate(); err != nil {
		return "", Token{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, fmt.Errorf("make token: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Token{}, fmt.Errorf("make token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	tok = Token{
		ID: hex.EncodeToString(id[:]), Name: spec.Name, Scope: spec.Scope, Repo: spec.Repo,
		Quota: spec.Quota, Created: now.UTC().Truncate(time.Second), Hash: hashToken(secret),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return "", Token{}, err
	}
	for _, t := range s.tokens {
		if t.Name == spec.Name {
			return "", Token{}, fmt.Errorf("token %q: %w; revoke it first or choose another name", spec.Name, ErrTokenExists)
		}
	}
	if err := s.writeLocked(append(slices.Clone(s.tokens), tok)); err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

// List returns every token, sorted by name.
func (s *TokenStore) List() ([]Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return nil, err
	}
	out := slices.Clone(s.tokens)
	slices.SortFunc(out, func(a, b Token) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

// Revoke removes the token called name. Requests with it fail from then on.
func (s *TokenStore) Revoke(name string) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return Token{}, err
	}
	i := slices.IndexFunc(s.tokens, func(t Token) bool { return t.Name == name })
	if i < 0 {
		return Token{}, fmt.Errorf("token %q: %w (see `lumbung token list`)", name, ErrNoToken)
	}
	tok := s.tokens[i]
	if err := s.writeLocked(slices.Delete(slices.Clone(s.tokens), i, i+1)); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// Authenticate returns the token whose secret is secret.
func (s *TokenStore) Authenticate(secret string) (Token, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return Token{}, false, err
	}
	t, ok := s.byHash[hashToken(secret)]
	return t, ok, nil
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeFileAtomic replaces path with data (mode 0600) so that a reader sees
// the old or the new file, never a mix.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
