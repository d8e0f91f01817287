package graphtest

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Windows Update catalog of the deployment service:
// GET /beta/admin/windows/updates/catalog/entries, as Microsoft documents
// it. Entries are listed newest first; a $filter of isof(…) and
// releaseDateTime ge … is applied, productRevisions are returned only when
// $expand asks for them, and the list is paged by $skip links.

// CatalogEntry is a quality (or, with Feature, a feature) update entry.
type CatalogEntry struct {
	ID             string
	DisplayName    string
	ShortName      string
	Released       time.Time
	Classification string // all, security, nonSecurity
	Cadence        string // monthly, outOfBand
	Expeditable    bool
	Feature        bool     // a featureUpdateCatalogEntry
	Revisions      []string // build.revision, e.g. 26100.7462
}

const (
	qualityType = "microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry"
	featureType = "microsoft.graph.windowsUpdates.featureUpdateCatalogEntry"
)

// PutCatalogEntry adds an entry to the catalog (or replaces the one with
// its ID).
func (s *Server) PutCatalogEntry(e CatalogEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.catalog {
		if s.catalog[i].ID == e.ID {
			s.catalog[i] = e
			return
		}
	}
	s.catalog = append(s.catalog, e)
}

var (
	isofRE  = regexp.MustCompile(`isof\('([A-Za-z.]+)'\)`)
	sinceRE = regexp.MustCompile(`releaseDateTime ge ([0-9T:Z.+-]+)`)
)

// serveCatalog answers the catalog; false: not its path.
func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/beta/admin/windows/updates/catalog/entries" {
		return false
	}
	s.count("catalog")
	q := r.URL.Query()
	filter := q.Get("$filter")
	var since time.Time
	if m := sinceRE.FindStringSubmatch(filter); m != nil {
		t, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+m[1]+" is not a DateTimeOffset.")
			return true
		}
		since = t
	}
	only := ""
	if m := isofRE.FindStringSubmatch(filter); m != nil {
		only = m[1]
	}
	expand := strings.Contains(q.Get("$expand"), "productRevisions")
	size, ok := s.pageSize(r, 50, 100)
	if !ok {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid $top value.")
		return true
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))

	s.mu.Lock()
	var match []CatalogEntry
	for _, e := range s.catalog {
		typ := qualityType
		if e.Feature {
			typ = featureType
		}
		if (only == "" || only == typ) && !e.Released.Before(since) {
			match = append(match, e)
		}
	}
	s.mu.Unlock()
	// Newest first, as $orderby=releaseDateTime desc asks.
	slices.SortStableFunc(match, func(a, b CatalogEntry) int { return b.Released.Compare(a.Released) })
	items := []any{}
	for i := skip; i < len(match) && len(items) < size; i++ {
		items = append(items, catalogDoc(match[i], expand))
	}
	body := map[string]any{"@odata.context": s.URL + "/beta/$metadata#admin/windows/updates/catalog/entries", "value": items}
	if skip+len(items) < len(match) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skip", strconv.Itoa(skip+len(items)))
		body["@odata.nextLink"] = s.link(r.URL.Path, next)
	}
	writeJSON(w, http.StatusOK, body)
	return true
}

// catalogDoc is an entry as Graph returns it.
func catalogDoc(e CatalogEntry, expand bool) map[string]any {
	if e.Feature {
		return map[string]any{"@odata.type": "#" + featureType, "id": e.ID, "displayName": e.DisplayName,
			"releaseDateTime": e.Released.UTC().Format(time.RFC3339), "deployableUntilDateTime": nil, "version": e.ShortName}
	}
	doc := map[string]any{
		"@odata.type": "#" + qualityType, "id": e.ID, "displayName": e.DisplayName, "shortName": e.ShortName,
		"releaseDateTime": e.Released.UTC().Format(time.RFC3339), "deployableUntilDateTime": nil,
		"isExpeditable": e.Expeditable, "qualityUpdateClassification": e.Classification, "qualityUpdateCadence": e.Cadence,
		"catalogName": e.DisplayName,
	}
	if !expand {
		return doc
	}
	revs := []any{}
	for _, br := range e.Revisions {
		build, rev, _ := strings.Cut(br, ".")
		b, _ := strconv.Atoi(build)
		n, _ := strconv.Atoi(rev)
		product := "Windows 11"
		if b < 22000 {
			product = "Windows 10"
		}
		revs = append(revs, map[string]any{
			"@odata.type": "#microsoft.graph.windowsUpdates.productRevision",
			"id":          "10.0." + br, "displayName": product + ", build " + br, "product": product,
			"releaseDateTime": e.Released.UTC().Format(time.RFC3339), "version": "",
			"osBuild": map[string]any{"majorVersion": 10, "minorVersion": 0, "buildNumber": b, "updateBuildRevision": n},
		})
	}
	doc["productRevisions"] = revs
	return doc
}
