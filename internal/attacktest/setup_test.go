package attacktest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/backend/rest"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/reposerver"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testservers"
)

// Names of the scenario, as an operator would choose them.
const (
	dataset     = "siak"
	repoName    = "kab-siak" // the dataset's repository on the province server
	otherRepo   = "kab-dukcapil"
	agentToken  = "opd-siak"        // the append token's name
	adminToken  = "provinsi-admin"  // the province's admin token's name
	hostname    = "srv-siak"        // the protected host
	s3Prefix    = "kab-bogor/siak"  // the dataset's prefix in the offsite bucket
	password    = "kata-sandi-siak" // the repository password (the attacker has it too)
	requestWait = 30 * time.Second  // bound on every raw request of the test
)

// testOpts makes repositories with a cheap KDF and small packs, so that a
// few MiB give many objects of every kind to attack.
var testOpts = repository.Options{
	KDF:      crypto.TestKDF,
	PackSize: 1 << 20,
	Chunker:  repository.ChunkerParams{Min: 4 << 10, Avg: 16 << 10, Max: 64 << 10},
}

// regional is the province repository server: in process, the same code
// as `lumbung serve`, on loopback TLS with its own self-signed certificate.
type regional struct {
	srv         *reposerver.Server
	dataDir     string
	baseURL     string // https://127.0.0.1:PORT
	fingerprint string
	adminSecret string       // kept by the province, never on the host
	client      *http.Client // trusts exactly the server's certificate
}

// location is the rest: location of repository name.
func (r *regional) location(name string) string {
	return "rest:" + r.baseURL + "/" + name + "?fingerprint=" + r.fingerprint
}

func startRegional(t *testing.T) *regional {
	t.Helper()
	dataDir := t.TempDir()
	srv, err := reposerver.New(reposerver.Options{DataDir: dataDir})
	if err != nil {
		t.Fatalf("start the repository server: %v", err)
	}
	cert, created, err := reposerver.LoadOrCreateCertificate(dataDir, nil, time.Now())
	if err != nil || !created {
		t.Fatalf("self-signed certificate: created %v, %v", created, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, cert) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("repository server: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("the repository server did not stop within a minute")
		}
		if err := srv.Close(); err != nil {
			t.Errorf("close the repository server: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	r := &regional{
		srv: srv, dataDir: dataDir,
		baseURL:     "https://" + ln.Addr().String(),
		fingerprint: reposerver.Fingerprint(cert.Certificate[0]),
		client: &http.Client{
			Timeout:   requestWait,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}
	t.Cleanup(r.client.CloseIdleConnections)
	// The province's admin token is made on the server machine
	// (`lumbung token create --data`); the agent's append token remotely
	// with it, as docs/server.md shows.
	r.adminSecret, _, err = srv.Tokens().Create(reposerver.TokenSpec{Name: adminToken, Scope: reposerver.ScopeAdmin, Repo: "*"}, time.Now())
	if err != nil {
		t.Fatalf("create the admin token: %v", err)
	}
	return r
}

// createToken makes a token through the admin API with the province's
// admin token and returns its secret.
func (r *regional) createToken(t *testing.T, name, scope, repo string) string {
	t.Helper()
	adm, err := rest.NewAdmin(r.baseURL, r.fingerprint, r.adminSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(t.Context(), requestWait)
	defer cancel()
	secret, _, err := adm.CreateToken(ctx, rest.TokenRequest{Name: name, Scope: scope, Repo: repo})
	if err != nil {
		t.Fatalf("create %s token %s: %v", scope, name, err)
	}
	return secret
}

// host is the protected host: its files, as the agent has them in
// /etc/lumbung, and the tree it backs up.
type host struct {
	etc        string // config, password file, token file
	configPath string
	src        string // the dataset's directory
	localRepo  string // layer 1
	s3Keys     testservers.Keys
	keyID      crypto.ID // the key slot `lumbung init` made
}

// layersConfig is the agent's config: three layers, secrets by reference.
const layersConfig = `# /etc/lumbung/lumbung.yaml on srv-siak
datasets:
  siak:
    paths: [{{SRC}}]
    layers:
      - name: lokal
        repository: {{LOCAL}}
        role: local
        media: disk
        password: {file: {{ETC}}/siak.pass}
      - name: provinsi
        repository: {{REGIONAL}}
        role: regional
        media: server
        token: {file: {{ETC}}/prov.token}
      - name: s3
        repository: {{OFFSITE}}
        role: offsite
        media: object-storage
        immutable_days: 1
        access_key: {env: AWS_ACCESS_KEY_ID}
        secret_key: {env: AWS_SECRET_ACCESS_KEY}
`

// setUpHost writes the agent's files and initialises the local layer.
// The S3 keys go to the environment, where the config refers to them
// (temporary STS keys also need AWS_SESSION_TOKEN, which the s3: location
// takes from there). Callers must not be parallel (t.Setenv).
func setUpHost(t *testing.T, reg *regional, s3 *testservers.S3Server, bucket string) (*host, *layers.Dataset) {
	t.Helper()
	root := t.TempDir()
	h := &host{
		etc:       filepath.Join(root, "etc", "lumbung"),
		src:       filepath.Join(root, "srv", "siak"),
		localRepo: filepath.Join(root, "var", "lumbung", "siak"),
		s3Keys:    s3.AgentKeys(t, bucket),
	}
	h.configPath = filepath.Join(h.etc, "lumbung.yaml")
	for _, d := range []string{h.etc, h.src} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	appendSecret := reg.createToken(t, agentToken, string(reposerver.ScopeAppend), repoName)
	writeSecret(t, filepath.Join(h.etc, "siak.pass"), password)
	writeSecret(t, filepath.Join(h.etc, "prov.token"), appendSecret)
	t.Setenv("AWS_ACCESS_KEY_ID", h.s3Keys.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", h.s3Keys.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", h.s3Keys.SessionToken)
	cfgText := strings.NewReplacer(
		"{{SRC}}", h.src, "{{LOCAL}}", h.localRepo, "{{ETC}}", h.etc,
		"{{REGIONAL}}", reg.location(repoName),
		"{{OFFSITE}}", fmt.Sprintf("s3:%s/%s/%s?retention=1d", s3.URL(), bucket, s3Prefix),
	).Replace(layersConfig)
	if err := os.WriteFile(h.configPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := layers.LoadFile(h.configPath)
	if err != nil {
		t.Fatalf("the agent's config: %v", err)
	}
	d, err := cfg.Dataset(dataset)
	if err != nil {
		t.Fatal(err)
	}
	be, err := local.Create(t.Context(), h.localRepo) // `lumbung init`
	if err != nil {
		t.Fatalf("create the local layer: %v", err)
	}
	defer be.Close()
	repo, err := repository.Init(t.Context(), be, []byte(password), testOpts)
	if err != nil {
		t.Fatalf("init the local layer: %v", err)
	}
	h.keyID = repo.KeyID()
	return h, d
}

func writeSecret(t *testing.T, path, secret string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readSecret reads one of the host's secret files, as the attacker does.
func readSecret(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the attacker reads %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}
