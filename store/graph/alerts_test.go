package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"patchboard/store"
	"patchboard/store/graph"
	"patchboard/store/graph/graphtest"
)

// openAlert returns the open alert of the type and subject, or false.
func (tn *tenant) openAlert(typ store.AlertType, subject string) (store.Alert, bool) {
	tn.t.Helper()
	open, _, err := tn.st.Alerts(context.Background())
	if err != nil {
		tn.t.Fatal(err)
	}
	var found []store.Alert
	for _, a := range open {
		if a.Type == typ && a.Subject == subject {
			found = append(found, a)
		}
	}
	if len(found) > 1 {
		tn.t.Fatalf("alert %s/%s is open %d times", typ, subject, len(found))
	}
	if len(found) == 0 {
		return store.Alert{}, false
	}
	return found[0], true
}

// A sync refused for a missing permission raises a Critical alert naming
// the permission; it is not raised again by the next failure, and it
// resolves when a sync succeeds.
func TestAlertGraphPermissionMissing(t *testing.T) {
	tn := newTenant(t)
	tn.srv.Inject(graphtest.Fault{Path: "/v1.0/devices/delta", Status: 403, Count: 2})
	for range 2 {
		if _, err := tn.st.SyncDirectory(t.Context(), store.TriggerCLI, "test"); err == nil {
			t.Fatal("a sync refused with 403 succeeded")
		}
	}
	a, ok := tn.openAlert(store.AlertGraphFailing, "sync")
	if !ok {
		t.Fatal("no alert after a sync refused for a permission")
	}
	if a.Severity != store.SeverityCritical || !strings.Contains(a.Title, "Device.Read.All") ||
		!strings.Contains(a.Action, "Device.Read.All") || a.WhoActs != store.ActsCustomer {
		t.Errorf("alert %+v, want a Critical one naming Device.Read.All for the customer", a)
	}
	tn.sync()
	if _, ok := tn.openAlert(store.AlertGraphFailing, "sync"); ok {
		t.Error("the alert stayed open after a sync succeeded")
	}
}

// An expired client secret is named as such, not as a generic failure.
func TestAlertGraphSecretExpired(t *testing.T) {
	tn := newTenant(t)
	tn.srv.SecretExpired.Store(true)
	if _, err := tn.st.SyncDirectory(t.Context(), store.TriggerCLI, "test"); err == nil {
		t.Fatal("a sync with an expired secret succeeded")
	}
	a, ok := tn.openAlert(store.AlertGraphFailing, "sync")
	if !ok || a.Title != "Microsoft Graph credential expired" || !strings.Contains(a.WhatHappened, "AADSTS7000222") ||
		!strings.Contains(a.Action, "new client secret") {
		t.Fatalf("alert %+v (open %v), want the expired credential named", a, ok)
	}
	tn.srv.SecretExpired.Store(false)
	tn.sync()
	if _, ok := tn.openAlert(store.AlertGraphFailing, "sync"); ok {
		t.Error("the alert stayed open after a new secret worked")
	}
}

// The certificate's own expiry date is what the connector reports.
func TestCertificateExpiry(t *testing.T) {
	tn := newTenant(t)
	certPEM, _ := selfSigned(t)
	conn := tn.connector(func(c *graph.Config) { c.ClientSecret, c.Certificate = "", certPEM })
	if exp := conn.CertificateExpiry(); exp.Before(time.Now()) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("certificate expiry %v, want the certificate's NotAfter", exp)
	}
	if exp := tn.conn.CertificateExpiry(); !exp.IsZero() {
		t.Errorf("a secret's connector reports certificate expiry %v", exp)
	}
}

// A ring policy changed in Intune raises a drift alert for its ring; the
// Restore action writes Patchboard's settings back (audited with the
// person) and the alert resolves.
func TestAlertRingDriftAndRestore(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
		t.Fatal(err)
	}
	if _, ok := tn.openAlert(store.AlertRingSettingsDrift, string(store.RingFirst)); ok {
		t.Fatal("drift alert before any change in Intune")
	}
	tn.srv.EditPolicy("Patchboard Ring - First", func(p map[string]any) { p["deadlineForQualityUpdatesInDays"] = 0.0 })
	if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
		t.Fatal(err)
	}
	a, ok := tn.openAlert(store.AlertRingSettingsDrift, string(store.RingFirst))
	if !ok || !strings.Contains(a.WhatHappened, "deadlineForQualityUpdatesInDays: 2 → 0") || a.Severity != store.SeverityWarning {
		t.Fatalf("drift alert %+v (open %v)", a, ok)
	}
	if _, err := tn.st.RestoreRingSettings(ctx, "admin@example.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := tn.openAlert(store.AlertRingSettingsDrift, string(store.RingFirst)); ok {
		t.Error("the drift alert stayed open after Restore")
	}
	if num(tn.ringPolicy(store.RingFirst), "deadlineForQualityUpdatesInDays") != 2 {
		t.Error("Restore did not put Patchboard's deadline back")
	}
	entries, err := tn.st.AuditEntries(ctx, store.AuditFilter{Action: store.ActionAlertRestore})
	if err != nil || len(entries) != 1 || entries[0].Actor != "admin@example.com" {
		t.Errorf("restore audit %+v %v", entries, err)
	}
}

// A policy deleted in Intune is drift too; the write-back recreates it.
func TestAlertRingPolicyMissing(t *testing.T) {
	tn := newTenant(t)
	tn.st.SetUpdatePolicyWriter(tn.conn)
	ctx := context.Background()
	for range 2 {
		if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
			t.Fatal(err)
		}
		if _, ok := tn.openAlert(store.AlertRingSettingsDrift, string(store.RingBroad)); ok {
			t.Fatal("drift alert before any change in Intune")
		}
		tn.srv.DeletePolicy("Patchboard Ring - Broad")
		if _, err := tn.st.WriteBackRings(ctx, store.TriggerSchedule, "scheduler"); err != nil {
			t.Fatal(err)
		}
		a, ok := tn.openAlert(store.AlertRingSettingsDrift, string(store.RingBroad))
		if !ok || !strings.Contains(a.WhatHappened, "missing") {
			t.Fatalf("alert %+v (open %v), want the missing policy named", a, ok)
		}
		// The write-back that found it recreated it: the next one finds
		// nothing and resolves the alert; deleting it again raises a new one.
	}
}
