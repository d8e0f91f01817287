package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/markbates/goth"
	"github.com/markbates/goth/gothic"
	"github.com/markbates/goth/providers/openidConnect"
	"golang.org/x/oauth2"

	"patchboard/handlers"
	"patchboard/store"
)

// OIDCConfig is how Patchboard reaches an OpenID Connect provider
// (PATCHBOARD_OIDC_*).
type OIDCConfig struct {
	// Issuer is the issuer URL; its /.well-known/openid-configuration is read
	// at start-up. Entra ID: https://login.microsoftonline.com/TENANT/v2.0.
	Issuer       string
	ClientID     string
	ClientSecret string
	// BaseURL is the portal's public URL; the redirect URI is
	// BaseURL/auth/oidc/callback.
	BaseURL string
	// Name labels the sign-in button.
	Name   string
	Scopes []string
	// RoleMap applies until a Global Administrator saves one in the portal.
	RoleMap store.RoleMap
	// HTTPClient reaches the provider (token endpoint and keys); default: a
	// client with a 30 s timeout.
	HTTPClient *http.Client
}

// CallbackPath is where the provider sends the browser back.
const CallbackPath = "/auth/oidc/callback"

// OIDC signs people in through an OpenID Connect provider. goth's
// openidConnect provider drives the redirects and the code exchange, gothic
// keeps the flow between them; go-oidc decides whether to believe the
// result (goth checks no signature).
type OIDC struct {
	cfg      OIDCConfig
	provider *pkceProvider
	verifier *oidc.IDTokenVerifier
	flows    *flowStore
}

// NewOIDC reads the provider's discovery document and prepares the
// sign-in; an issuer that cannot be reached or that calls itself something
// else is an error naming the URL. now is the clock tokens are checked
// against (time.Now in production).
func NewOIDC(ctx context.Context, cfg OIDCConfig, now func() time.Time) (*OIDC, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "Microsoft Entra ID"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if cfg.HTTPClient == nil {
		// Nothing waits on a provider that stopped answering for ever.
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	// go-oidc fetches the key set (again when the provider rotates its
	// keys) with this client, on a context of its own.
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OpenID Connect discovery at %s/.well-known/openid-configuration failed: %v", strings.TrimSuffix(cfg.Issuer, "/"), err)
	}
	gp, err := openidConnect.New(cfg.ClientID, cfg.ClientSecret, strings.TrimSuffix(cfg.BaseURL, "/")+CallbackPath,
		strings.TrimSuffix(cfg.Issuer, "/")+"/.well-known/openid-configuration", cfg.Scopes...)
	if err != nil {
		return nil, fmt.Errorf("OpenID Connect discovery at %s failed: %v", cfg.Issuer, err)
	}
	gp.SkipUserInfoRequest = true // everything Patchboard needs is in the verified id_token
	gp.HTTPClient = cfg.HTTPClient
	p := &pkceProvider{Provider: gp}
	// goth's registry is global: each portal registers its provider under
	// a name of its own.
	gp.SetName("patchboard-oidc-" + randomToken(6))
	goth.UseProviders(p)
	useFlowStores()
	return &OIDC{
		cfg:      cfg,
		provider: p,
		verifier: op.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: now}),
		flows:    &flowStore{secure: strings.HasPrefix(cfg.BaseURL, "https://"), now: now},
	}, nil
}

