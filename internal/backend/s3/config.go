package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultRegion is used when a location names none. S3-compatible servers
// (MinIO, Ceph RGW, Garage) accept it; giving the region also spares a
// GetBucketLocation request, which the agent's minimal policy does not allow.
const DefaultRegion = "us-east-1"

// maxRetention bounds the retention a location may ask for. A typo such as
// "retention=3000d" would otherwise lock storage (and its bill) for years
// with no way back: COMPLIANCE retention cannot be shortened by anyone.
const maxRetention = 10 * 366 * 24 * time.Hour

// Config says which bucket and prefix hold a repository and how to reach it.
// Credentials never come from the location string, so locations can be
// logged and shown.
type Config struct {
	Endpoint string // host[:port]
	Secure   bool   // https (true) or plain http (tests on loopback only)
	Bucket   string
	// Prefix is the key prefix of the repository inside the bucket, without
	// leading or trailing slashes ("" for the bucket's root).
	Prefix string
	Region string
	// Retention is how long every object but locks stays under COMPLIANCE
	// Object Lock after it is written (0: no per-object retention).
	Retention time.Duration

	AccessKey    string
	SecretKey    string
	SessionToken string // temporary credentials (STS) only

	// Transport replaces the default HTTP transport (see NewTransport).
	Transport http.RoundTripper
	// Now is the clock that retention dates are computed from (time.Now when nil).
	Now func() time.Time
	// MaxRetries bounds the client's own retries of failed requests
	// (defaultMaxRetries when 0).
	MaxRetries int
}

// ParseLocation parses the part of a location after "s3:":
//
//	https://host[:port]/bucket[/prefix...][?retention=30d][&region=name]
//
// retention takes a number of days ("30d") or a Go duration ("36h"); 0 or
// absent means no per-object retention.
func ParseLocation(rest string) (Config, error) {
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("s3 location %q: %s", rest, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(rest)
	if err != nil {
		return fail("not a URL: %v (expected s3:https://host:port/bucket/prefix)", err)
	}
	var cfg Config
	switch u.Scheme {
	case "https":
		cfg.Secure = true
	case "http":
	default:
		return fail("the address must start with https:// (or http:// for a test server), e.g. s3:https://host:9000/bucket/prefix")
	}
	if u.User != nil {
		return fail("credentials do not belong in the location (it is logged and shown); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	if u.Host == "" {
		return fail("no host: expected s3:https://host:port/bucket/prefix")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return fail("unexpected %q", "#"+u.Fragment+u.Opaque)
	}
	cfg.Endpoint = u.Host
	path := strings.Trim(u.Path, "/")
	bucket, prefix, _ := strings.Cut(path, "/")
	if bucket == "" {
		return fail("no bucket: expected s3:https://host:port/bucket/prefix")
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return fail("bucket name %q: %v", bucket, err)
	}
	cfg.Bucket = bucket
	if prefix != "" {
		for _, seg := range strings.Split(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				return fail("prefix %q: segments must be non-empty names without \\, and not . or ..", prefix)
			}
		}
	}
	cfg.Prefix = prefix
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return fail("%s is given %d times", k, len(v))
		}
		switch k {
		case "retention":
			d, err := parseRetention(v[0])
			if err != nil {
				return fail("%v", err)
			}
			cfg.Retention = d
		case "region":
			if v[0] == "" {
				return fail("region is empty")
			}
			cfg.Region = v[0]
		default:
			return fail("unknown option %q (known: retention, region)", k)
		}
	}
	return cfg, nil
}

// parseRetention reads "30d", "36h", "90m" or "0".
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("retention %q: want a number of days such as 30d", s)
		}
		if n > uint64(maxRetention/(24*time.Hour)) {
			return 0, fmt.Errorf("retention %q: more than %d days is refused (COMPLIANCE retention can never be shortened)", s, maxRetention/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if s == "0" {
		return 0, nil
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("retention %q: want days (30d) or a duration (36h)", s)
		}
	}
	switch {
	case d < 0:
		return 0, errors.New("retention is negative")
	case d > maxRetention:
		return 0, fmt.Errorf("retention %q: more than %d days is refused (COMPLIANCE retention can never be shortened)", s, maxRetention/(24*time.Hour))
	case d > 0 && d < time.Second:
		return 0, fmt.Errorf("retention %q: less than a second", s)
	}
	return d, nil
}

// String renders cfg as the location it was parsed from (without
// credentials), in a canonical form.
func (cfg Config) String() string {
	scheme := "http"
	if cfg.Secure {
		scheme = "https"
	}
	s := "s3:" + scheme + "://" + cfg.Endpoint + "/" + cfg.Bucket
	if cfg.Prefix != "" {
		s += "/" + cfg.Prefix
	}
	var q []string
	if cfg.Region != "" {
		q = append(q, "region="+url.QueryEscape(cfg.Region))
	}
	if cfg.Retention > 0 {
		q = append(q, "retention="+formatRetention(cfg.Retention))
	}
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

func formatRetention(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
