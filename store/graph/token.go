package graph

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenSource gets application tokens by the OAuth 2.0 client credentials
// grant, with a client secret or a certificate (a signed client assertion),
// and keeps the current one until shortly before it expires.
type tokenSource struct {
	tokenURL string
	clientID string
	scope    string
	secret   string
	cert     *certificate // when not nil, used instead of secret
	http     *http.Client

	mu  sync.Mutex
	tok *oauth2.Token
}

// certificate is a client certificate and its RSA key.
type certificate struct {
	key        *rsa.PrivateKey
	thumbprint []byte // SHA-1 of the DER certificate (Entra's x5t)
	sha256     []byte // SHA-256 of it (x5t#S256)
	notAfter   time.Time
}

// renewBefore is how long before its expiry a token is renewed, so that a
// request never sets out with a token about to lapse.
const renewBefore = 2 * time.Minute

func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && time.Until(ts.tok.Expiry) > renewBefore {
		return ts.tok.AccessToken, nil
	}
	cfg := clientcredentials.Config{
		ClientID:     ts.clientID,
		ClientSecret: ts.secret,
		TokenURL:     ts.tokenURL,
		Scopes:       []string{ts.scope},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	if ts.cert != nil {
		assertion, err := ts.cert.assertion(ts.clientID, ts.tokenURL, time.Now())
		if err != nil {
			return "", err
		}
		cfg.ClientSecret = ""
		cfg.EndpointParams = url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
		}
	}
	if ts.http != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, ts.http)
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return "", tokenError(err)
	}
	ts.tok = tok
	return tok.AccessToken, nil
}

// invalidate drops the current token: Graph refused it.
func (ts *tokenSource) invalidate() {
	ts.mu.Lock()
	ts.tok = nil
	ts.mu.Unlock()
}

// tokenError keeps what the identity platform said (its error code and
// description name the wrong tenant, client or secret) and drops the rest,
// which may include the request.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			code = re.Response.Status
		}
		if i := strings.Index(desc, "\r\n"); i > 0 {
			desc = desc[:i] // the rest is trace and correlation IDs
		}
		return &TokenError{Code: code, Description: desc}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("getting a Microsoft Graph token failed: %w", ue.Err)
	}
	return fmt.Errorf("getting a Microsoft Graph token failed: %w", err)
}

// TokenError is the identity platform's refusal of a token: its OAuth error
// code (invalid_client, …) and the description, which starts with the
// AADSTS code that says why.
type TokenError struct {
	Code        string
	Description string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("getting a Microsoft Graph token failed: %s %s", e.Code, e.Description)
}

// CredentialExpired reports whether the client secret (AADSTS7000222) or
// the certificate (AADSTS700027, "the key used is expired") expired
// (store.CredentialExpirer).
func (e *TokenError) CredentialExpired() bool {
	switch {
	case strings.HasPrefix(e.Description, "AADSTS7000222"):
		return true
	case strings.HasPrefix(e.Description, "AADSTS700027"):
		return strings.Contains(strings.ToLower(e.Description), "expired")
	}
	return false
}

// parseCertificate reads a PEM file holding a certificate and its RSA
// private key (PKCS #1 or PKCS #8), in any order.
func parseCertificate(pemData []byte) (*certificate, error) {
	var c certificate
	var der []byte
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if der == nil {
				der = b.Bytes
			}
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("its RSA private key does not parse: %w", err)
			}
			c.key = k
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("its private key does not parse: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, errors.New("its private key is not an RSA key; Microsoft Entra ID takes RSA certificates")
			}
			c.key = rk
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("its private key is encrypted; export it without a password")
		}
	}
	if der == nil || c.key == nil {
		return nil, errors.New("it must hold a PEM certificate and its PEM private key")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("its certificate does not parse: %w", err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&c.key.PublicKey) {
		return nil, errors.New("its private key does not belong to its certificate")
	}
	c.notAfter = cert.NotAfter.UTC()
	s1 := sha1.Sum(der)
	s256 := sha256.Sum256(der)
	c.thumbprint, c.sha256 = s1[:], s256[:]
	return &c, nil
}

// Thumbprint is the certificate's SHA-1 thumbprint in hex, as the Entra
// admin center shows it.
func (c *certificate) Thumbprint() string { return strings.ToUpper(hex.EncodeToString(c.thumbprint)) }

// assertion is the signed JWT that stands for a client secret (Microsoft
// identity platform "certificate credentials"): RS256, x5t and x5t#S256 in
// the header, the token endpoint as audience, valid for 10 minutes.
func (c *certificate) assertion(clientID, tokenURL string, now time.Time) (string, error) {
	b64 := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{
		"alg": "RS256", "typ": "JWT",
		"x5t": b64.EncodeToString(c.thumbprint), "x5t#S256": b64.EncodeToString(c.sha256),
	})
	jti := make([]byte, 16)
	rand.Read(jti)
	claims, _ := json.Marshal(map[string]any{
		"aud": tokenURL, "iss": clientID, "sub": clientID, "jti": hex.EncodeToString(jti),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}
