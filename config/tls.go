package config

import "os"

// TLS configures encrypted connections from PEM files; kafka and pulsar share
// its shape.
type TLS struct {
	// Enabled turns TLS on (for pulsar, a pulsar+ssl:// url does too).
	Enabled bool `yaml:"enabled"`
	// CAFile holds the CAs to trust; empty means the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

func (t *TLS) check(v *validator, key string) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.bad(key+".cert_file", "cert_file and key_file go together (got cert_file %q, key_file %q)", t.CertFile, t.KeyFile)
	}
	for _, f := range []struct{ key, path string }{
		{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			v.bad(key+"."+f.key, "cannot read %s: %v", f.path, unwrapPath(err))
		}
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		v.bad(key+".enabled", "is false but other tls keys are set; set enabled: true or remove them")
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func statFile(path string) (os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	return fi, nil
}
