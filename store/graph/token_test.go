package graph_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// selfSigned returns a PEM file with a new certificate and its key, and the
// certificate's DER.
func selfSigned(t *testing.T) ([]byte, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "patchboard"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	return out, der
}

// The connector authenticates with a certificate (a signed client
// assertion) instead of a secret.
func TestCertificateCredential(t *testing.T) {
	tn := newTenant(t)
	pemFile, der := selfSigned(t)
	tn.srv.CertificateKey = graphtest.PublicKeyOf(der)
	tn.addPC(1)
	tn.setMembers(tn.reg, "Reg", objectID(1))
	conn := tn.connector(func(c *graph.Config) { c.ClientSecret, c.Certificate = "", pemFile })
	tn.st.SetDirectory(conn, nil)
	if run := tn.sync(); run.Added != 1 {
		t.Fatalf("sync with a certificate = %s", run.Summary())
	}

	// Another certificate is refused with the identity platform's reason.
	other, _ := selfSigned(t)
	tn.st.SetDirectory(tn.connector(func(c *graph.Config) { c.ClientSecret, c.Certificate = "", other }), nil)
	_, err := tn.st.SyncDirectory(t.Context(), store.TriggerCLI, "test")
	if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("sync with an unknown certificate: %v, want AADSTS700027", err)
	}
}

// A wrong secret is refused with the identity platform's reason, and the
// secret appears nowhere in the error.
func TestWrongSecret(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetDirectory(tn.connector(func(c *graph.Config) { c.ClientSecret = "wrong-secret-value" }), nil)
	_, err := tn.st.SyncDirectory(t.Context(), store.TriggerCLI, "test")
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("sync with a wrong secret: %v", err)
	}
}
