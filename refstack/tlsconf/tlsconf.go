// Package tlsconf is the reference stack's mutual TLS: a certificate authority drawn per
// run, one certificate per region (its etcd member, MinIO and agent host present it), one
// for the routers and one for the harness, all in one directory; and the server and client
// configurations every process builds from that directory. Certificates are re-read when
// their files change, so a fault can expire or rotate a region's certificate mid-drill.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Names of the certificates besides the regions'.
const (
	Router  = "router"
	Harness = "harness"
	caName  = "ca"
)

// Validity of the certificates a run draws: longer than any drill.
const Validity = 24 * time.Hour

// Files names the files of certificate name in dir: the CA's certificate, its own
// certificate and its key.
func Files(dir, name string) (ca, cert, key string) {
	return filepath.Join(dir, caName+".crt"), filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// Generate draws a CA and signs one certificate per name, each valid for hosts (IP
// addresses or DNS names) as a server and as a client, writing them to dir (0700; keys
// 0600). The CA's key is kept beside them, for a fault that re-signs a region's
// certificate.
func Generate(dir string, names, hosts []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "geodrill run CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("tls: CA: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caPath, _, _ := Files(dir, caName)
	if err := writePEM(caPath, "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, caName+".key"), caKey); err != nil {
		return err
	}
	for _, name := range names {
		if err := Sign(dir, name, hosts, caCert, caKey, now, now.Add(Validity)); err != nil {
			return err
		}
	}
	return nil
}

// Sign writes name's certificate and key to dir, signed by ca, valid from notBefore to
// notAfter for hosts; written to a temporary file and renamed, so a reader never sees half.
func Sign(dir, name string, hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: key of %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "geodrill " + name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("tls: certificate of %s: %w", name, err)
	}
	_, certPath, keyPath := Files(dir, name)
	if err := writeKey(keyPath+".tmp", key); err != nil {
		return err
	}
	if err := writePEM(certPath+".tmp", "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	if err := os.Rename(keyPath+".tmp", keyPath); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.Rename(certPath+".tmp", certPath); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}

// LoadCA reads the run's CA certificate and key from dir (for re-signing).
func LoadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	caPath, _, _ := Files(dir, caName)
	certPEM, err := os.ReadFile(caPath)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caName+".key"))
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("tls: the CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: CA key: %w", err)
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// keyPair is a certificate and key re-read whenever the certificate file changes.
type keyPair struct {
	cert, key string
	mu        sync.Mutex
	mod       time.Time
	pair      *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	st, err := os.Stat(k.cert)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && st.ModTime().Equal(k.mod) {
		return k.pair, nil
	}
	pair, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	k.pair, k.mod = &pair, st.ModTime()
	return k.pair, nil
}

func pool(caPath string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls: %s holds no certificate", caPath)
	}
	return p, nil
}

// identity loads certificate name's key pair (re-read on change) and the run's CA from dir.
func identity(dir, name string) (*x509.CertPool, *keyPair, error) {
	ca, cert, key := Files(dir, name)
	cas, err := pool(ca)
	if err != nil {
		return nil, nil, err
	}
	kp := &keyPair{cert: cert, key: key}
	if _, err := kp.get(); err != nil {
		return nil, nil, err
	}
	return cas, kp, nil
}

// Server is the configuration of a server presenting certificate name from dir and
// requiring every client to present a valid one the run's CA signed.
func Server(dir, name string) (*tls.Config, error) {
	cas, kp, err := identity(dir, name)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      cas,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
	}, nil
}

// IgnoringExpiry is the planted bug bugs.TLSIgnoresExpiry: cfg (a Server configuration
// of the run in dir) checks a client's certificate "by hand", by its signature from the
// run's CA only, as code that wants to tolerate clock skew might, and so accepts expired
// certificates.
func IgnoringExpiry(cfg *tls.Config, dir string) (*tls.Config, error) {
	ca, _, err := LoadCA(dir)
	if err != nil {
		return nil, err
	}
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("tls: no client certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		return leaf.CheckSignatureFrom(ca)
	}
	return cfg, nil
}

// Client is the configuration of a client presenting certificate name from dir and
// trusting only servers the run's CA signed.
func Client(dir, name string) (*tls.Config, error) {
	cas, kp, err := identity(dir, name)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		RootCAs:              cas,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() },
	}, nil
}
