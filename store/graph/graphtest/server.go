// Package graphtest is a Microsoft Graph and Microsoft identity platform
// stand-in for tests: an HTTPS server that answers the requests of
// Patchboard's Graph connector the way Microsoft's documentation shows them
// (client credentials tokens that expire, paging by @odata.nextLink with
// page size limits, delta queries with @odata.deltaLink, @removed and lost
// tokens, JSON $batch with per-request results, 429 with Retry-After, 503).
// Tests change the tenant through its methods and inject faults.
//
// It is imported by tests only and never ships in the binary.
package graphtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tenant IDs and credentials the server accepts.
const (
	TenantID     = "8f1c2b7e-4d1a-4a55-9f0e-2f6c1d9b7a10"
	ClientID     = "5b3f0c9a-21e4-4c8b-a6a0-7d2e9f1b3c44"
	ClientSecret = "test-client-secret-value"
)

// Device is an Entra ID device object (v1.0 device resource).
type Device struct {
	ID                     string            `json:"id"`
	DeviceID               string            `json:"deviceId"`
	DisplayName            string            `json:"displayName"`
	OperatingSystem        string            `json:"operatingSystem"`
	OperatingSystemVersion string            `json:"operatingSystemVersion"`
	TrustType              string            `json:"trustType"`
	AccountEnabled         bool              `json:"accountEnabled"`
	DeviceOwnership        string            `json:"deviceOwnership"`
	EnrollmentProfileName  *string           `json:"enrollmentProfileName"`
	EnrollmentType         *string           `json:"enrollmentType"`
	Manufacturer           *string           `json:"manufacturer"`
	Model                  *string           `json:"model"`
	PhysicalIDs            []string          `json:"physicalIds"`
	ProfileType            string            `json:"profileType"`
	SystemLabels           []string          `json:"systemLabels"`
	ExtensionAttributes    map[string]string `json:"extensionAttributes"`
	DeviceCategory         *string           `json:"deviceCategory"`
	ManagementType         *string           `json:"managementType"`
	MDMAppID               *string           `json:"mdmAppId"`
}

// ManagedDevice is an Intune managed device (beta managedDevice resource).
type ManagedDevice struct {
	ID                     string           `json:"id"`
	AzureADDeviceID        string           `json:"azureADDeviceId"`
	DeviceName             string           `json:"deviceName"`
	ManagedDeviceOwnerType string           `json:"managedDeviceOwnerType"`
	ManagementAgent        string           `json:"managementAgent"`
	LastSyncDateTime       string           `json:"lastSyncDateTime"`
	OperatingSystem        string           `json:"operatingSystem"`
	OSVersion              string           `json:"osVersion"`
	SerialNumber           string           `json:"serialNumber"`
	Manufacturer           string           `json:"manufacturer"`
	Model                  string           `json:"model"`
	SKUFamily              string           `json:"skuFamily"`
	SKUNumber              int              `json:"skuNumber"`
	ProcessorArchitecture  string           `json:"processorArchitecture"`
	EnabledFeatures        *EnabledFeatures `json:"configurationManagerClientEnabledFeatures"`
}

// EnabledFeatures are the co-management workloads switched to Intune.
type EnabledFeatures struct {
	Inventory                bool `json:"inventory"`
	ModernApps               bool `json:"modernApps"`
	ResourceAccess           bool `json:"resourceAccess"`
	DeviceConfiguration      bool `json:"deviceConfiguration"`
	CompliancePolicy         bool `json:"compliancePolicy"`
	WindowsUpdateForBusiness bool `json:"windowsUpdateForBusiness"`
	EndpointProtection       bool `json:"endpointProtection"`
	OfficeApps               bool `json:"officeApps"`
}

// CloudPC is a Windows 365 Cloud PC (v1.0 cloudPC resource).
type CloudPC struct {
	ID               string `json:"id"`
	AADDeviceID      string `json:"aadDeviceId"`
	ManagedDeviceID  string `json:"managedDeviceId"`
	DisplayName      string `json:"displayName"`
	ProvisioningType string `json:"provisioningType"`
}

// Group is a security group.
type Group struct {
	ID          string
	DisplayName string
	Members     []string // object IDs of devices and groups
}

// Fault is an injected failure: the next Count requests whose path starts
// with Path get Status (and Retry-After when not empty).
type Fault struct {
	Path       string
	Status     int
	RetryAfter string
	Count      int
}

