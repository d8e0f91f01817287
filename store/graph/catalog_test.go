package graph_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// catalogTenant is a tenant whose syncs read the Windows Update catalog,
// holding a Patch Tuesday release, an out-of-band fix, a feature update and
// a release too old to matter.
func catalogTenant(t *testing.T) (*tenant, time.Time) {
	tn := newTenant(t)
	tn.st.SetReleaseCatalog(tn.conn)
	tn.srv.PageCap = 1 // every entry on a page of its own: the read follows the links
	today := time.Now().UTC().Truncate(24 * time.Hour)
	tn.srv.PutCatalogEntry(graphtest.CatalogEntry{ID: "qu-b", ShortName: "2026.12 B", DisplayName: "12/08/2026 - 2026.12 B Security Updates for Windows 10 and later",
		Released: today.AddDate(0, 0, -10).Add(17 * time.Hour), Classification: "security", Cadence: "monthly", Expeditable: true,
		Revisions: []string{"26100.7462", "22631.6345", "19045.6691", "26100.7400"}})
	tn.srv.PutCatalogEntry(graphtest.CatalogEntry{ID: "qu-oob", DisplayName: "12/12/2026 - 2026.12 OOB Updates for Windows 10 and later",
		Released: today.AddDate(0, 0, -6), Classification: "nonSecurity", Cadence: "outOfBand", Revisions: []string{"26100.7470"}})
	tn.srv.PutCatalogEntry(graphtest.CatalogEntry{ID: "fu-24h2", Feature: true, DisplayName: "Windows 11, version 24H2", ShortName: "24H2",
		Released: today.AddDate(0, 0, -3)})
	tn.srv.PutCatalogEntry(graphtest.CatalogEntry{ID: "qu-old", ShortName: "2026.06 B", Released: today.AddDate(0, -6, 0),
		Classification: "security", Cadence: "monthly", Revisions: []string{"26100.4000"}})
	return tn, today
}

func releaseNamed(t *testing.T, st *store.Store, name string) store.Release {
	t.Helper()
	rel, err := st.Release(context.Background(), name)
	if err != nil {
		t.Fatalf("release %s: %v", name, err)
	}
	return rel
}

// A sync adds the catalog's quality updates of the last 90 days as releases:
// name, day, classification and one revision per build line; a second sync
// adds nothing more.
func TestCatalogReleasesRead(t *testing.T) {
	tn, today := catalogTenant(t)
	tn.sync()
	rels, err := tn.st.Releases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rels {
		names = append(names, r.Name)
	}
	if want := []string{"12/12/2026 - 2026.12 OOB Updates for Windows 10 and later", "2026.12 B"}; !slices.Equal(names, want) {
		t.Fatalf("releases %q, want %q (no feature update, nothing older than 90 days)", names, want)
	}
	b := releaseNamed(t, tn.st, "2026.12 B")
	if b.BuildsText() != "26100.7462, 22631.6345, 19045.6691" || !b.Date.Equal(today.AddDate(0, 0, -10)) ||
		b.Classification != store.ClassSecurity || b.CreatedBy != store.CatalogActor {
		t.Errorf("2026.12 B read as %s on %s, %s, by %s", b.BuildsText(), b.Date, b.Classification, b.CreatedBy)
	}
	if oob := rels[0]; oob.Classification != store.ClassOutOfBand || oob.BuildsText() != "26100.7470" {
		t.Errorf("the out-of-band fix read as %s %s", oob.Classification, oob.BuildsText())
	}
	if n := tn.srv.Requests("catalog"); n != 2 {
		t.Errorf("%d catalog requests, want 2 (one a page)", n)
	}

	tn.sync()
	if again, _ := tn.st.Releases(context.Background()); len(again) != 2 {
		t.Errorf("a second sync left %d releases, want 2", len(again))
	}
}

// A release an administrator entered under the catalog's name stays as
// entered; an expedited catalog release is not rewritten either.
func TestCatalogKeepsAdminReleases(t *testing.T) {
	tn, today := catalogTenant(t)
	ctx := context.Background()
	if _, err := tn.st.AddRelease(ctx, store.NewRelease{Name: "2026.12 B", Date: today.AddDate(0, 0, -9),
		Classification: store.ClassSecurity, Builds: []store.BuildRevision{{Build: 26100, Revision: 7463}}}, "admin@contoso.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	tn.sync()
	b := releaseNamed(t, tn.st, "2026.12 B")
	if b.BuildsText() != "26100.7463" || b.CreatedBy != "admin@contoso.com" || !b.Date.Equal(today.AddDate(0, 0, -9)) {
		t.Errorf("the administrator's release became %s on %s by %s", b.BuildsText(), b.Date, b.CreatedBy)
	}
	oob := "12/12/2026 - 2026.12 OOB Updates for Windows 10 and later"
	if _, err := tn.st.ExpediteRelease(ctx, oob, "admin@contoso.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	tn.srv.PutCatalogEntry(graphtest.CatalogEntry{ID: "qu-oob", DisplayName: oob, Released: today.AddDate(0, 0, -6),
		Classification: "nonSecurity", Cadence: "outOfBand", Revisions: []string{"26100.7471"}})
	tn.sync()
	if rel := releaseNamed(t, tn.st, oob); rel.BuildsText() != "26100.7470" || rel.ExpeditedAt.IsZero() {
		t.Errorf("the expedited release became %s (expedited %v)", rel.BuildsText(), rel.ExpeditedAt)
	}
}

// Without the permission the sync fails naming it, and applies nothing.
func TestCatalogNamesPermission(t *testing.T) {
	tn, _ := catalogTenant(t)
	tn.addPC(1)
	tn.srv.Inject(graphtest.Fault{Path: "/beta/admin/windows/updates/catalog/entries", Status: 403, Count: 1})
	_, err := tn.st.SyncDirectory(context.Background(), store.TriggerCLI, "test")
	var pe *graph.PermissionError
	if !errors.As(err, &pe) || pe.Permission != "WindowsUpdates.ReadWrite.All" || !strings.Contains(err.Error(), "Windows Update catalog") {
		t.Fatalf("error %v, want one naming the catalog and WindowsUpdates.ReadWrite.All", err)
	}
	if _, ok := tn.device(1); ok {
		t.Error("a failed sync applied the directory")
	}
	if rels, _ := tn.st.Releases(context.Background()); len(rels) != 0 {
		t.Errorf("a failed sync added %d releases", len(rels))
	}
	tn.sync()
	if rels, _ := tn.st.Releases(context.Background()); len(rels) != 2 {
		t.Errorf("the next sync added %d releases, want 2", len(rels))
	}
}
