package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"patchboard/store"
)

// The Windows Update catalog of the Windows Update for Business deployment
// service (a /beta resource): its quality update entries become releases
// (store.ReleaseCatalog). Each entry carries the product revisions it
// brings, one build number and update build revision per Windows build
// line (productRevisions, expanded in the same request).
const (
	catalogPermission = "WindowsUpdates.ReadWrite.All"
	catalogPath       = "beta/admin/windows/updates/catalog/entries"
	qualityEntryType  = "microsoft.graph.windowsUpdates.qualityUpdateCatalogEntry"
)

// catalogEntry is the part of a qualityUpdateCatalogEntry Patchboard reads.
type catalogEntry struct {
	ODataType      string    `json:"@odata.type"`
	ID             string    `json:"id"`
	DisplayName    string    `json:"displayName"`
	ShortName      string    `json:"shortName"`
	ReleaseDate    time.Time `json:"releaseDateTime"`
	Classification string    `json:"qualityUpdateClassification"` // all, security, nonSecurity
	Cadence        string    `json:"qualityUpdateCadence"`        // monthly, outOfBand
	Revisions      []struct {
		OSBuild struct {
			BuildNumber         int `json:"buildNumber"`
			UpdateBuildRevision int `json:"updateBuildRevision"`
		} `json:"osBuild"`
	} `json:"productRevisions"`
}

// QualityReleases lists the catalog's quality update entries released on or
// after since, mapped onto releases. Entries of other kinds (feature
// updates) are left out.
func (g *Connector) QualityReleases(ctx context.Context, since time.Time) ([]store.CatalogRelease, error) {
	q := url.Values{
		"$filter":  {fmt.Sprintf("isof('%s') and releaseDateTime ge %s", qualityEntryType, since.UTC().Format(time.RFC3339))},
		"$expand":  {qualityEntryType + "/productRevisions"},
		"$orderby": {"releaseDateTime desc"},
	}
	var out []store.CatalogRelease
	_, err := g.client.pages(ctx, request{method: http.MethodGet, path: catalogPath + "?" + q.Encode(), permission: catalogPermission},
		func(items []json.RawMessage) error {
			for _, raw := range items {
				var e catalogEntry
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("Microsoft Graph returned a Windows Update catalog entry Patchboard cannot read: %w", err)
				}
				if rel, ok := releaseOf(e); ok && !rel.Date.Before(since) {
					out = append(out, rel)
				}
			}
			return nil
		})
	return out, err
}

// releaseOf maps a catalog entry onto a release: its short name ("2026.12
// B", else the display name), its release day, out-of-band when the
// catalog says so (else security unless the entry is non-security), and
// the newest revision of each build line. ok is false for an entry that is
// not a quality update or names no build.
func releaseOf(e catalogEntry) (store.CatalogRelease, bool) {
	if strings.TrimPrefix(e.ODataType, "#") != qualityEntryType || e.ID == "" || e.ReleaseDate.IsZero() {
		return store.CatalogRelease{}, false
	}
	class := store.ClassSecurity
	switch {
	case strings.EqualFold(e.Cadence, "outOfBand"):
		class = store.ClassOutOfBand
	case strings.EqualFold(e.Classification, "nonSecurity"):
		class = store.ClassNonSecurity
	}
	rev := map[int]int{}
	var builds []store.BuildRevision
	for _, p := range e.Revisions {
		b, r := p.OSBuild.BuildNumber, p.OSBuild.UpdateBuildRevision
		if b <= 0 || r < 0 {
			continue
		}
		if i, seen := rev[b]; seen {
			builds[i].Revision = max(builds[i].Revision, r)
			continue
		}
		rev[b] = len(builds)
		builds = append(builds, store.BuildRevision{Build: b, Revision: r})
	}
	if len(builds) == 0 {
		return store.CatalogRelease{}, false
	}
	return store.CatalogRelease{CatalogID: e.ID, NewRelease: store.NewRelease{
		Name: catalogName(e.ShortName, e.DisplayName), Date: e.ReleaseDate.UTC().Truncate(24 * time.Hour),
		Classification: class, Builds: builds,
	}}, true
}

// catalogName is the short name when the catalog gives one, else the
// display name, cut to the 100 characters a release name may have.
func catalogName(short, display string) string {
	name := strings.TrimSpace(short)
	if name == "" {
		name = strings.TrimSpace(display)
	}
	if len(name) > 100 {
		name = strings.TrimSpace(strings.ToValidUTF8(name[:100], ""))
	}
	return name
}