type deviceDoc struct {
	dev     Device
	created int64            // when it was created: every property's change until it is updated
	propSeq map[string]int64 // when each updated property last changed; nil until an update
	seq     int64            // the latest change
}

// changedAt is when a property last changed.
func (d *deviceDoc) changedAt(prop string) int64 {
	if s, ok := d.propSeq[prop]; ok {
		return s
	}
	return d.created
}

type tombstone struct {
	id  string
	seq int64
}

type cursor struct {
	kind    string // "delta", "managed", "cloudpcs", "members"
	ids     []string
	pos     int
	size    int
	from    int64 // delta: changes after this
	to      int64 // delta: the round's token
	context string
	items   []json.RawMessage // groupdelta: the round's items, built at its start
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server

	// TokenLifetime is how long an access token lives (default 1 hour).
	TokenLifetime time.Duration
	// PageCap, when set, caps every page below what a request asks for (the
	// service may always return fewer items than asked).
	PageCap int
	// CertificateKey, when set, is accepted for client assertions instead of
	// the client secret.
	CertificateKey *rsa.PublicKey
	// SecretExpired makes the token endpoint refuse the client secret as
	// expired (AADSTS7000222).
	SecretExpired atomic.Bool

	mu         sync.Mutex
	seq        int64
	devices    map[string]*deviceDoc
	order      []string
	tombs      []tombstone
	minToken   int64 // delta tokens below this are gone (410)
	managed    []*ManagedDevice
	managedAt  map[string]int // managed device ID -> index in managed
	cloudPCs   []*CloudPC
	groups     map[string]*Group
	memberSets map[string]map[string]bool // group ID -> its members, built when a batch needs it
	groupOrder []string
	cursors    map[string]*cursor
	tokens     map[string]time.Time
	faults     []*Fault
	requests   map[string]int // by kind, for tests that count
	nextID     int
	batchHook  func(n int)
	batches    int
	throttleN  int // batch items to answer 429

	policies    map[string]*policyDoc // Intune policies and profiles by ID
	policyOrder []string

	catalog     []CatalogEntry   // the Windows Update catalog (catalog.go)
	groupNamed  map[string]int64 // group ID -> when its name last changed
	groupEvents []memberEvent    // every membership change, in order
	groupTombs  []tombstone      // deleted groups
	owners      map[string][]Owner
}

// New starts a stand-in; close it with Close.
func New() *Server {
	s := &Server{
		TokenLifetime: time.Hour,
		devices:       make(map[string]*deviceDoc),
		managedAt:     make(map[string]int),
		groups:        make(map[string]*Group),
		memberSets:    make(map[string]map[string]bool),
		cursors:       make(map[string]*cursor),
		tokens:        make(map[string]time.Time),
		requests:      make(map[string]int),
		policies:      make(map[string]*policyDoc),
		groupNamed:    make(map[string]int64),
		owners:        make(map[string][]Owner),
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL of both Graph and the login service.
func (s *Server) BaseURL() string { return s.Server.URL }

// NewID returns a fresh GUID-shaped object ID.
func (s *Server) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newIDLocked()
}

func (s *Server) newIDLocked() string {
	s.nextID++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", s.nextID)
}

// PutDevice adds or replaces an Entra device. Properties that differ from the
// stored ones count as changed for delta queries.
func (s *Server) PutDevice(d Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	doc, ok := s.devices[d.ID]
	if !ok {
		doc = &deviceDoc{created: s.seq}
		s.devices[d.ID] = doc
		s.order = append(s.order, d.ID)
	} else {
		before, after := props(doc.dev), props(d)
		for k, v := range after {
			if string(before[k]) != string(v) {
				if doc.propSeq == nil {
					doc.propSeq = make(map[string]int64)
				}
				doc.propSeq[k] = s.seq
			}
		}
	}
	doc.dev, doc.seq = d, s.seq
}

// UpdateDevice changes an Entra device in place.
func (s *Server) UpdateDevice(id string, fn func(*Device)) {
	s.mu.Lock()
	doc := s.devices[id]
	s.mu.Unlock()
	if doc == nil {
		panic("graphtest: no device " + id)
	}
	d := doc.dev
	fn(&d)
	s.PutDevice(d)
}

// DeleteDevice deletes an Entra device: delta queries report it @removed.
func (s *Server) DeleteDevice(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	delete(s.devices, id)
	s.tombs = append(s.tombs, tombstone{id: id, seq: s.seq})
	for _, g := range s.groups {
		if s.isMember(g, id) {
			g.Members = without(g.Members, id)
			s.memberChanged(g.ID, id, true)
		}
	}
	clear(s.memberSets)
}

// Device returns a copy of a device.
func (s *Server) Device(id string) (Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc, ok := s.devices[id]
	if !ok {
		return Device{}, false
	}
	return doc.dev, true
}

// PutManagedDevice adds or replaces an Intune managed device (by ID).
func (s *Server) PutManagedDevice(m ManagedDevice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.managedAt[m.ID]; ok {
		s.managed[i] = &m
		return
	}
	s.managedAt[m.ID] = len(s.managed)
	s.managed = append(s.managed, &m)
}

// UpdateManagedDevice changes a managed device in place.
func (s *Server) UpdateManagedDevice(id string, fn func(*ManagedDevice)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.managedAt[id]
	if !ok {
		panic("graphtest: no managed device " + id)
	}
	m := *s.managed[i]
	fn(&m)
	s.managed[i] = &m
}

// PutCloudPC adds a Cloud PC.
func (s *Server) PutCloudPC(c CloudPC) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cloudPCs = append(s.cloudPCs, &c)
}

