package graph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"patchboard/store"
)

// Config is what the connector needs to reach a tenant. Every field is
// checked by New with a message that names the setting.
type Config struct {
	TenantID     string // directory (tenant) ID, or its verified domain
	ClientID     string // application (client) ID
	ClientSecret string // a client secret, or
	Certificate  []byte // a PEM certificate with its RSA private key
	// RegistrationGroup is the object ID of the Entra group that is the
	// Device Registration group.
	RegistrationGroup string
	GraphURL          string // https://graph.microsoft.com unless a national cloud
	LoginURL          string // https://login.microsoftonline.com unless a national cloud
	// RingGroupPrefix names the ring groups: prefix + Test|First|Fast|Broad.
	RingGroupPrefix string
}

// Default service URLs (the global cloud). The US Government clouds use
// https://graph.microsoft.us or https://dod-graph.microsoft.us with
// https://login.microsoftonline.us; China (21Vianet) uses
// https://microsoftgraph.chinacloudapi.cn with https://login.chinacloudapi.cn.
const (
	DefaultGraphURL        = "https://graph.microsoft.com"
	DefaultLoginURL        = "https://login.microsoftonline.com"
	DefaultRingGroupPrefix = "Patchboard Ring - "
)

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
)

// Connector reads the directory from Microsoft Graph and writes the ring
// groups back; it implements store.DirectorySource and store.RingWriter.
type Connector struct {
	client *Client
	cfg    Config
}

// New checks cfg and returns a connector. httpClient may be nil (the
// default client); tests pass their server's.
func New(cfg Config, httpClient *http.Client) (*Connector, error) {
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = DefaultLoginURL
	}
	if cfg.RingGroupPrefix == "" {
		cfg.RingGroupPrefix = DefaultRingGroupPrefix
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cfg.TenantID == "" {
		bad("PATCHBOARD_GRAPH_TENANT_ID is not set: give the directory (tenant) ID from the app registration's overview")
	} else if !guidRE.MatchString(cfg.TenantID) && !domainRE.MatchString(cfg.TenantID) {
		bad("PATCHBOARD_GRAPH_TENANT_ID %q is neither a GUID nor a domain name", cfg.TenantID)
	}
	if cfg.ClientID == "" {
		bad("PATCHBOARD_GRAPH_CLIENT_ID is not set: give the application (client) ID of the app registration")
	} else if !guidRE.MatchString(cfg.ClientID) {
		bad("PATCHBOARD_GRAPH_CLIENT_ID %q is not a GUID", cfg.ClientID)
	}
	var cert *certificate
	switch {
	case cfg.ClientSecret == "" && len(cfg.Certificate) == 0:
		bad("neither PATCHBOARD_GRAPH_CLIENT_SECRET (or _FILE) nor PATCHBOARD_GRAPH_CERTIFICATE_FILE is set: give one")
	case cfg.ClientSecret != "" && len(cfg.Certificate) > 0:
		bad("both a client secret and a certificate are set: give only one")
	case len(cfg.Certificate) > 0:
		var err error
		if cert, err = parseCertificate(cfg.Certificate); err != nil {
			bad("PATCHBOARD_GRAPH_CERTIFICATE_FILE: %s", err)
		}
	}
	if cfg.RegistrationGroup == "" {
		bad("PATCHBOARD_GRAPH_REGISTRATION_GROUP is not set: give the object ID of the Entra group that is the Device Registration group")
	} else if !guidRE.MatchString(cfg.RegistrationGroup) {
		bad("PATCHBOARD_GRAPH_REGISTRATION_GROUP %q is not a group object ID (a GUID)", cfg.RegistrationGroup)
	}
	for _, u := range []struct{ name, value string }{{"PATCHBOARD_GRAPH_URL", cfg.GraphURL}, {"PATCHBOARD_GRAPH_LOGIN_URL", cfg.LoginURL}} {
		p, err := url.Parse(u.value)
		if err != nil || p.Scheme != "https" || p.Host == "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" {
			bad("%s %q must be an https URL with no path, such as %s", u.name, u.value, map[bool]string{true: DefaultGraphURL, false: DefaultLoginURL}[u.name == "PATCHBOARD_GRAPH_URL"])
		}
	}
	if p := strings.TrimSpace(cfg.RingGroupPrefix); p == "" || len(cfg.RingGroupPrefix) > 200 {
		bad("PATCHBOARD_GRAPH_RING_GROUP_PREFIX must be 1 to 200 characters")
	}
	if len(problems) > 0 {
		return nil, errors.New("Microsoft Graph connector: " + strings.Join(problems, "; "))
	}
	graphURL := strings.TrimSuffix(cfg.GraphURL, "/")
	ts := &tokenSource{
		tokenURL: strings.TrimSuffix(cfg.LoginURL, "/") + "/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token",
		clientID: cfg.ClientID,
		scope:    graphURL + "/.default",
		secret:   cfg.ClientSecret,
		cert:     cert,
		http:     httpClient,
	}
	c, err := newClient(graphURL, httpClient, ts)
	if err != nil {
		return nil, err
	}
	cfg.RegistrationGroup = strings.ToLower(cfg.RegistrationGroup)
	return &Connector{client: c, cfg: cfg}, nil
}

// Client returns the connector's Graph client (its settings and request
// count).
func (g *Connector) Client() *Client { return g.client }

// CertificateExpiry is when the connector's certificate expires; zero
// when it signs in with a client secret (whose expiry only Entra knows).
func (g *Connector) CertificateExpiry() time.Time {
	if g.client.tokens.cert == nil {
		return time.Time{}
	}
	return g.client.tokens.cert.notAfter
}

var (
	_ store.PermissionNamer   = (*PermissionError)(nil)
	_ store.CredentialExpirer = (*TokenError)(nil)
	_ store.DirectorySource   = (*Connector)(nil)
	_ store.RingWriter        = (*Connector)(nil)
)
