package demo

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/lumbung-id/lumbung/internal/layers"
)

// Names the demo gives its dataset, layers, server repository and token.
const (
	datasetName   = "pemda-contoh"
	layerLocal    = "lokal"
	layerServer   = "provinsi"
	layerOffline  = "offline"
	serverRepo    = "pemda-contoh"
	tokenName     = "demo-agent"
	configFile    = "lumbung.yaml"
	passwordFile  = "password"
	tokenFile     = "agent-token"
	configComment = `# Konfigurasi lapisan yang dibuat oleh "lumbung demo" / the layers config made by "lumbung demo".
# Satu dataset, tiga lapisan / one dataset, three layers (docs/layers.md):
#   lokal    - layer 1, the local repository every backup is written to
#   provinsi - layer 2, a repository server (lumbung serve) written with an append token;
#              in the demo it runs on loopback and stands for the province's server
#   offline  - layer 3, an offline export (on a real site: a removable disk, unplugged afterwards)
# The server ran only while the demo ran, and the token file was removed when it ended.
`
)

// The shape of the config file, with only the keys the demo uses: written
// through the YAML encoder so that any path is quoted correctly.
type (
	configYAML struct {
		Datasets map[string]datasetYAML `yaml:"datasets"`
	}
	datasetYAML struct {
		Paths  []string    `yaml:"paths"`
		Layers []layerYAML `yaml:"layers"`
	}
	layerYAML struct {
		Name       string       `yaml:"name"`
		Repository string       `yaml:"repository"`
		Role       layers.Role  `yaml:"role"`
		Media      layers.Media `yaml:"media"`
		Password   *secretYAML  `yaml:"password,omitempty"`
		Token      *secretYAML  `yaml:"token,omitempty"`
	}
	secretYAML struct {
		File string `yaml:"file"`
	}
)

// writeConfig writes the demo's layers config to path and loads it back
// through the same validation a user's config gets. Layers 2 and 3 carry no
// password: they are mirrors of layer 1 (same keys), and the server layer
// never holds a key at all.
func writeConfig(path, src, repoDir, serverLoc, exportDir, pwFile, tokFile string) (*layers.Dataset, error) {
	c := configYAML{Datasets: map[string]datasetYAML{datasetName: {
		Paths: []string{src},
		Layers: []layerYAML{
			{Name: layerLocal, Repository: repoDir, Role: layers.RoleLocal, Media: layers.MediaDisk, Password: &secretYAML{pwFile}},
			{Name: layerServer, Repository: serverLoc, Role: layers.RoleRegional, Media: layers.MediaServer, Token: &secretYAML{tokFile}},
			{Name: layerOffline, Repository: exportDir, Role: layers.RoleOffline, Media: layers.MediaRemovable},
		},
	}}}
	var b bytes.Buffer
	b.WriteString(configComment)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode the demo's config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the demo's config: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write the demo's config: %w", err)
	}
	cfg, err := layers.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the demo's own config does not load (a bug): %w", err)
	}
	return cfg.Dataset(datasetName)
}