// PutGroup adds or replaces a group. What differs from the stored group
// (its name, each member added or removed) counts as changed for groups
// delta queries.
func (s *Server) PutGroup(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	old, ok := s.groups[g.ID]
	if !ok {
		s.groupOrder = append(s.groupOrder, g.ID)
		old = &Group{}
	}
	if old.DisplayName != g.DisplayName {
		s.groupNamed[g.ID] = s.seq
	}
	before := make(map[string]bool, len(old.Members))
	for _, m := range old.Members {
		before[m] = true
	}
	for _, m := range g.Members {
		if !before[m] {
			s.memberChanged(g.ID, m, false)
		}
		delete(before, m)
	}
	for m := range before {
		s.memberChanged(g.ID, m, true)
	}
	s.groups[g.ID] = &g
	delete(s.memberSets, g.ID)
}

// DeleteGroup deletes a group: groups delta queries report it @removed,
// and it leaves the groups it was a member of.
func (s *Server) DeleteGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	delete(s.groups, id)
	s.groupOrder = without(s.groupOrder, id)
	s.groupTombs = append(s.groupTombs, tombstone{id: id, seq: s.seq})
	for _, g := range s.groups {
		if s.isMember(g, id) {
			g.Members = without(g.Members, id)
			delete(s.memberSets[g.ID], id)
			s.memberChanged(g.ID, id, true)
		}
	}
}

// GroupByName returns a copy of the group with this display name.
func (s *Server) GroupByName(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.groupOrder {
		if g := s.groups[id]; g.DisplayName == name {
			c := *g
			c.Members = append([]string(nil), g.Members...)
			return c, true
		}
	}
	return Group{}, false
}

// ExpireDeltaTokens makes every delta link issued so far invalid (Graph
// answers 410 Gone with syncStateNotFound).
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.minToken = s.seq
}

// ExpireTokens makes every access token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Now().Add(-time.Second)
	}
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ThrottleBatchItems answers the next n $batch sub-requests 429 with
// Retry-After: 1, as Graph does when a batch's requests are throttled.
func (s *Server) ThrottleBatchItems(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleN = n
}