func (c OIDCConfig) validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"PATCHBOARD_OIDC_ISSUER", c.Issuer}, {"PATCHBOARD_OIDC_CLIENT_ID", c.ClientID},
		{"PATCHBOARD_OIDC_CLIENT_SECRET", c.ClientSecret}, {"PATCHBOARD_BASE_URL", c.BaseURL},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("single sign-on needs %s", strings.Join(missing, ", "))
	}
	for _, f := range []struct{ name, value string }{{"PATCHBOARD_OIDC_ISSUER", c.Issuer}, {"PATCHBOARD_BASE_URL", c.BaseURL}} {
		u, err := url.Parse(f.value)
		if err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			return fmt.Errorf("%s %q must be an https:// URL (http:// only on the loopback address)", f.name, f.value)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// Label is the sign-in button's text.
func (o *OIDC) Label() string { return o.cfg.Name }

// RoleMap is the configured role map.
func (o *OIDC) RoleMap() store.RoleMap { return o.cfg.RoleMap }

// Begin stores a new flow (state, nonce, PKCE verifier, where to go after)
// for this browser and returns the provider's authorization URL. It is
// gothic.GetAuthURL with the flow's next path added.
func (o *OIDC) Begin(c echo.Context, st *store.Store, next string) (string, error) {
	req := o.request(c, st)
	gs, err := o.provider.BeginAuth(gothic.SetState(req))
	if err != nil {
		return "", err
	}
	sess := gs.(*flowSession)
	sess.Next = next
	if err := gothic.StoreInSession(o.provider.Name(), sess.Marshal(), req, c.Response()); err != nil {
		return "", err
	}
	return sess.AuthURL, nil
}

func (o *OIDC) request(c echo.Context, st *store.Store) *http.Request {
	req := c.Request()
	ctx := context.WithValue(req.Context(), flowStoreKey{}, flowRequest{o.flows, st})
	return gothic.GetContextWithProvider(req.WithContext(ctx), o.provider.Name())
}

// Finish completes the flow the provider sent the browser back with: the
// flow must be this browser's, unused and of the same state; the code is
// exchanged with the PKCE verifier; the id_token's signature, issuer,
// audience, expiry and nonce must hold. Tokens go no further than this
// function: not into a session, not into a log.
func (o *OIDC) Finish(c echo.Context, st *store.Store) (store.Identity, string, error) {
	sess, err := o.finish(c, st)
	if err != nil {
		return store.Identity{}, "", err
	}
	id, err := o.verify(c.Request().Context(), sess)
	return id, sess.Next, err
}

// finish takes the browser's flow, checks its state and exchanges the code
// with the PKCE verifier.
func (o *OIDC) finish(c echo.Context, st *store.Store) (*flowSession, error) {
	req := o.request(c, st)
	q := req.URL.Query()
	// However it ends, the flow is used up and its cookie cleared.
	defer func() {
		// Clearing the flow's cookie writes no state of ours; the flow's
		// state is single-use whether or not the cookie goes.
		_ = gothic.Logout(c.Response(), req)
	}()
	if code := q.Get("error"); code != "" {
		return nil, providerError(code, q.Get("error_description"))
	}
	value, err := gothic.GetFromSession(o.provider.Name(), req)
	if err != nil {
		return nil, &handlers.SignInError{Message: "This sign-in has expired or was already used. Start again.",
			Detail: "no sign-in flow for this browser (expired, used or from another browser)"}
	}
	if !o.flows.consume(req, st) {
		return nil, &handlers.SignInError{Message: "This sign-in was already used. Start again.", Detail: "sign-in flow replayed"}
	}
	gs, err := o.provider.UnmarshalSession(value)
	if err != nil {
		return nil, err
	}
	sess := gs.(*flowSession)
	if !sameState(sess.AuthURL, q.Get("state")) {
		return nil, &handlers.SignInError{Message: "The sign-in did not come from this browser's request. Start again.", Detail: "state mismatch"}
	}
	if _, err := sess.Authorize(o.provider, q); err != nil {
		return nil, &handlers.SignInError{Message: "The identity provider did not accept the sign-in code (it may have been used already). Start again.",
			Detail: "code exchange refused: " + oauthErrorCode(err), Cause: err}
	}
	return sess, nil
}

// verify checks the id_token the code was exchanged for: signature (from
// the provider's keys), issuer, audience, expiry, then the flow's nonce.
func (o *OIDC) verify(ctx context.Context, sess *flowSession) (store.Identity, error) {
	if sess.IDToken == "" {
		return store.Identity{}, &handlers.SignInError{Message: "The identity provider sent no ID token. Check that the openid scope is configured.", Detail: "no id_token"}
	}
	tok, err := o.verifier.Verify(ctx, sess.IDToken)
	if err != nil {
		return store.Identity{}, &handlers.SignInError{Message: "The identity provider's answer could not be verified, so you were not signed in. Start again; if it keeps failing, tell your administrator.",
			Detail: "id_token refused: " + verifyReason(err), Cause: err}
	}
	if subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(sess.Nonce)) != 1 {
		return store.Identity{}, &handlers.SignInError{Message: "The identity provider's answer could not be verified, so you were not signed in. Start again.",
			Detail: "id_token refused: nonce mismatch"}
	}
	return identity(tok)
}

