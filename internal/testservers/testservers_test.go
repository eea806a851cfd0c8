package testservers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLogTailKeepsTheEnd(t *testing.T) {
	l := &logTail{max: 10}
	for _, s := range []string{"aaaa", "bbbb", "cccc", "dd"} {
		if n, err := l.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := l.String(); got != "bbbbccccdd" {
		t.Errorf("tail = %q, want %q", got, "bbbbccccdd")
	}
}

func TestLastLines(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"", 3, ""},
	} {
		if got := lastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestFindBinaryInGOBIN(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOBIN", dir)
	t.Setenv("PATH", "")
	if p, ok := findBinary("lumbung-test-server"); ok {
		t.Fatalf("found %s before it was installed", p)
	}
	name := "lumbung-test-server"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, ok := findBinary("lumbung-test-server"); !ok || p != filepath.Join(dir, name) {
		t.Errorf("findBinary = %q, %v; want it in GOBIN", p, ok)
	}
}

// TestAgentPolicyIsMinimal pins what the agent may do: nothing that
// deletes, bypasses retention or changes the bucket.
func TestAgentPolicyIsMinimal(t *testing.T) {
	var p struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(AgentPolicy("cadangan")), &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 2 {
		t.Fatalf("policy %+v", p)
	}
	var actions []string
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %+v is not Allow", st)
		}
		for _, r := range st.Resource {
			if r != "arn:aws:s3:::cadangan" && r != "arn:aws:s3:::cadangan/*" {
				t.Errorf("resource %q is not the bucket", r)
			}
		}
		actions = append(actions, st.Action...)
	}
	for _, a := range actions {
		if strings.Contains(a, "*") || strings.HasPrefix(a, "s3:Delete") || strings.HasPrefix(a, "s3:PutBucket") ||
			a == "s3:BypassGovernanceRetention" || a == "s3:PutLifecycleConfiguration" {
			t.Errorf("the agent may %s", a)
		}
	}
	if len(actions) != 8 {
		t.Errorf("actions %v, want the 8 an agent needs", actions)
	}
}