// OnBatch sets a function called before each $batch is executed with the
// batch's number (1, 2, …).
func (s *Server) OnBatch(fn func(n int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batchHook = fn
}

// Requests counts the requests of a kind served so far: "token", "delta",
// "managed", "cloudpcs", "group", "members", "groups", "create", "batch",
// "batch-item".
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

func without(ids []string, id string) []string {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func props(d Device) map[string]json.RawMessage {
	b, _ := json.Marshal(d)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	return m
}

// graphError writes Graph's error body.
func graphError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"innerError": map[string]string{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": "b6f8c5a2-0000-0000-0000-000000000000"},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		s.token(w, r)
		return
	}
	if f := s.fault(r.URL.Path); f != nil {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := map[int]string{429: "TooManyRequests", 503: "serviceNotAvailable", 504: "gatewayTimeout", 500: "generalException"}[f.Status]
		graphError(w, f.Status, code, "Injected fault.")
		return
	}
	if !s.authorized(r) {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return
	}
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/v1.0/devices/delta":
		s.devicesDelta(w, r)
	case r.Method == http.MethodGet && path == "/beta/deviceManagement/managedDevices":
		s.list(w, r, "managed", 1000)
	case r.Method == http.MethodGet && path == "/v1.0/deviceManagement/virtualEndpoint/cloudPCs":
		s.list(w, r, "cloudpcs", 1000)
	case r.Method == http.MethodGet && path == "/v1.0/groups":
		s.findGroups(w, r)
	case r.Method == http.MethodPost && path == "/v1.0/groups":
		s.createGroup(w, r)
	case r.Method == http.MethodPost && path == "/v1.0/$batch":
		s.batch(w, r)
	case r.Method == http.MethodGet && path == "/v1.0/groups/delta":
		s.groupsDelta(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1.0/groups/") && strings.HasSuffix(path, "/owners"):
		s.groupOwners(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/v1.0/groups/"), "/owners"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1.0/groups/") && strings.HasSuffix(path, "/members"):
		s.members(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/v1.0/groups/"), "/members"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1.0/groups/"):
		s.group(w, strings.TrimPrefix(path, "/v1.0/groups/"))
	case s.servePolicies(w, r):
	case s.serveCatalog(w, r):
	default:
		graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+path+"'.")
	}
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.requests[kind]++
	s.mu.Unlock()
}

func (s *Server) fault(path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if strings.HasPrefix(path, f.Path) {
			f.Count--
			if f.Count <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// token is the identity platform's token endpoint (client credentials).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	tokenErr := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{7000215}})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if r.URL.Path != "/"+TenantID+"/oauth2/v2.0/token" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})
		return
	}
	f := r.PostForm
	if f.Get("client_id") != ClientID {
		tokenErr("unauthorized_client", "AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory.")
		return
	}
	if f.Get("scope") != s.URL+"/.default" {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_scope", "error_description": "AADSTS1002012: The provided value for scope is not valid."})
		return
	}
	switch {
	case f.Get("client_assertion") != "":
		if s.CertificateKey == nil || !verifyAssertion(f.Get("client_assertion"), s.CertificateKey, "https://"+r.Host+r.URL.Path) {
			tokenErr("invalid_client", "AADSTS700027: Client assertion failed signature validation.")
			return
		}
	case f.Get("client_secret") != ClientSecret:
		tokenErr("invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	case s.SecretExpired.Load():
		tokenErr("invalid_client", "AADSTS7000222: The provided client secret keys for app '"+ClientID+"' are expired. Visit the Azure portal to create new keys for your app.")
		return
	}
	s.mu.Lock()
	s.nextID++
	tok := fmt.Sprintf("token-%d", s.nextID)
	s.tokens[tok] = time.Now().Add(s.TokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(s.TokenLifetime.Seconds()),
		"ext_expires_in": int(s.TokenLifetime.Seconds()), "access_token": tok})
}

func verifyAssertion(jwt string, key *rsa.PublicKey, aud string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return false
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Aud string `json:"aud"`
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	return json.Unmarshal(body, &c) == nil && c.Aud == aud && c.Iss == ClientID && c.Exp > time.Now().Unix()
}

// PublicKeyOf returns the RSA public key of a DER certificate.
func PublicKeyOf(der []byte) *rsa.PublicKey {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	k, _ := c.PublicKey.(*rsa.PublicKey)
	return k
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// pageSize reads the page size a request asks for: $top, or Prefer:
// odata.maxpagesize, capped at max; def when it asks for none.
func (s *Server) pageSize(r *http.Request, def, max int) (int, bool) {
	n, ok := askedPageSize(r, def, max)
	if s.PageCap > 0 {
		n = min(n, s.PageCap)
	}
	return n, ok
}

func askedPageSize(r *http.Request, def, max int) (int, bool) {
	n := def
	if v := r.URL.Query().Get("$top"); v != "" {
		t, err := strconv.Atoi(v)
		if err != nil || t < 1 || t > max {
			return 0, false
		}
		n = t
	}
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			if t, err := strconv.Atoi(v); err == nil && t > 0 {
				n = min(t, max)
			}
		}
	}
	return n, true
}