// idClaims are the id_token claims Patchboard reads.
type idClaims struct {
	Subject           string            `json:"sub"`
	ObjectID          string            `json:"oid"`
	Email             string            `json:"email"`
	PreferredUsername string            `json:"preferred_username"`
	Name              string            `json:"name"`
	Roles             []string          `json:"roles"`
	Groups            []string          `json:"groups"`
	ClaimNames        map[string]string `json:"_claim_names"`
}

func identity(tok *oidc.IDToken) (store.Identity, error) {
	var c idClaims
	if err := tok.Claims(&c); err != nil {
		return store.Identity{}, &handlers.SignInError{Message: "The identity provider's token has claims Patchboard cannot read (roles and groups must be lists of text).",
			Detail: "unreadable claims"}
	}
	id := store.Identity{Issuer: tok.Issuer, Subject: c.Subject, Name: c.Name, Roles: c.Roles, Groups: c.Groups}
	// Entra's sub is pairwise per application; oid is the person's
	// directory object and stays the same across applications.
	if c.ObjectID != "" {
		id.Subject = c.ObjectID
	}
	id.Email = c.Email
	if id.Email == "" {
		id.Email = c.PreferredUsername
	}
	if id.Email == "" {
		id.Email = id.Subject
	}
	_, id.GroupOverage = c.ClaimNames["groups"]
	return id, nil
}

func providerError(code, description string) error {
	msg := "The identity provider refused the sign-in (" + code + ")."
	if code == "access_denied" {
		msg = "The sign-in was cancelled or refused at the identity provider (access_denied)."
	}
	if description != "" {
		// Entra puts a trace ID and time after the first line.
		first, _, _ := strings.Cut(description, "\n")
		msg += " " + strings.TrimSpace(first)
	}
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return &handlers.SignInError{Message: msg, Detail: "provider error " + code}
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		return re.ErrorCode
	}
	return "token endpoint error"
}

func verifyReason(err error) string {
	var exp *oidc.TokenExpiredError
	switch msg := err.Error(); {
	case errors.As(err, &exp):
		return "expired"
	case strings.Contains(msg, "signature"):
		return "bad signature"
	case strings.Contains(msg, "audience"):
		return "wrong audience"
	case strings.Contains(msg, "issued by a different provider"):
		return "wrong issuer"
	default:
		return "malformed"
	}
}

