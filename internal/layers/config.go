package layers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lumbung-id/lumbung/internal/replicate"
)

// Role says what a layer is for; the 3-2-1-1-0 rule counts roles.
type Role string

// Layer roles.
const (
	RoleLocal    Role = "local"    // on the protected site (layer 1, usually)
	RoleRegional Role = "regional" // another site: a province or data-centre server
	RoleOffsite  Role = "offsite"  // another site, typically object storage
	RoleOffline  Role = "offline"  // a disconnected copy: removable disk, tape
)

// Media is the kind of storage a layer is on; copies on two kinds survive a
// fault common to one kind.
type Media string

// Media kinds.
const (
	MediaDisk          Media = "disk"
	MediaServer        Media = "server"
	MediaObjectStorage Media = "object-storage"
	MediaTape          Media = "tape"
	MediaRemovable     Media = "removable"
)

var (
	roles  = []Role{RoleLocal, RoleRegional, RoleOffsite, RoleOffline}
	medias = []Media{MediaDisk, MediaServer, MediaObjectStorage, MediaTape, MediaRemovable}
)

// Config is a loaded and validated config file.
type Config struct {
	Datasets map[string]*Dataset `yaml:"datasets"`
	// Order lists the dataset names in file order.
	Order []string `yaml:"-"`
}

// Dataset is one thing to protect and its layers. Exactly one of Paths and
// Command is set.
type Dataset struct {
	Name string `yaml:"-"`
	// Paths are absolute paths to back up.
	Paths []string `yaml:"paths"`
	// Command is run (no shell) and its standard output backed up as one
	// file named StdinFilename (default: the dataset name).
	Command       []string `yaml:"command"`
	StdinFilename string   `yaml:"stdin_filename"`
	Excludes      []string `yaml:"excludes"`
	// OneFileSystem keeps the backup on the file systems of Paths (see
	// archiver.Options.OneFileSystem).
	OneFileSystem bool `yaml:"one_file_system"`
	// Layers: the first is where backups are written, the rest receive
	// replicas in order.
	Layers []*Layer `yaml:"layers"`
}

// Layer is one repository holding copies of a dataset.
type Layer struct {
	Name       string `yaml:"name"`
	Repository string `yaml:"repository"`
	Role       Role   `yaml:"role"`
	Media      Media  `yaml:"media"`
	// Password opens the repository. Needed on the first layer (backups
	// are written there) and on layers with their own keys (re-encrypting
	// copies); a mirror of the first layer needs none.
	Password  *Secret `yaml:"password"`
	Token     *Secret `yaml:"token"`      // rest: repository server token
	AccessKey *Secret `yaml:"access_key"` // s3
	SecretKey *Secret `yaml:"secret_key"` // s3
	// Bandwidth limits replication to this layer ("20Mbit", "2MB"): parsed
	// into BytesPerSecond.
	Bandwidth      string `yaml:"bandwidth"`
	BytesPerSecond int64  `yaml:"-"`
	// Window confines replication to a daily local-time window
	// ("19:00-06:00"): parsed into ReplicationWindow.
	Window            string            `yaml:"window"`
	ReplicationWindow *replicate.Window `yaml:"-"`
	// ImmutableDays is how long the storage refuses to delete or overwrite
	// what is written (S3 Object Lock retention); 0 means not immutable.
	ImmutableDays int `yaml:"immutable_days"`

	// getenv resolves {env: NAME} secrets; nil means os.Getenv. Set with
	// Config.SetGetenv.
	getenv func(string) string
}

// Secret refers to a credential without holding it: exactly one of File (a
// file whose content, trimmed of surrounding white space, is the secret) and
// Env (an environment variable).
type Secret struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// String describes the reference, never the secret.
func (s *Secret) String() string {
	if s == nil {
		return "none"
	}
	if s.File != "" {
		return "file " + s.File
	}
	return "environment variable " + s.Env
}

// ResolveOS reads the secret from the process environment or its file.
func (s *Secret) ResolveOS() (string, error) { return s.Resolve(os.Getenv) }

// Resolve reads the secret, looking environment variables up with getenv
// (nil means os.Getenv), so that a caller with its own environment (the CLI
// run in process by tests, an embedding program) decides what {env: NAME}
// means.
func (s *Secret) Resolve(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case s == nil:
		return "", errors.New("no secret configured")
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret from %s: %w", s.File, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	default:
		v := getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", s.Env)
		}
		return v, nil
	}
}

// SetGetenv makes every layer resolve {env: NAME} secrets with getenv
// instead of os.Getenv (nil restores os.Getenv).
func (c *Config) SetGetenv(getenv func(string) string) {
	for _, d := range c.Datasets {
		for _, l := range d.Layers {
			l.getenv = getenv
		}
	}
}

// Dataset returns the named dataset or an error naming the ones there are.
func (c *Config) Dataset(name string) (*Dataset, error) {
	if d, ok := c.Datasets[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no dataset %q in the config (it has: %s)", name, strings.Join(c.Order, ", "))
}

// Layer returns the named layer of d.
func (d *Dataset) Layer(name string) (*Layer, error) {
	var names []string
	for _, l := range d.Layers {
		if l.Name == name {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return nil, fmt.Errorf("dataset %q has no layer %q (it has: %s)", d.Name, name, strings.Join(names, ", "))
}

// maxConfigSize bounds the config file: it is small by nature.
const maxConfigSize = 4 << 20

// LoadFile reads and validates the config file at path.
func LoadFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	cfg, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Load reads a YAML config from r and validates it. Unknown keys are errors
// (a misspelt "immutable_days" must not silently mean "not immutable").
// A *ConfigError lists every problem with its line.
func Load(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config is larger than %d bytes: is this the right file?", maxConfigSize)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{Problems: []Problem{{Msg: "the config is empty: it needs a datasets: section (see docs/lumbung.example.yaml)"}}}
		}
		return nil, syntaxError(err)
	}
	cfg.Order = datasetOrder(&root, cfg.Datasets)
	if err := cfg.validate(&root); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// datasetOrder returns dataset names in file order.
func datasetOrder(root *yaml.Node, ds map[string]*Dataset) []string {
	var order []string
	if m := child(root, "datasets"); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if _, ok := ds[m.Content[i].Value]; ok {
				order = append(order, m.Content[i].Value)
			}
		}
	}
	if len(order) != len(ds) { // not expected; fall back to sorted
		order = order[:0]
		for n := range ds {
			order = append(order, n)
		}
		sort.Strings(order)
	}
	return order
}
