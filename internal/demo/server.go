package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/lumbung-id/lumbung/internal/reposerver"
)

// demoServer is a real repository server (what `lumbung serve` runs),
// started in process on a random loopback port.
type demoServer struct {
	srv         *reposerver.Server
	addr        string // 127.0.0.1:port
	fingerprint string // of its self-signed certificate, for pinning
	cancel      context.CancelFunc
	done        chan error
}

// startServer opens the server's data directory, creates an append token
// named tokenName for repository repoName (what an agent is given), and
// serves on 127.0.0.1 with a self-signed certificate made on first run,
// exactly as `lumbung serve` does. It stops when ctx is cancelled or stop
// is called; the caller must call stop.
func startServer(ctx context.Context, dir, tokenName, repoName string) (s *demoServer, token string, err error) {
	srv, err := reposerver.New(reposerver.Options{DataDir: dir})
	if err != nil {
		return nil, "", fmt.Errorf("start the repository server: %w", err)
	}
	defer func() {
		if s == nil {
			srv.Close()
		}
	}()
	token, _, err = srv.Tokens().Create(reposerver.TokenSpec{Name: tokenName, Scope: reposerver.ScopeAppend, Repo: repoName}, time.Now())
	if err != nil {
		return nil, "", fmt.Errorf("create the demo's append token: %w", err)
	}
	cert, _, err := reposerver.LoadOrCreateCertificate(dir, nil, time.Now())
	if err != nil {
		return nil, "", err
	}
	// Loopback only: the demo must not open a port to the network.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen on loopback for the repository server: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s = &demoServer{
		srv: srv, addr: ln.Addr().String(), fingerprint: reposerver.Fingerprint(cert.Certificate[0]),
		cancel: cancel, done: make(chan error, 1),
	}
	go func() { s.done <- srv.Run(ctx, ln, cert) }()
	return s, token, nil
}

// location is the rest: location of repository repo on the server, with
// the certificate pinned.
func (s *demoServer) location(repo string) string {
	return "rest:https://" + s.addr + "/" + repo + "?fingerprint=" + s.fingerprint
}

// stop shuts the server down, waits for it and closes its files.
func (s *demoServer) stop() error {
	s.cancel()
	var err error
	select {
	case err = <-s.done:
	case <-time.After(time.Minute): // Run gives requests 30 s to finish
		err = errors.New("the repository server did not stop within a minute")
	}
	if cerr := s.srv.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("stop the repository server: %w", err)
	}
	return nil
}

// writeSecret writes a credential for the layers config to reference,
// readable by the owner only.
func writeSecret(path, secret string) error {
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
