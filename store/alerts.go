package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Severity is how urgent an alert is (SPEC §13). A Critical alert puts a
// banner on every page while it is open.
type Severity string

// Severities.
const (
	SeverityCritical    Severity = "critical"
	SeverityWarning     Severity = "warning"
	SeverityInformation Severity = "information"
)

// Label is the severity as the UI names it.
func (s Severity) Label() string {
	switch s {
	case SeverityCritical:
		return "Critical"
	case SeverityWarning:
		return "Warning"
	}
	return "Information"
}

// Responsible is who has to act on an alert: the customer or the service.
type Responsible string

// Who acts.
const (
	ActsCustomer Responsible = "customer"
	ActsService  Responsible = "service"
)

// Label is who acts as the UI names it.
func (w Responsible) Label() string {
	if w == ActsService {
		return "Service"
	}
	return "Customer"
}

// AlertType names the condition an alert reports.
type AlertType string

// Alert types Patchboard raises about the tenant.
const (
	AlertContactMissing    AlertType = "contact-missing"          // subject: the area
	AlertTestRingBelowMin  AlertType = "test-ring-below-minimum"  //
	AlertRegistrationEmpty AlertType = "registration-group-empty" //
	AlertDiscoveryFailed   AlertType = "discovery-failed"         //
	AlertTabJump           AlertType = "tab-jump"                 // subject: the tab
	AlertWebhookFailing    AlertType = "webhook-failing"          // subject: the subscription's id
)

// Audit actions of alerts; the actor is the service itself.
const (
	ActionAlertRaise   = "alert.raise"
	ActionAlertResolve = "alert.resolve"
	// AlertActor is the audit actor of alerts the service raises and resolves.
	AlertActor = "patchboard"
)

// DefaultJumpPercent is how much the Not ready or Not registered tab may
// grow at one discovery, in percent of the registered devices, before an
// alert is raised.
const DefaultJumpPercent = 5

// Alert is one tenant alert. It is open while ResolvedAt is zero.
type Alert struct {
	ID           int64
	Type         AlertType
	Subject      string // what instance of the condition: an area, a tab; "" when there is one
	Severity     Severity
	Title        string
	WhatHappened string
	Action       string // the recommended action
	WhoActs      Responsible
	Objects      string // the objects it concerns, by name
	Baseline     int    // for a jump: the tab's count before it
	RaisedAt     time.Time
	ResolvedAt   time.Time
}

// Open reports whether the alert's condition still holds.
func (a Alert) Open() bool { return a.ResolvedAt.IsZero() }

// alertKey is an open condition: one open alert per key.
type alertKey struct {
	typ     AlertType
	subject string
}

func (a Alert) key() alertKey { return alertKey{a.Type, a.Subject} }

// tenantFacts is what the alert rules look at.
type tenantFacts struct {
	contacts       map[Area]int
	counts         Counts
	regGroupExists bool
	regHasMembers  bool         // EXISTS, not a count: the group may have 100,000 members
	lastRun        DiscoveryRun // zero when discovery never ran
	afterDiscovery bool         // a completed discovery is what asks
	// prev holds the tab counts of the last evaluation after a discovery;
	// nil before the first.
	prev map[Tab]int
	// failingWebhooks are the subscriptions whose retries ran out.
	failingWebhooks []Webhook
	ops             operationsFacts // the facts of alertconditions.go
}

// jumpThreshold is how many devices a tab may grow by at one discovery
// without an alert: percent (the setting, DefaultJumpPercent unless
// changed) of the registered devices, at least 1.
func jumpThreshold(registered, percent int) int {
	return max(1, (registered*percent+99)/100)
}

