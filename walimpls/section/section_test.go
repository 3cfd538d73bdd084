package section_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls/section"
)

// reporter records every problem.
type reporter []string

func (r *reporter) Bad(key, format string, args ...any) {
	*r = append(*r, key+": "+fmt.Sprintf(format, args...))
}
func (r *reporter) EnvVar(key string) string { return "MQWAL_T_" + strings.ToUpper(key) }

func TestTLSCheck(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		tls  section.TLS
		want []string
	}{
		{section.TLS{}, nil},
		{section.TLS{Enabled: true, CAFile: cert, CertFile: cert, KeyFile: cert}, nil},
		{section.TLS{Enabled: true, CertFile: cert}, []string{`tls.cert_file: cert_file and key_file go together (got cert_file "` + cert + `", key_file "")`}},
		{section.TLS{Enabled: true, CAFile: missing}, []string{"tls.ca_file: cannot read " + missing + ": no such file or directory"}},
		{section.TLS{CAFile: cert}, []string{"tls.enabled: is false but other tls keys are set; set enabled: true or remove them"}},
		{section.TLS{InsecureSkipVerify: true}, []string{"tls.enabled: is false but other tls keys are set; set enabled: true or remove them"}},
	} {
		var r reporter
		tc.tls.Check(&r, "tls")
		if strings.Join(r, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%+v: got %q, want %q", tc.tls, r, tc.want)
		}
	}
}

func TestHostPort(t *testing.T) {
	for addr, want := range map[string]string{
		"a:9092":      "",
		"[::1]:9092":  "",
		"localhost":   "must be host:port",
		":9092":       "host must not be empty",
		"a:0":         "port must be 1..65535",
		"a:65536":     "port must be 1..65535",
		"a:http":      "port must be 1..65535",
		"a:b:c:99999": "must be host:port",
	} {
		if got := section.HostPort(addr); got != want {
			t.Errorf("HostPort(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestBadNameChar(t *testing.T) {
	for _, tc := range []struct {
		s, extra, bad string
	}{
		{"wal-1.a_B", "", ""},
		{"a/b", "", "/"},
		{"a=b:c", "=:", ""},
		{"a=b", "", "="},
		{"ä", "", "ä"},
	} {
		c, bad := section.BadNameChar(tc.s, tc.extra)
		if c != tc.bad || bad != (tc.bad != "") {
			t.Errorf("BadNameChar(%q, %q) = %q, %v, want %q", tc.s, tc.extra, c, bad, tc.bad)
		}
	}
}

func TestPositive(t *testing.T) {
	var r reporter
	section.Positive(&r, "a", time.Second)
	section.Positive(&r, "b", 0)
	section.Positive(&r, "c", -time.Second)
	if strings.Join(r, "|") != "b: must be > 0, got 0s|c: must be > 0, got -1s" {
		t.Fatalf("got %q", r)
	}
}

func TestStatFile(t *testing.T) {
	if err := section.StatFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	err := section.StatFile(filepath.Join(t.TempDir(), "nope"))
	if err == nil || err.Error() != "no such file or directory" {
		t.Fatalf("StatFile of a missing file: %v, want the cause without the path", err)
	}
}

func TestNonNegative(t *testing.T) {
	var r reporter
	section.NonNegative(&r, "a", 0, "")
	section.NonNegative(&r, "b", -1, "")
	section.NonNegative(&r, "c", -time.Second, "0 reads it")
	if strings.Join(r, "|") != "b: must be >= 0, got -1|c: must be >= 0 (0 reads it), got -1s" {
		t.Fatalf("got %q", r)
	}
}