// link builds an absolute link on this server.
func (s *Server) link(path string, q url.Values) string {
	return s.URL + path + "?" + q.Encode()
}

func (s *Server) newCursor(c *cursor) string {
	s.nextID++
	tok := fmt.Sprintf("skip-%d", s.nextID)
	s.cursors[tok] = c
	return tok
}

// devicesDelta is GET /devices/delta: a round starts without a token (all
// devices) or with a $deltatoken (the changes since), and is paged by
// $skiptoken; its last page carries the next @odata.deltaLink.
func (s *Server) devicesDelta(w http.ResponseWriter, r *http.Request) {
	s.count("delta")
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *cursor
	if tok := q.Get("$skiptoken"); tok != "" {
		c = s.cursors[tok]
		if c == nil || c.kind != "delta" {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "The skip token is invalid.")
			return
		}
		delete(s.cursors, tok)
	} else {
		size, _ := s.pageSize(r, 100, 999)
		c = &cursor{kind: "delta", size: size, to: s.seq}
		if tok := q.Get("$deltatoken"); tok != "" {
			from, err := strconv.ParseInt(tok, 10, 64)
			if err != nil || from < s.minToken {
				graphError(w, http.StatusGone, "syncStateNotFound", "The sync state of the delta token is gone; start a new round without a token.")
				return
			}
			c.from = from
		}
		for _, id := range s.order {
			if doc, ok := s.devices[id]; ok && doc.seq > c.from {
				c.ids = append(c.ids, id)
			}
		}
		if c.from > 0 {
			for _, t := range s.tombs {
				if t.seq > c.from {
					c.ids = append(c.ids, "-"+t.id)
				}
			}
		}
		s.order = compact(s.order, s.devices)
	}
	items := make([]json.RawMessage, 0, c.size)
	for ; c.pos < len(c.ids) && len(items) < c.size; c.pos++ {
		id := c.ids[c.pos]
		if gone, ok := strings.CutPrefix(id, "-"); ok {
			items = append(items, json.RawMessage(`{"id":"`+gone+`","@removed":{"reason":"deleted"}}`))
			continue
		}
		doc, ok := s.devices[id]
		if !ok {
			continue
		}
		if c.from == 0 {
			b, _ := json.Marshal(doc.dev)
			items = append(items, b)
			continue
		}
		// An updated object: its id and the properties changed since.
		all := props(doc.dev)
		part := map[string]json.RawMessage{"id": all["id"]}
		for k, v := range all {
			if doc.changedAt(k) > c.from {
				part[k] = v
			}
		}
		b, _ := json.Marshal(part)
		items = append(items, b)
	}
	body := map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#devices", "value": items}
	if c.pos < len(c.ids) {
		body["@odata.nextLink"] = s.link("/v1.0/devices/delta", url.Values{"$skiptoken": {s.newCursor(c)}})
	} else {
		body["@odata.deltaLink"] = s.link("/v1.0/devices/delta", url.Values{"$deltatoken": {strconv.FormatInt(c.to, 10)}})
	}
	writeJSON(w, http.StatusOK, body)
}

// compact drops deleted IDs from the order (now and then, to keep it short).
func compact(order []string, live map[string]*deviceDoc) []string {
	if len(order) < 2*len(live)+16 {
		return order
	}
	out := order[:0]
	for _, id := range order {
		if live[id] != nil {
			out = append(out, id)
		}
	}
	return out
}