// wantedAlerts decides which conditions hold, given the facts and the alerts
// open now. An open jump keeps its baseline: it holds until the tab is back
// within the threshold of where it was before the jump.
func wantedAlerts(f tenantFacts, open map[alertKey]Alert) []Alert {
	var out []Alert
	for _, area := range Areas {
		if f.contacts[area] == 0 {
			out = append(out, Alert{Type: AlertContactMissing, Subject: string(area), Severity: SeverityWarning,
				Title:        "No admin contact for " + area.Label(),
				WhatHappened: fmt.Sprintf("Nobody is named as the admin contact for %s, so nobody is told when something there needs attention.", area.Label()),
				Action:       fmt.Sprintf("Add an admin contact for %s under Tenant administration › Admin contacts.", area.Label()),
				WhoActs:      ActsCustomer, Objects: "Area " + area.Label()})
		}
	}
	if !f.regGroupExists || !f.regHasMembers {
		what := fmt.Sprintf("The %s group has no members, so discovery registers no devices.", RegistrationGroupName)
		if !f.regGroupExists {
			what = fmt.Sprintf("The %s group is missing, so discovery registers no devices.", RegistrationGroupName)
		}
		out = append(out, Alert{Type: AlertRegistrationEmpty, Severity: SeverityCritical,
			Title: "Device Registration group is empty", WhatHappened: what,
			Action:  fmt.Sprintf("Add the devices (or groups of devices) to register to the %s group.", RegistrationGroupName),
			WhoActs: ActsCustomer, Objects: RegistrationGroupName + " group"})
	}
	if reg := f.counts.Registered(); reg > 0 {
		if min := TestRingMinimum(reg); f.counts.Rings.Test < min {
			out = append(out, Alert{Type: AlertTestRingBelowMin, Severity: SeverityWarning,
				Title:        "Test ring below the recommended minimum",
				WhatHappened: fmt.Sprintf("The Test ring has %d devices; at least %d are recommended for %d registered devices.", f.counts.Rings.Test, min, reg),
				Action:       "Assign more devices to the Test ring, choosing ones that represent the fleet's hardware and software.",
				WhoActs:      ActsCustomer, Objects: "Test ring"})
		}
	}
	if f.lastRun.State == RunFailed {
		out = append(out, Alert{Type: AlertDiscoveryFailed, Severity: SeverityCritical,
			Title:        "Discovery failed",
			WhatHappened: fmt.Sprintf("Discovery run %d failed: %s. Devices' registration and readiness are not being updated.", f.lastRun.ID, f.lastRun.Error),
			Action:       "Check the server's log for the run and run Discover devices again; the alert resolves when a discovery completes.",
			WhoActs:      ActsService, Objects: fmt.Sprintf("Discovery run %d", f.lastRun.ID)})
	}
	for _, w := range f.failingWebhooks {
		out = append(out, Alert{Type: AlertWebhookFailing, Subject: fmt.Sprint(w.ID), Severity: SeverityWarning,
			Title:        "Webhook failing",
			WhatHappened: fmt.Sprintf("Events to %s have failed for %s since %s; they wait in the outbox and are tried again every hour.", w.URL, RetryWindow, w.RetryingSince.Format("2006-01-02 15:04 UTC")),
			Action:       "Check that the receiver is up and answers 2xx (its delivery log under Tenant administration › Webhooks shows what it answered), or delete the subscription.",
			WhoActs:      ActsCustomer, Objects: "Webhook " + w.URL})
	}
	threshold := jumpThreshold(f.counts.Registered(), f.ops.jumpPercent)
	for _, tab := range []Tab{TabNotReady, TabNotRegistered} {
		now := f.counts.Tab(tab)
		a, isOpen := open[alertKey{AlertTabJump, string(tab)}]
		base := a.Baseline
		switch {
		case isOpen:
			if now-base < threshold {
				continue // back within reach of where it was: cleared
			}
		case f.afterDiscovery && f.prev != nil && now-f.prev[tab] >= threshold:
			base = f.prev[tab]
		default:
			continue
		}
		label := tabLabel(tab)
		out = append(out, Alert{Type: AlertTabJump, Subject: string(tab), Severity: SeverityWarning,
			Title:        fmt.Sprintf("Jump in %s devices", label),
			WhatHappened: fmt.Sprintf("%s went from %d to %d devices at one discovery (an alert is raised at +%d, %d%% of the registered devices).", label, base, now, threshold, f.ops.jumpPercent),
			Action:       fmt.Sprintf("Open the %s tab and look at the checks the new devices fail; a policy or network change is the usual cause.", label),
			WhoActs:      ActsCustomer, Objects: label + " tab", Baseline: base})
	}
	return append(out, operationsAlerts(f.ops)...)
}

