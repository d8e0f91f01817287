// Package oidctest is an OpenID Connect provider for tests: discovery, a
// JWKS with key rotation, an authorization endpoint that signs the test's
// person in at once and redirects back with a code, and a token endpoint
// that checks the client, the redirect URI and the PKCE verifier and spends
// each code once. Tests tell it who signs in next and how to misbehave. It
// is imported by tests only and never ships in the binary.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Person is who the next authorization signs in, as id_token claims.
type Person struct {
	Subject string
	OID     string // Entra's object ID claim; empty: none
	Email   string
	Name    string
	Roles   []string
	Groups  []string
	// Overage: no groups claim but _claim_names.groups, as Entra sends for
	// people in too many groups.
	Overage bool
}

// Issuer is a running test provider.
type Issuer struct {
	*httptest.Server
	ClientID     string
	ClientSecret string
	// Now is the clock of iat and exp.
	Now func() time.Time

	mu     sync.Mutex
	keys   []signingKey // the last one signs
	next   Person
	codes  map[string]grant
	tamper func(claims map[string]any)
	// rogue signs instead of the published keys when set.
	rogue *signingKey
	// authError makes the authorization endpoint answer with this error.
	authError, authErrorDescription string
	// TokenRequests counts requests to the token endpoint.
	TokenRequests int
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

type grant struct {
	person      Person
	nonce       string
	challenge   string
	redirectURI string
}

// New starts an issuer; it is closed when the test ends via Close.
func New(now func() time.Time) *Issuer {
	iss := &Issuer{ClientID: "patchboard-test", ClientSecret: "test-client-secret", Now: now, codes: map[string]grant{}}
	iss.keys = []signingKey{newKey()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("GET /keys", iss.jwks)
	mux.HandleFunc("GET /authorize", iss.authorize)
	mux.HandleFunc("POST /token", iss.token)
	iss.Server = httptest.NewServer(mux)
	return iss
}

func newKey() signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return signingKey{id: randomString(8), key: k}
}

// SignIn sets who the next authorization signs in.
func (iss *Issuer) SignIn(p Person) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.next = p
}

// Tamper changes the claims of the next id_tokens before they are signed
// (nil: stop).
func (iss *Issuer) Tamper(f func(claims map[string]any)) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.tamper = f
}

// SignWithUnpublishedKey makes the id_tokens carry a signature no key of
// the JWKS verifies (false: stop).
func (iss *Issuer) SignWithUnpublishedKey(on bool) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.rogue = nil
	if on {
		k := newKey()
		k.id = iss.keys[len(iss.keys)-1].id // the same kid, another key
		iss.rogue = &k
	}
}

// RotateKeys publishes a new signing key next to the old one and signs with
// it from now on, as providers do.
func (iss *Issuer) RotateKeys() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = append(iss.keys, newKey())
}

// RefuseAuthorization makes the authorization endpoint redirect back with
// this OAuth error ("" stops).
func (iss *Issuer) RefuseAuthorization(code, description string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.authError, iss.authErrorDescription = code, description
}

func (iss *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss.URL,
		"authorization_endpoint":                iss.URL + "/authorize",
		"token_endpoint":                        iss.URL + "/token",
		"jwks_uri":                              iss.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
	})
}

func (iss *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range iss.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.id, Algorithm: "RS256", Use: "sig"})
	}
	writeJSON(w, http.StatusOK, set)
}

// authorize signs the next person in without a page and redirects back.
func (iss *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != iss.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "unknown client or response type", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	iss.mu.Lock()
	authError, description := iss.authError, iss.authErrorDescription
	iss.mu.Unlock()
	switch {
	case authError != "":
		back.Set("error", authError)
		back.Set("error_description", description)
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "PKCE with S256 is required")
	default:
		code := randomString(24)
		iss.mu.Lock()
		iss.codes[code] = grant{person: iss.next, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: redirect.String()}
		iss.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token exchanges a code, once, for an id_token.
func (iss *Issuer) token(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	iss.TokenRequests++
	iss.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != iss.ClientID || secret != iss.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	iss.mu.Lock()
	g, found := iss.codes[r.PostForm.Get("code")]
	delete(iss.codes, r.PostForm.Get("code")) // a code works once
	iss.mu.Unlock()
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		oauthError(w, "unsupported_grant_type", "")
		return
	case !found:
		oauthError(w, "invalid_grant", "the code is unknown or was already used")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		oauthError(w, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	case s256(r.PostForm.Get("code_verifier")) != g.challenge:
		oauthError(w, "invalid_grant", "PKCE verification failed")
		return
	}
	idToken, err := iss.idToken(g)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomString(24), "token_type": "Bearer",
		"expires_in": 3600, "id_token": idToken, "scope": "openid profile email"})
}

func (iss *Issuer) idToken(g grant) (string, error) {
	now := iss.Now()
	p := g.person
	claims := map[string]any{
		"iss": iss.URL, "sub": p.Subject, "aud": iss.ClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"nonce": g.nonce, "email": p.Email, "name": p.Name, "preferred_username": p.Email,
	}
	if p.OID != "" {
		claims["oid"] = p.OID
	}
	if p.Roles != nil {
		claims["roles"] = p.Roles
	}
	if p.Groups != nil {
		claims["groups"] = p.Groups
	}
	if p.Overage {
		claims["_claim_names"] = map[string]string{"groups": "src1"}
		claims["_claim_sources"] = map[string]any{"src1": map[string]string{"endpoint": iss.URL + "/groups"}}
	}
	iss.mu.Lock()
	tamper, key := iss.tamper, iss.keys[len(iss.keys)-1]
	if iss.rogue != nil {
		key = *iss.rogue
	}
	iss.mu.Unlock()
	if tamper != nil {
		tamper(claims)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.id))
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func oauthError(w http.ResponseWriter, code, description string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Println("oidctest: write:", err)
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
