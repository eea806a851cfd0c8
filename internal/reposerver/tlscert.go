package reposerver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Fingerprint is the pin of a certificate: "sha256:" and the hex SHA-256 of
// its DER bytes. Clients compare it to the server's leaf certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadOrCreateCertificate returns the server's certificate from
// DATA/server/tls.crt and tls.key, generating a self-signed ECDSA P-256
// one valid for ten years when there is none. hosts (names or IP
// addresses) are added to localhost, 127.0.0.1 and ::1 as subject
// alternative names. created reports a new certificate.
func LoadOrCreateCertificate(dataDir string, hosts []string, now time.Time) (cert tls.Certificate, created bool, err error) {
	dir := filepath.Join(dataDir, "server")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil {
		return cert, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, false, fmt.Errorf("load certificate %s: %w", certFile, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("create certificate: %w", err)
	}
	certPEM, keyPEM, err := newSelfSigned(hosts, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := writeFileAtomic(keyFile, keyPEM); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("write %s: %w", keyFile, err)
	}
	if err := writeFileAtomic(certFile, certPEM); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("write %s: %w", certFile, err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("load new certificate: %w", err)
	}
	return cert, true, nil
}

func newSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "lumbung repository server", Organization: []string{"Lumbung"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	all := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	for _, h := range all {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