func tabLabel(t Tab) string {
	switch t {
	case TabNotReady:
		return "Not ready"
	case TabNotRegistered:
		return "Not registered"
	}
	return "Ready"
}

// EvaluateAlerts raises the tenant alerts whose conditions hold and resolves
// the open ones whose conditions cleared, as of now. afterDiscovery says a
// discovery just finished: only then is a jump in the tabs measured, and
// the tab counts kept as the next one's baseline.
func (s *Store) EvaluateAlerts(ctx context.Context, now time.Time, afterDiscovery bool) error {
	err := s.write(ctx, func(tx *sql.Tx) error { return evaluateAlerts(ctx, tx, now, afterDiscovery) })
	if err != nil {
		return fmt.Errorf("evaluate alerts: %w", err)
	}
	return nil
}

func evaluateAlerts(ctx context.Context, tx *sql.Tx, now time.Time, afterDiscovery bool) error {
	f, err := loadTenantFacts(ctx, tx, now)
	if err != nil {
		return err
	}
	f.afterDiscovery = afterDiscovery && f.lastRun.State == RunCompleted
	open, err := openAlerts(ctx, tx)
	if err != nil {
		return err
	}
	at := now.UTC().Truncate(time.Second)
	wanted := make(map[alertKey]bool)
	for _, a := range wantedAlerts(f, open) {
		wanted[a.key()] = true
		if _, ok := open[a.key()]; ok {
			continue // never raised twice while the condition is open
		}
		a.RaisedAt = at
		res, err := tx.ExecContext(ctx, `INSERT INTO alerts (type, subject, severity, title, what_happened, action, who_acts, objects, baseline, raised_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Type, a.Subject, a.Severity, a.Title, a.WhatHappened, a.Action, a.WhoActs, a.Objects, a.Baseline, at.Unix())
		if err != nil {
			return fmt.Errorf("raise alert: %w", err)
		}
		if a.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("raise alert: %w", err)
		}
		if err := enqueueEvent(ctx, tx, Event{Type: EventAlertRaised, Subject: string(a.Type), At: at, Data: alertChange(a)}); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: at, Actor: AlertActor, Action: ActionAlertRaise, Target: a.Title,
			Outcome: OutcomeSuccess, Detail: a.Severity.Label() + ": " + a.WhatHappened}, nil); err != nil {
			return err
		}
	}
	for k, a := range open {
		if wanted[k] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET resolved_at = ? WHERE id = ?`, at.Unix(), a.ID); err != nil {
			return fmt.Errorf("resolve alert: %w", err)
		}
		a.ResolvedAt = at
		if err := enqueueEvent(ctx, tx, Event{Type: EventAlertResolved, Subject: string(a.Type), At: at, Data: alertChange(a)}); err != nil {
			return err
		}
		if err := recordAudit(ctx, tx, AuditEntry{At: at, Actor: AlertActor, Action: ActionAlertResolve, Target: a.Title,
			Outcome: OutcomeSuccess, Detail: "the condition cleared"}, nil); err != nil {
			return err
		}
	}
	if f.afterDiscovery {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_baseline (id, not_ready, not_registered) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET not_ready = excluded.not_ready, not_registered = excluded.not_registered`,
			f.counts.Tab(TabNotReady), f.counts.Tab(TabNotRegistered)); err != nil {
			return fmt.Errorf("keep alert baseline: %w", err)
		}
	}
	return nil
}

// loadTenantFacts reads what the alert rules need: counters and a few
// single-row lookups, never a scan of the devices.
func loadTenantFacts(ctx context.Context, tx *sql.Tx, now time.Time) (tenantFacts, error) {
	f := tenantFacts{contacts: make(map[Area]int), ops: operationsFacts{now: now.UTC()}}
	var err error
	if f.counts, err = readCounts(ctx, tx); err != nil {
		return f, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT area, count(*) FROM admin_contacts GROUP BY area`)
	if err != nil {
		return f, fmt.Errorf("count contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Area
		var n int
		if err := rows.Scan(&a, &n); err != nil {
			return f, fmt.Errorf("count contacts: %w", err)
		}
		f.contacts[a] = n
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("count contacts: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM group_members WHERE group_id = g.id) FROM groups g WHERE g.builtin = 1`).Scan(&f.regHasMembers)
	switch {
	case err == nil:
		f.regGroupExists = true
	case !errors.Is(err, sql.ErrNoRows):
		return f, fmt.Errorf("registration group: %w", err)
	}
	f.lastRun, err = scanRun(tx.QueryRowContext(ctx, "SELECT "+runCols+" FROM discovery_runs WHERE state <> 'running' ORDER BY id DESC LIMIT 1"))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("last discovery: %w", err)
	}
	if f.failingWebhooks, err = failingWebhooks(ctx, tx); err != nil {
		return f, err
	}
	var nr, nreg int
	err = tx.QueryRowContext(ctx, `SELECT not_ready, not_registered FROM alert_baseline WHERE id = 1`).Scan(&nr, &nreg)
	switch {
	case err == nil:
		f.prev = map[Tab]int{TabNotReady: nr, TabNotRegistered: nreg}
	case !errors.Is(err, sql.ErrNoRows):
		return f, fmt.Errorf("alert baseline: %w", err)
	}
	return f, loadOperationsFacts(ctx, tx, &f.ops)
}

const alertCols = `id, type, subject, severity, title, what_happened, action, who_acts, objects, baseline, raised_at, resolved_at`

func scanAlert(rs rowScanner) (Alert, error) {
	var a Alert
	var raised int64
	var resolved sql.NullInt64
	err := rs.Scan(&a.ID, &a.Type, &a.Subject, &a.Severity, &a.Title, &a.WhatHappened, &a.Action, &a.WhoActs, &a.Objects, &a.Baseline, &raised, &resolved)
	a.RaisedAt, a.ResolvedAt = time.Unix(raised, 0).UTC(), fromUnix(resolved)
	return a, err
}

func openAlerts(ctx context.Context, tx *sql.Tx) (map[alertKey]Alert, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+alertCols+" FROM alerts WHERE resolved_at IS NULL")
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	defer rows.Close()
	out := make(map[alertKey]Alert)
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("open alerts: %w", err)
		}
		out[a.key()] = a
	}
	return out, rows.Err()
}

