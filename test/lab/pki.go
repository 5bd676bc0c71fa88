package lab

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Admin identity: system:masters is bound to cluster-admin by the
// apiserver's bootstrap RBAC policy, so no RoleBinding is needed.
const (
	adminUser  = "kube-admin"
	adminGroup = "system:masters"
)

// certValidity is long enough for any lab; NotBefore is backdated so a
// slightly skewed clock does not reject fresh certificates.
const (
	certValidity = 365 * 24 * time.Hour
	certBackdate = time.Hour
)

// pki is one cluster's certificate authority and the credentials issued
// from it. ECDSA P-256 keeps key generation instant, and the apiserver
// accepts it for serving, client and service-account keys alike.
type pki struct {
	ca    *x509.Certificate
	caKey crypto.Signer

	caPEM                     []byte
	servingCert, servingKey   []byte
	adminCert, adminKey       []byte
	saPrivateKey, saPublicKey []byte
	adminToken                string
}

// pkiFiles are the paths the apiserver flags point at.
type pkiFiles struct {
	caCert, servingCert, servingKey, saPrivate, saPublic, tokens string
}

func newPKI(clusterName string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: clusterName + "-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA for %s: %w", clusterName, err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &pki{ca: ca, caKey: caKey, caPEM: pemBlock("CERTIFICATE", caDER)}

	p.servingCert, p.servingKey, err = p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating serving certificate for %s: %w", clusterName, err)
	}
	p.adminCert, p.adminKey, err = p.issueClientCert(adminUser, adminGroup)
	if err != nil {
		return nil, fmt.Errorf("creating admin certificate for %s: %w", clusterName, err)
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.saPrivateKey, err = marshalKey(saKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	p.saPublicKey = pemBlock("PUBLIC KEY", pubDER)

	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	p.adminToken = hex.EncodeToString(tok)
	return p, nil
}

// issueClientCert signs a client certificate; the apiserver maps CN to the
// user name and O to groups.
func (p *pki) issueClientCert(user string, groups ...string) (certPEM, keyPEM []byte, err error) {
	return p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (p *pki) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := sign(tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = marshalKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), keyPEM, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-certBackdate)
	tmpl.NotAfter = now.Add(certValidity)
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

func marshalKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// write stores what the apiserver reads from disk. Keys are 0600 because the
// lab directory may live in a shared /tmp.
func (p *pki) write(dir string) (pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pkiFiles{}, err
	}
	f := pkiFiles{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saPrivate:   filepath.Join(dir, "sa.key"),
		saPublic:    filepath.Join(dir, "sa.pub"),
		tokens:      filepath.Join(dir, "tokens.csv"),
	}
	// Token file format: token,user,uid,"group1,group2".
	tokens := fmt.Sprintf("%s,%s,uid-%s,\"%s\"\n", p.adminToken, adminUser, adminUser, adminGroup)
	for path, data := range map[string][]byte{
		f.caCert:                        p.caPEM,
		f.servingCert:                   p.servingCert,
		f.servingKey:                    p.servingKey,
		f.saPrivate:                     p.saPrivateKey,
		f.saPublic:                      p.saPublicKey,
		f.tokens:                        []byte(tokens),
		filepath.Join(dir, "admin.crt"): p.adminCert,
		filepath.Join(dir, "admin.key"): p.adminKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return pkiFiles{}, err
		}
	}
	return f, nil
}
