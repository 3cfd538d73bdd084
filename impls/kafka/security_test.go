package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
)

// selfSigned returns a server TLS config for 127.0.0.1 and its CA in PEM.
func selfSigned(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafkatest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, certPEM
}

func roundTrip(t *testing.T, o walimpls.OpenerImpls) {
	t.Helper()
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	mustAppend(t, w, "secret", map[string]string{"h": "v"})
	msgs := readN(t, w, walimpls.DeliverAll(), 1)
	if string(msgs[0].Payload()) != "secret" || msgs[0].Properties()["h"] != "v" {
		t.Fatalf("read back %q %v", msgs[0].Payload(), msgs[0].Properties())
	}
}

func TestTLSWithCAFile(t *testing.T) {
	serverCfg, caPEM := selfSigned(t)
	c := startCluster(t, kafkatest.WithTLS(serverCfg))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), TLSFiles: &TLSFiles{CAFile: ca}})))

	// An untrusted certificate is refused, not ignored.
	o, err := NewBuilder(WithConfig(Config{Brokers: c.Addrs(), TLS: &tls.Config{MinVersion: tls.VersionTLS12}, DialTimeout: time.Second, RequestTimeout: time.Second})).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channelName(t), Term: 1}}); err == nil {
		t.Fatal("Open over TLS with an untrusted broker certificate succeeded")
	}
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c := startCluster(t, kafkatest.WithSASL(mech, "mqwal", "s3cret"))
			roundTrip(t, newOpener(t, c, WithSASL(mech, "mqwal", "s3cret")))

			o, err := NewBuilder(WithConfig(Config{Brokers: c.Addrs(), SASL: &SASLConfig{Mechanism: mech, Username: "mqwal", Password: "wrong"},
				DialTimeout: time.Second, RequestTimeout: time.Second})).Build()
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channelName(t), Term: 1}})
			if err == nil || errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
				t.Fatalf("Open with a wrong password: %v, want an authentication error", err)
			}
		})
	}
}