// maxResolvedAlerts bounds how many resolved alerts the list shows.
const maxResolvedAlerts = 200

// Alerts lists the open alerts, most severe and newest first, then the
// latest resolved ones, newest first.
func (s *Store) Alerts(ctx context.Context) (open, resolved []Alert, err error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+alertCols+` FROM (
		SELECT * FROM alerts WHERE resolved_at IS NULL
		UNION ALL
		SELECT * FROM (SELECT * FROM alerts WHERE resolved_at IS NOT NULL ORDER BY resolved_at DESC, id DESC LIMIT ?))
		ORDER BY resolved_at IS NOT NULL,
			CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END * (resolved_at IS NULL),
			coalesce(resolved_at, raised_at) DESC, id DESC`, maxResolvedAlerts)
	if err != nil {
		return nil, nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("alerts: %w", err)
		}
		if a.Open() {
			open = append(open, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	return open, resolved, rows.Err()
}

// OpenCriticalAlerts counts the open Critical alerts: the banner every page
// shows while there is one. It reads one small index.
func (s *Store) OpenCriticalAlerts(ctx context.Context) (int, error) {
	v, err := s.version(ctx)
	if err != nil {
		return 0, err
	}
	// Every signed-in page asks: kept until the next commit, as the
	// blade's counts are.
	return memoized(s, v, "critical-alerts", func() (int, error) {
		var n int
		err := s.queryRow(ctx, `SELECT count(*) FROM alerts WHERE resolved_at IS NULL AND severity = 'critical'`).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("open critical alerts: %w", err)
		}
		return n, nil
	})
}