func sameState(authURL, got string) bool {
	u, err := url.Parse(authURL)
	want := ""
	if err == nil {
		want = u.Query().Get("state")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// --- goth provider with PKCE and a nonce ---------------------------------------

// pkceProvider is goth's openidConnect provider with what it lacks: a PKCE
// (S256) challenge and a nonce on every authorization request, kept in the
// flow and checked at the callback.
type pkceProvider struct{ *openidConnect.Provider }

// flowSession is goth's session plus the flow's secrets and the local path
// to go to after sign-in.
type flowSession struct {
	openidConnect.Session
	Verifier string
	Nonce    string
	Next     string
}

// BeginAuth adds the PKCE challenge and the nonce to goth's URL.
func (p *pkceProvider) BeginAuth(state string) (goth.Session, error) {
	gs, err := p.Provider.BeginAuth(state)
	if err != nil {
		return nil, err
	}
	s := &flowSession{Session: *gs.(*openidConnect.Session), Verifier: oauth2.GenerateVerifier(), Nonce: randomToken(24)}
	u, err := url.Parse(s.AuthURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(s.Verifier))
	q.Set("code_challenge_method", "S256")
	q.Set("nonce", s.Nonce)
	u.RawQuery = q.Encode()
	s.AuthURL = u.String()
	return s, nil
}

// UnmarshalSession reads a flow back.
func (p *pkceProvider) UnmarshalSession(data string) (goth.Session, error) {
	s := &flowSession{}
	return s, json.Unmarshal([]byte(data), s)
}

// Marshal keeps the flow's secrets with goth's session.
func (s *flowSession) Marshal() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Authorize exchanges the code with the PKCE verifier.
func (s *flowSession) Authorize(p goth.Provider, params goth.Params) (string, error) {
	return s.Session.Authorize(p.(*pkceProvider).Provider, url.Values{
		"code": {params.Get("code")}, "code_verifier": {s.Verifier}})
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- where the flow waits between the two requests -----------------------------

// flowCookie binds a flow to the browser that started it.
const flowCookie = "patchboard_oidc"

// flowTTL is how long a person has at the provider.
const flowTTL = 10 * time.Minute

// flowStore is gothic's session store: a random token in a cookie, the flow
// in the database under the token's hash, deleted by the callback.
type flowStore struct {
	secure bool
	now    func() time.Time
}

type flowStoreKey struct{}

// flowRequest is what a request hands gothic's global store: this portal's
// flows and database.
type flowRequest struct {
	flows *flowStore
	st    *store.Store
}

var flowStoresOnce sync.Once

// useFlowStores makes gothic keep flows in the store the request carries.
// gothic.Store and gothic.SetState are globals of the library, set once.
func useFlowStores() {
	flowStoresOnce.Do(func() {
		gothic.Store = flowStores{}
		// The state is always fresh and random: never taken from the
		// request, as gothic's default would.
		gothic.SetState = func(*http.Request) string { return randomToken(32) }
	})
}

// flowStores is the sessions.Store gothic sees: it finds the portal's flow
// store in the request context.
type flowStores struct{}

func flowsOf(r *http.Request) (flowRequest, error) {
	fr, ok := r.Context().Value(flowStoreKey{}).(flowRequest)
	if !ok {
		return flowRequest{}, errors.New("sign-in flow store missing from the request")
	}
	return fr, nil
}

func (flowStores) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(flowStores{}, name)
}

func (flowStores) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(flowStores{}, name)
	sess.IsNew = true
	fr, err := flowsOf(r)
	if err != nil {
		return sess, err
	}
	sess.Options = fr.flows.options()
	c, err := r.Cookie(flowCookie)
	if err != nil || c.Value == "" {
		return sess, nil
	}
	data, err := fr.st.SignInFlow(r.Context(), c.Value, fr.flows.now())
	if err != nil {
		return sess, nil // expired or used: an empty flow
	}
	var values map[string][]byte
	if json.Unmarshal([]byte(data), &values) != nil {
		return sess, nil
	}
	for k, v := range values {
		sess.Values[k] = string(v)
	}
	sess.ID, sess.IsNew = c.Value, false
	return sess, nil
}

func (flowStores) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	fr, err := flowsOf(r)
	if err != nil {
		return err
	}
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := fr.st.DeleteSignInFlow(r.Context(), sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(flowCookie, "", sess.Options))
		return nil
	}
	// A new flow gets a new token, so a cookie planted before cannot name it.
	sess.ID = randomToken(32)
	// gothic's values are gzipped bytes in a string: kept as bytes
	// (base64 in JSON), which a JSON string would mangle.
	values := map[string][]byte{}
	for k, v := range sess.Values {
		ks, kok := k.(string)
		vs, vok := v.(string)
		if kok && vok {
			values[ks] = []byte(vs)
		}
	}
	data, _ := json.Marshal(values)
	if err := fr.st.SaveSignInFlow(r.Context(), sess.ID, string(data), fr.flows.now().Add(flowTTL)); err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(flowCookie, sess.ID, sess.Options))
	return nil
}

// options: HttpOnly; Lax, because the provider's redirect back is a
// cross-site navigation (Strict would not send the cookie); only under
// /auth/oidc.
func (f *flowStore) options() *sessions.Options {
	return &sessions.Options{Path: "/auth/oidc", MaxAge: int(flowTTL.Seconds()), HttpOnly: true, Secure: f.secure,
		SameSite: http.SameSiteLaxMode}
}

// consume deletes the browser's flow; false when another request already
// did, which makes a flow good for one callback even when two race.
func (f *flowStore) consume(r *http.Request, st *store.Store) bool {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return false
	}
	ok, err := st.TakeSignInFlow(r.Context(), c.Value, f.now())
	return err == nil && ok
}