// list pages managed devices or Cloud PCs by $top (at most max) and
// $skiptoken.
func (s *Server) list(w http.ResponseWriter, r *http.Request, kind string, max int) {
	s.count(kind)
	q := r.URL.Query()
	s.mu.Lock()
	var c *cursor
	if tok := q.Get("$skiptoken"); tok != "" {
		c = s.cursors[tok]
		delete(s.cursors, tok)
	} else {
		size, ok := s.pageSize(r, max, max)
		if !ok {
			s.mu.Unlock()
			graphError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid $top value: at most %d.", max))
			return
		}
		c = &cursor{kind: kind, size: size}
		n := len(s.managed)
		if kind == "cloudpcs" {
			n = len(s.cloudPCs)
		}
		c.ids = make([]string, n) // positions only
	}
	if c == nil || c.kind != kind {
		s.mu.Unlock()
		graphError(w, http.StatusBadRequest, "BadRequest", "The skip token is invalid.")
		return
	}
	var items []any
	for ; c.pos < len(c.ids) && len(items) < c.size; c.pos++ {
		if kind == "managed" && c.pos < len(s.managed) {
			items = append(items, s.managed[c.pos])
		} else if kind == "cloudpcs" && c.pos < len(s.cloudPCs) {
			items = append(items, s.cloudPCs[c.pos])
		}
	}
	path := map[string]string{"managed": "/beta/deviceManagement/managedDevices", "cloudpcs": "/v1.0/deviceManagement/virtualEndpoint/cloudPCs"}[kind]
	body := map[string]any{"@odata.context": s.URL + path + "/$metadata", "value": items}
	if items == nil {
		body["value"] = []any{}
	}
	if c.pos < len(c.ids) {
		body["@odata.nextLink"] = s.link(path, url.Values{"$skiptoken": {s.newCursor(c)}})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) group(w http.ResponseWriter, id string) {
	s.count("group")
	s.mu.Lock()
	g, ok := s.groups[id]
	var name string
	if ok {
		name = g.DisplayName
	}
	s.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#groups(id,displayName)/$entity", "id": id, "displayName": name})
}

// members is GET /groups/{id}/members: directory objects with their
// @odata.type, paged by $top (at most 999, default 100).
func (s *Server) members(w http.ResponseWriter, r *http.Request, id string) {
	s.count("members")
	q := r.URL.Query()
	s.mu.Lock()
	var c *cursor
	if tok := q.Get("$skiptoken"); tok != "" {
		c = s.cursors[tok]
		delete(s.cursors, tok)
	} else {
		g, ok := s.groups[id]
		if !ok {
			s.mu.Unlock()
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist.")
			return
		}
		size, ok := s.pageSize(r, 100, 999)
		if !ok {
			s.mu.Unlock()
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: the maximum is 999.")
			return
		}
		c = &cursor{kind: "members", size: size, ids: append([]string(nil), g.Members...), context: id}
	}
	if c == nil || c.kind != "members" {
		s.mu.Unlock()
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The skip token is invalid.")
		return
	}
	items := []any{}
	for ; c.pos < len(c.ids) && len(items) < c.size; c.pos++ {
		mid := c.ids[c.pos]
		if doc, ok := s.devices[mid]; ok {
			items = append(items, map[string]any{"@odata.type": "#microsoft.graph.device", "id": mid, "displayName": doc.dev.DisplayName})
		} else if g, ok := s.groups[mid]; ok {
			items = append(items, map[string]any{"@odata.type": "#microsoft.graph.group", "id": mid, "displayName": g.DisplayName})
		}
	}
	body := map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#directoryObjects(id,displayName)", "value": items}
	if c.pos < len(c.ids) {
		body["@odata.nextLink"] = s.link("/v1.0/groups/"+c.context+"/members", url.Values{"$skiptoken": {s.newCursor(c)}})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// findGroups answers GET /groups?$filter=displayName eq '…'.
func (s *Server) findGroups(w http.ResponseWriter, r *http.Request) {
	s.count("groups")
	f := r.URL.Query().Get("$filter")
	name, ok := strings.CutPrefix(f, "displayName eq '")
	if !ok || !strings.HasSuffix(name, "'") {
		graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query.")
		return
	}
	name = strings.ReplaceAll(strings.TrimSuffix(name, "'"), "''", "'")
	s.mu.Lock()
	value := []any{}
	for _, id := range s.groupOrder {
		if g := s.groups[id]; g.DisplayName == name {
			value = append(value, map[string]any{"id": id, "displayName": g.DisplayName})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#groups(id,displayName)", "value": value})
}

// createGroup is POST /groups (201 with the group).
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	s.count("create")
	var body struct {
		DisplayName     string   `json:"displayName"`
		MailEnabled     *bool    `json:"mailEnabled"`
		MailNickname    string   `json:"mailNickname"`
		SecurityEnabled *bool    `json:"securityEnabled"`
		GroupTypes      []string `json:"groupTypes"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.DisplayName == "" || body.MailNickname == "" ||
		body.MailEnabled == nil || body.SecurityEnabled == nil {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "A value is required for property 'displayName', 'mailEnabled', 'mailNickname' and 'securityEnabled' of resource 'Group'.")
		return
	}
	s.mu.Lock()
	id := s.newIDLocked()
	s.groups[id] = &Group{ID: id, DisplayName: body.DisplayName}
	s.groupOrder = append(s.groupOrder, id)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#groups/$entity", "id": id,
		"displayName": body.DisplayName, "mailEnabled": false, "mailNickname": body.MailNickname, "securityEnabled": true, "groupTypes": []string{}})
}

// batch is POST /$batch: up to 20 requests, each answered with its own
// status; throttled ones carry Retry-After in their headers.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	s.count("batch")
	var body struct {
		Requests []struct {
			ID     string          `json:"id"`
			Method string          `json:"method"`
			URL    string          `json:"url"`
			Body   json.RawMessage `json:"body"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(body.Requests) > 20 {
		graphError(w, http.StatusBadRequest, "BadRequest", "Number of requests in batch exceeds the maximum of 20.")
		return
	}
	s.mu.Lock()
	s.batches++
	n, hook := s.batches, s.batchHook
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	type sub struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    any               `json:"body,omitempty"`
	}
	errBody := func(code, msg string) any {
		return map[string]any{"error": map[string]any{"code": code, "message": msg}}
	}
	var out []sub
	for _, q := range body.Requests {
		s.count("batch-item")
		res := sub{ID: q.ID, Headers: map[string]string{"Cache-Control": "no-cache"}}
		s.mu.Lock()
		throttled := s.throttleN > 0
		if throttled {
			s.throttleN--
		}
		s.mu.Unlock()
		if throttled {
			res.Status, res.Headers["Retry-After"] = 429, "1"
			res.Body = errBody("TooManyRequests", "Too many requests.")
			out = append(out, res)
			continue
		}
		path, _, _ := strings.Cut(q.URL, "?")
		parts := strings.Split(strings.Trim(path, "/"), "/")
		s.mu.Lock()
		switch {
		case q.Method == http.MethodPost && len(parts) == 4 && parts[0] == "groups" && parts[2] == "members" && parts[3] == "$ref":
			var ref struct {
				ID string `json:"@odata.id"`
			}
			json.Unmarshal(q.Body, &ref)
			g := s.groups[parts[1]]
			oid := ref.ID[strings.LastIndex(ref.ID, "/")+1:]
			switch {
			case g == nil || !strings.HasPrefix(ref.ID, s.URL+"/v1.0/directoryObjects/"):
				res.Status, res.Body = 404, errBody("Request_ResourceNotFound", "Resource does not exist.")
			case s.devices[oid] == nil && s.groups[oid] == nil:
				res.Status, res.Body = 404, errBody("Request_ResourceNotFound", "Resource '"+oid+"' does not exist.")
			case s.isMember(g, oid):
				res.Status, res.Body = 400, errBody("Request_BadRequest", "One or more added object references already exist for the following modified properties: 'members'.")
			default:
				g.Members = append(g.Members, oid)
				s.memberSets[g.ID][oid] = true
				s.seq++
				s.memberChanged(g.ID, oid, false)
				res.Status = 204
			}
		case q.Method == http.MethodDelete && len(parts) == 5 && parts[0] == "groups" && parts[2] == "members" && parts[4] == "$ref":
			g := s.groups[parts[1]]
			if g == nil || !s.isMember(g, parts[3]) {
				res.Status, res.Body = 404, errBody("Request_ResourceNotFound", "Resource '"+parts[3]+"' does not exist or one of its queried reference-property objects are not present.")
			} else {
				g.Members = without(g.Members, parts[3])
				delete(s.memberSets[g.ID], parts[3])
				s.seq++
				s.memberChanged(g.ID, parts[3], true)
				res.Status = 204
			}
		default:
			res.Status, res.Body = 400, errBody("BadRequest", "Unsupported request in batch.")
		}
		s.mu.Unlock()
		out = append(out, res)
	}
	// Graph answers a batch's requests in any order.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": out})
}

// isMember reports whether id is a member of group g (a set kept per group,
// so that a batch of additions to a 100,000-member group stays linear).
func (s *Server) isMember(g *Group, id string) bool {
	set, ok := s.memberSets[g.ID]
	if !ok {
		set = make(map[string]bool, len(g.Members))
		for _, m := range g.Members {
			set[m] = true
		}
		s.memberSets[g.ID] = set
	}
	return set[id]
}
