package testservers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a running MinIO server in single-drive mode: it supports
// versioning, Object Lock (COMPLIANCE) and IAM policies.
type S3Server struct {
	Endpoint      string // host:port on loopback, plain http
	RootAccessKey string
	RootSecretKey string

	proc    *process
	dir     string
	buckets atomic.Int64
}

// Keys are S3 credentials; SessionToken is set for temporary ones.
type Keys struct {
	AccessKey    string
	SecretKey    string
	SessionToken string
}

var (
	s3Once   sync.Once
	s3Server *S3Server
	s3Err    error
)

// S3 returns the package's MinIO server, starting it on first use. It skips
// or fails t when the binary is missing (see Binary) and fails t when the
// server does not start.
func S3(t testing.TB) *S3Server {
	t.Helper()
	skipShort(t)
	registered(t)
	bin := Binary(t, "minio")
	s3Once.Do(func() { s3Server, s3Err = startS3(bin) })
	if s3Err != nil {
		t.Fatalf("start MinIO (%s): %v", bin, s3Err)
	}
	return s3Server
}

func startS3(bin string) (*S3Server, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port may be taken between finding and binding it
		s, err := tryStartS3(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartS3(bin string) (*S3Server, error) {
	dir, err := os.MkdirTemp("", "lumbung-minio-*")
	if err != nil {
		return nil, err
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &S3Server{Endpoint: addrs[0], RootAccessKey: "lumbungroot", RootSecretKey: randomHex(20), dir: dir}
	cmd := exec.Command(bin, "server", "--address", addrs[0], "--console-address", addrs[1], dir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.RootAccessKey,
		"MINIO_ROOT_PASSWORD="+s.RootSecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // allow a data directory on the root disk (/tmp)
	)
	p, err := start(cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.proc = p
	if err := p.waitHTTP("http://"+s.Endpoint+"/minio/health/ready", 90*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, lastLines(p.log.String(), 30))
	}
	if err := s.waitIAM(90 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, lastLines(p.log.String(), 30))
	}
	onExit(s.stop, func() {
		fmt.Fprintf(os.Stderr, "--- MinIO server log (last lines) ---\n%s\n---\n", lastLines(s.Logs(), 60))
	})
	return s, nil
}

// waitIAM waits until the root user's signed requests are served: the
// health endpoint answers before MinIO has loaded its users and policies.
func (s *S3Server) waitIAM(timeout time.Duration) error {
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(s.RootAccessKey, s.RootSecretKey, ""),
		Region:     "us-east-1",
		MaxRetries: 1,
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MinIO did not serve signed requests within %v: %w", timeout, err)
		}
		select {
		case <-s.proc.exited:
			return fmt.Errorf("the server exited (%v) before it was ready", s.proc.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *S3Server) stop() {
	s.proc.stop()
	os.RemoveAll(s.dir)
}

// Logs returns the tail of the server's output, for failure messages.
func (s *S3Server) Logs() string { return s.proc.log.String() }

// URL is the server's base URL.
func (s *S3Server) URL() string { return "http://" + s.Endpoint }

// Root returns the root user's keys.
func (s *S3Server) Root() Keys {
	return Keys{AccessKey: s.RootAccessKey, SecretKey: s.RootSecretKey}
}

// Client returns a client with keys k.
func (s *S3Server) Client(t testing.TB, k Keys) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(k.AccessKey, k.SecretKey, k.SessionToken),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatalf("S3 client: %v", err)
	}
	return c
}

// Bucket makes a new bucket with a unique name and returns the name. With
// objectLock the bucket has Object Lock enabled (and so versioning) and no
// default retention; otherwise it is a plain, unversioned bucket. Buckets
// are not removed: the server's data directory goes when the tests end, and
// locked objects could not be removed anyway.
func (s *S3Server) Bucket(t testing.TB, objectLock bool) string {
	t.Helper()
	name := fmt.Sprintf("lumbung-%d-%s", s.buckets.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t, s.Root()).MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
		t.Fatalf("make bucket %s: %v\nserver log:\n%s", name, err, lastLines(s.Logs(), 20))
	}
	return name
}

// AgentActions are the S3 actions a backup agent needs on its bucket and
// nothing more: it can add objects, read them (any version), list, and set
// or read retention (which COMPLIANCE mode lets it extend, never shorten).
// Deliberately absent: s3:DeleteObject, s3:DeleteObjectVersion,
// s3:DeleteBucket, s3:BypassGovernanceRetention and every s3:PutBucket*.
var AgentActions = struct{ Bucket, Object []string }{
	Bucket: []string{"s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketObjectLockConfiguration"},
	Object: []string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectRetention", "s3:GetObjectRetention"},
}

// AgentPolicy returns the IAM policy (JSON) of a backup agent on bucket;
// docs/s3.md shows the same policy.
func AgentPolicy(bucket string) string {
	type statement struct {
		Effect   string
		Action   []string
		Resource []string
	}
	p := struct {
		Version   string
		Statement []statement
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Effect: "Allow", Action: AgentActions.Bucket, Resource: []string{"arn:aws:s3:::" + bucket}},
			{Effect: "Allow", Action: AgentActions.Object, Resource: []string{"arn:aws:s3:::" + bucket + "/*"}},
		},
	}
	b, _ := json.Marshal(p) // strings only: cannot fail
	return string(b)
}

// AgentKeys returns credentials restricted to AgentPolicy(bucket): what a
// backup agent holds, and what an attacker on its host gets.
//
// They are temporary credentials from STS AssumeRole with the policy as
// session policy, which MinIO intersects with the parent's permissions —
// the same enforcement as a user with that policy attached, without
// MinIO's admin API (which would need github.com/minio/madmin-go).
func (s *S3Server) AgentKeys(t testing.TB, bucket string) Keys {
	t.Helper()
	// Right after start MinIO may still be loading IAM ("Server not
	// initialized"): retry that, for a bounded time.
	deadline := time.Now().Add(60 * time.Second)
	for {
		creds, err := credentials.NewSTSAssumeRole(s.URL(), credentials.STSAssumeRoleOptions{
			AccessKey:       s.RootAccessKey,
			SecretKey:       s.RootSecretKey,
			Policy:          AgentPolicy(bucket),
			DurationSeconds: int((6 * time.Hour).Seconds()),
		})
		if err != nil {
			t.Fatalf("agent keys: %v", err)
		}
		v, err := creds.GetWithContext(&credentials.CredContext{Client: &http.Client{Timeout: 30 * time.Second}})
		if err == nil {
			return Keys{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}
		}
		if !strings.Contains(err.Error(), "not initialized") || time.Now().After(deadline) {
			t.Fatalf("agent keys (STS AssumeRole with the agent policy): %v\nserver log:\n%s", err, lastLines(s.Logs(), 20))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Location returns the s3: location of prefix in bucket on this server,
// with query (such as "retention=1d") appended when not empty.
func (s *S3Server) Location(bucket, prefix, query string) string {
	loc := "s3:http://" + s.Endpoint + "/" + bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	if query != "" {
		loc += "?" + query
	}
	return loc
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
