package main

import (
	"context"
	"flag"
	"net/url"
	"os"
	"strings"
	"time"

	"patchboard/store"
	"patchboard/web"
)

// ssoConfig is single sign-on's part of serve's configuration
// (PATCHBOARD_OIDC_*, PATCHBOARD_BASE_URL, PATCHBOARD_LOCAL_SIGNIN).
type ssoConfig struct {
	issuer, clientID, clientSecret string
	baseURL, name, roleMap, scopes string
	localSignIn                    string
}

// ssoFlags reads the environment and declares the flags over it. The
// client secret has no flag (a flag shows in the process list): it comes
// from PATCHBOARD_OIDC_CLIENT_SECRET or the file PATCHBOARD_OIDC_CLIENT_SECRET_FILE names.
func ssoFlags(e *env, fs *flag.FlagSet) *ssoConfig {
	c := &ssoConfig{}
	fs.StringVar(&c.issuer, "oidc-issuer", e.getenv("PATCHBOARD_OIDC_ISSUER"), "OpenID Connect issuer URL (Entra ID: https://login.microsoftonline.com/TENANT/v2.0)")
	fs.StringVar(&c.clientID, "oidc-client-id", e.getenv("PATCHBOARD_OIDC_CLIENT_ID"), "OpenID Connect client (application) ID")
	fs.StringVar(&c.baseURL, "base-url", e.getenv("PATCHBOARD_BASE_URL"), "the portal's public URL; the redirect URI is BASE/auth/oidc/callback")
	fs.StringVar(&c.name, "oidc-name", envString(e, "PATCHBOARD_OIDC_NAME", "Microsoft Entra ID"), "label of the sign-in button")
	fs.StringVar(&c.roleMap, "oidc-role-map", e.getenv("PATCHBOARD_OIDC_ROLE_MAP"), "VALUE=ROLE,… from the roles and groups claims")
	fs.StringVar(&c.scopes, "oidc-scopes", envString(e, "PATCHBOARD_OIDC_SCOPES", "openid profile email"), "scopes to request")
	fs.StringVar(&c.localSignIn, "local-signin", envString(e, "PATCHBOARD_LOCAL_SIGNIN", "on"), "on, or break-glass: passwords for Global Administrators only")
	return c
}

// secret reads PATCHBOARD_OIDC_CLIENT_SECRET, or the file named by
// PATCHBOARD_OIDC_CLIENT_SECRET_FILE.
func (c *ssoConfig) secret(e *env) error {
	var err error
	c.clientSecret, err = secret(e, "PATCHBOARD_OIDC_CLIENT_SECRET")
	return err
}

// secret reads a secret from the environment variable key, or from the
// file that key_FILE names.
func secret(e *env, key string) (string, error) {
	v, file := e.getenv(key), e.getenv(key+"_FILE")
	switch {
	case file != "" && v != "":
		return "", usagef("set %s or %s_FILE, not both", key, key)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("%s_FILE: cannot read %s: %v", key, file, pathError(err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return v, nil
}

func pathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// configured reports whether single sign-on is asked for at all.
func (c *ssoConfig) configured() bool { return c.issuer != "" || c.clientID != "" }

// validate checks what needs no network.
func (c *ssoConfig) validate() error {
	switch c.localSignIn {
	case "on", "break-glass":
	default:
		return usagef("--local-signin (PATCHBOARD_LOCAL_SIGNIN) must be on or break-glass, got %q", c.localSignIn)
	}
	if !c.configured() {
		if c.localSignIn == "break-glass" {
			return usagef("PATCHBOARD_LOCAL_SIGNIN=break-glass needs single sign-on: set PATCHBOARD_OIDC_ISSUER and the client")
		}
		return nil
	}
	if _, err := store.ParseRoleMap(c.roleMap); err != nil {
		return usagef("PATCHBOARD_OIDC_ROLE_MAP: %v", err)
	}
	if u, err := url.Parse(c.baseURL); c.baseURL != "" && (err != nil || u.Path != "" && u.Path != "/") {
		return usagef("PATCHBOARD_BASE_URL %q must be the portal's root URL, like https://patchboard.contoso.com", c.baseURL)
	}
	return nil
}

// open reads the provider's discovery document: an issuer that does not
// answer stops the start-up with its URL and the error.
func (c *ssoConfig) open(ctx context.Context) (*web.OIDC, error) {
	m, _ := store.ParseRoleMap(c.roleMap) // validated
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o, err := web.NewOIDC(ctx, web.OIDCConfig{Issuer: c.issuer, ClientID: c.clientID, ClientSecret: c.clientSecret,
		BaseURL: c.baseURL, Name: c.name, Scopes: strings.Fields(c.scopes), RoleMap: m}, time.Now)
	if err != nil {
		return nil, usagef("single sign-on: %v", err)
	}
	return o, nil
}

// https reports whether the portal's public URL is https.
func (c *ssoConfig) https() bool { return strings.HasPrefix(c.baseURL, "https://") }
