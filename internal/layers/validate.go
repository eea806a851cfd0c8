package layers

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lumbung-id/lumbung/internal/replicate"
)

// nameRE is what dataset and layer names may look like: they appear in
// snapshots, file names and command lines.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

type validator struct {
	probs []Problem
}

func (v *validator) add(line int, format string, args ...any) {
	v.probs = append(v.probs, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// validate checks c and fills in parsed fields and defaults. root gives
// lines for messages.
func (c *Config) validate(root *yaml.Node) error {
	v := &validator{}
	dsNode := child(root, "datasets")
	if len(c.Datasets) == 0 {
		v.add(keyLine(dsNode, ""), "no datasets: add a datasets: section with at least one dataset (see docs/lumbung.example.yaml)")
	}
	for _, name := range c.Order {
		d := c.Datasets[name]
		if d == nil {
			v.add(keyLine(dsNode, name), "dataset %q is empty: give its paths (or command) and layers", name)
			continue
		}
		d.Name = name
		v.dataset(d, dsNode, child(dsNode, name))
	}
	if len(v.probs) > 0 {
		return &ConfigError{Problems: v.probs}
	}
	return nil
}

func (v *validator) dataset(d *Dataset, parent, n *yaml.Node) {
	where := fmt.Sprintf("dataset %q", d.Name)
	if !nameRE.MatchString(d.Name) {
		v.add(keyLine(parent, d.Name), "%s: use only lowercase letters, digits, '-', '_' and '.' in dataset names (at most 64)", where)
	}
	switch {
	case len(d.Paths) > 0 && len(d.Command) > 0:
		v.add(keyLine(n, "command"), "%s: give either paths or command, not both", where)
	case len(d.Paths) == 0 && len(d.Command) == 0:
		v.add(keyLine(n, ""), "%s: give paths (what to back up) or command (whose output is backed up, e.g. pg_dump)", where)
	}
	for i, p := range d.Paths {
		if !filepath.IsAbs(p) {
			v.add(lineOr(item(child(n, "paths"), i), keyLine(n, "paths")), "%s: path %q is not absolute: write it in full, e.g. /srv/%s", where, p, d.Name)
		}
	}
	if len(d.Command) > 0 && strings.TrimSpace(d.Command[0]) == "" {
		v.add(keyLine(n, "command"), "%s: command has an empty program name", where)
	}
	if d.StdinFilename != "" {
		if len(d.Command) == 0 {
			v.add(keyLine(n, "stdin_filename"), "%s: stdin_filename only applies to a command", where)
		}
		if strings.ContainsAny(d.StdinFilename, `/\`) || d.StdinFilename == "." || d.StdinFilename == ".." {
			v.add(keyLine(n, "stdin_filename"), "%s: stdin_filename %q must be a plain file name, without directories", where, d.StdinFilename)
		}
	} else if len(d.Command) > 0 {
		d.StdinFilename = d.Name
	}
	if len(d.Layers) == 0 {
		v.add(keyLine(n, "layers"), "%s: no layers: a dataset needs at least one (the first is where backups are written)", where)
	}
	seen := make(map[string]bool)
	for i, l := range d.Layers {
		ln := item(child(n, "layers"), i)
		if l == nil {
			v.add(lineOr(ln, keyLine(n, "layers")), "%s, layer %d: empty layer", where, i+1)
			continue
		}
		v.layer(d, i, l, ln, seen)
	}
}

func lineOr(n *yaml.Node, def int) int {
	if n != nil {
		return n.Line
	}
	return def
}

func (v *validator) layer(d *Dataset, i int, l *Layer, n *yaml.Node, seen map[string]bool) {
	where := fmt.Sprintf("dataset %q, layer %d", d.Name, i+1)
	if l.Name != "" {
		where += fmt.Sprintf(" (%q)", l.Name)
	}
	switch {
	case l.Name == "":
		v.add(lineOr(n, 0), "%s: the layer has no name", where)
	case !nameRE.MatchString(l.Name):
		v.add(keyLine(n, "name"), "%s: use only lowercase letters, digits, '-', '_' and '.' in layer names (at most 64)", where)
	case seen[l.Name]:
		v.add(keyLine(n, "name"), "%s: the name %q is used by an earlier layer of this dataset", where, l.Name)
	}
	seen[l.Name] = true
	if strings.TrimSpace(l.Repository) == "" {
		v.add(lineOr(n, 0), "%s: repository is missing (a directory, rest:https://... or s3:https://...)", where)
	}
	scheme := schemeOf(l.Repository)
	switch {
	case l.Role == "":
		v.add(lineOr(n, 0), "%s: role is missing: one of %s", where, join(roles))
	case !slices.Contains(roles, l.Role):
		v.add(keyLine(n, "role"), "%s: role %q is not one of %s", where, l.Role, join(roles))
	}
	switch {
	case l.Media == "":
		v.add(lineOr(n, 0), "%s: media is missing: one of %s", where, join(medias))
	case !slices.Contains(medias, l.Media):
		v.add(keyLine(n, "media"), "%s: media %q is not one of %s", where, l.Media, join(medias))
	}
	for _, s := range []struct {
		key string
		sec *Secret
	}{{"password", l.Password}, {"token", l.Token}, {"access_key", l.AccessKey}, {"secret_key", l.SecretKey}} {
		if s.sec != nil && (s.sec.File == "") == (s.sec.Env == "") {
			v.add(keyLine(n, s.key), "%s: %s: give exactly one of file: (a file holding it) or env: (an environment variable)", where, s.key)
		}
	}
	if i == 0 {
		if l.Role == RoleOffline {
			v.add(keyLine(n, "role"), "%s: the first layer receives the backups and cannot be offline; put offline layers last", where)
		}
		if l.Password == nil {
			v.add(lineOr(n, 0), "%s: password is missing: backups are written to the first layer, so Lumbung needs its password (password: {file: ...} or {env: ...})", where)
		}
	}
	if l.Role == RoleOffline && scheme != "local" {
		v.add(keyLine(n, "repository"), "%s: an offline layer is a directory (a removable disk or tape mount), not a %s: location", where, scheme)
	}
	if l.Token != nil && scheme != "rest" {
		v.add(keyLine(n, "token"), "%s: token is only used by rest: repositories", where)
	}
	if (l.AccessKey != nil || l.SecretKey != nil) && scheme != "s3" {
		v.add(keyLine(n, "access_key"), "%s: access_key and secret_key are only used by s3: repositories", where)
	} else if (l.AccessKey == nil) != (l.SecretKey == nil) {
		v.add(lineOr(n, 0), "%s: give both access_key and secret_key", where)
	}
	if l.Bandwidth != "" {
		bps, err := ParseBandwidth(l.Bandwidth)
		if err != nil {
			v.add(keyLine(n, "bandwidth"), "%s: %v", where, err)
		}
		l.BytesPerSecond = bps
	}
	if l.Window != "" {
		w, err := replicate.ParseWindow(l.Window)
		if err != nil {
			v.add(keyLine(n, "window"), "%s: %v", where, err)
		} else {
			l.ReplicationWindow = &w
		}
	}
	if l.ImmutableDays < 0 {
		v.add(keyLine(n, "immutable_days"), "%s: immutable_days must be 0 (not immutable) or more", where)
	}
}

// schemeOf returns "rest", "s3" or "local" (also for unknown schemes: the
// location package decides what those are).
func schemeOf(repo string) string {
	for _, s := range []string{"rest", "s3"} {
		if strings.HasPrefix(repo, s+":") {
			return s
		}
	}
	return "local"
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
