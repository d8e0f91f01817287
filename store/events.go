package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// EventType names a change that webhooks and e-mail notifications report
// (SPEC §13). The value is the CloudEvents type.
type EventType string

// Event types. Device-level changes are batched: one event carries up to
// MaxEventChanges device changes, never one event per device.
const (
	EventDeviceTabChanged  EventType = "io.patchboard.device.tab_changed"
	EventDeviceRingChanged EventType = "io.patchboard.device.ring_changed"
	EventDiscoveryFinished EventType = "io.patchboard.discovery.finished"
	EventAlertRaised       EventType = "io.patchboard.alert.raised"
	EventAlertResolved     EventType = "io.patchboard.alert.resolved"
	EventReleaseOffered    EventType = "io.patchboard.release.offered"
	EventRingPaused        EventType = "io.patchboard.ring.paused"
	EventRingResumed       EventType = "io.patchboard.ring.resumed"
	EventSupportChanged    EventType = "io.patchboard.support.changed"
	MaxEventChanges                  = 500
)

// Event is one change to report. Data is marshalled to JSON as the event's
// payload; Subject names what it concerns.
type Event struct {
	Type    EventType
	Subject string
	Data    any
	At      time.Time
}

// SupportChange is the payload of EventSupportChanged: what happened to a
// support request, and to whom the e-mail about it goes.
type SupportChange struct {
	RequestID           int64  `json:"request_id"`
	Title               string `json:"title"`
	Change              string `json:"change"` // created, assigned, note, mitigated, reactivated, closed
	State               string `json:"state"`
	By                  string `json:"by"`
	PrimaryContactName  string `json:"primary_contact_name,omitempty"`
	PrimaryContactEmail string `json:"primary_contact_email,omitempty"`
}

// enqueueEvent writes e to the outbox inside tx, the transaction of the
// change it reports: committed together or not at all.
func enqueueEvent(ctx context.Context, tx *sql.Tx, e Event) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (type, subject, data, created_at) VALUES (?, ?, ?, ?)`,
		string(e.Type), e.Subject, string(data), at.UTC().Unix()); err != nil {
		return fmt.Errorf("enqueue %s event: %w", e.Type, err)
	}
	return nil
}

// DeviceChange is one device's move in a device event: its tab (the
// blade: ready, not-ready, not-registered, "" when off the blades) or its
// ring.
type DeviceChange struct {
	DeviceID     string `json:"device_id"`
	DisplayName  string `json:"display_name"`
	SerialNumber string `json:"serial_number,omitempty"`
	From         string `json:"from"`
	To           string `json:"to"`
}

// DeviceChanges is the payload of EventDeviceTabChanged and
// EventDeviceRingChanged: at most MaxEventChanges devices, and what moved
// them (a discovery run, an administrator's action).
type DeviceChanges struct {
	Cause   string         `json:"cause"`
	Count   int            `json:"count"`
	Changes []DeviceChange `json:"changes"`
}

// AlertChange is the payload of EventAlertRaised and EventAlertResolved.
type AlertChange struct {
	AlertID      int64  `json:"alert_id"`
	Type         string `json:"alert_type"`
	Subject      string `json:"subject,omitempty"`
	Area         Area   `json:"area"`
	Severity     string `json:"severity"`
	Title        string `json:"title"`
	WhatHappened string `json:"what_happened"`
	Action       string `json:"recommended_action"`
	WhoActs      string `json:"who_acts"`
	RaisedAt     string `json:"raised_at"`
	ResolvedAt   string `json:"resolved_at,omitempty"`
}

func alertChange(a Alert) AlertChange {
	c := AlertChange{AlertID: a.ID, Type: string(a.Type), Subject: a.Subject, Area: a.Area(),
		Severity: a.Severity.Label(), Title: a.Title, WhatHappened: a.WhatHappened, Action: a.Action,
		WhoActs: a.WhoActs.Label(), RaisedAt: a.RaisedAt.UTC().Format(time.RFC3339)}
	if !a.ResolvedAt.IsZero() {
		c.ResolvedAt = a.ResolvedAt.UTC().Format(time.RFC3339)
	}
	return c
}

// RingPauseChange is the payload of EventRingPaused and EventRingResumed.
type RingPauseChange struct {
	Ring   Ring       `json:"ring"`
	Kind   UpdateKind `json:"kind"`
	Reason string     `json:"reason,omitempty"`
	By     string     `json:"by"`
	Until  string     `json:"until,omitempty"`
}

// ReleaseOffer is the payload of EventReleaseOffered: a release reached a
// ring's offer date.
type ReleaseOffer struct {
	ReleaseID int64      `json:"release_id"`
	Name      string     `json:"name"`
	Kind      UpdateKind `json:"kind"`
	Ring      Ring       `json:"ring"`
	OfferedAt string     `json:"offered_at"`
}

// deviceEvents batches device changes of one type into events of at most
// MaxEventChanges, written in the transaction of the changes: a discovery
// that moves 20,000 devices writes 40 events, not 20,000.
type deviceEvents struct {
	typ     EventType
	cause   string
	at      time.Time
	pending []DeviceChange
}

func newDeviceEvents(typ EventType, cause string, at time.Time) *deviceEvents {
	return &deviceEvents{typ: typ, cause: cause, at: at}
}

// add queues one change, writing a full batch as an event.
func (b *deviceEvents) add(ctx context.Context, tx *sql.Tx, c DeviceChange) error {
	b.pending = append(b.pending, c)
	if len(b.pending) < MaxEventChanges {
		return nil
	}
	return b.flush(ctx, tx)
}

// flush writes what is queued as one event; nothing when nothing is.
func (b *deviceEvents) flush(ctx context.Context, tx *sql.Tx) error {
	if len(b.pending) == 0 {
		return nil
	}
	err := enqueueEvent(ctx, tx, Event{Type: b.typ, Subject: b.cause, At: b.at,
		Data: DeviceChanges{Cause: b.cause, Count: len(b.pending), Changes: b.pending}})
	b.pending = nil // the event holds the slice; the next batch starts a new one
	return err
}

// Area is the area of focus whose admin contacts hear about the alert:
// Updates for the rings and releases, Devices for everything else.
func (a Alert) Area() Area {
	switch a.Type {
	case AlertContactMissing:
		return Area(a.Subject)
	case AlertTestRingBelowMin:
		return AreaUpdates
	}
	return AreaDevices
}

// DiscoveryFinished is the payload of EventDiscoveryFinished.
type DiscoveryFinished struct {
	RunID               int64  `json:"run_id"`
	Trigger             string `json:"trigger"`
	State               string `json:"state"`
	StartedAt           string `json:"started_at"`
	FinishedAt          string `json:"finished_at"`
	Candidates          int    `json:"candidates"`
	Registered          int    `json:"registered"`
	PrerequisitesFailed int    `json:"prerequisites_failed"`
	StatusChanges       int    `json:"status_changes"`
	Error               string `json:"error,omitempty"`
}

func discoveryFinished(r DiscoveryRun) DiscoveryFinished {
	return DiscoveryFinished{RunID: r.ID, Trigger: string(r.Trigger), State: string(r.State),
		StartedAt: r.StartedAt.UTC().Format(time.RFC3339), FinishedAt: r.FinishedAt.UTC().Format(time.RFC3339),
		Candidates: r.Candidates, Registered: r.Registered, PrerequisitesFailed: r.PrerequisitesFailed,
		StatusChanges: r.StatusChanges, Error: r.Error}
}

// offerNewsWindow is how far back an offer is still news: a database that
// gains the outbox announces this week's offers, not every past one.
const offerNewsWindow = 7 * day

// announceOffers writes EventReleaseOffered once for each quality release a
// ring has been offered since the last recomputation. release_offer_events
// remembers what was announced, so each offer is told once.
func announceOffers(ctx context.Context, tx *sql.Tx, pol *updatePolicy) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO release_offer_events (release_id, ring, at) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("announce offers: %w", err)
	}
	defer stmt.Close()
	for _, ring := range Rings {
		plan := pol.quality[ring]
		if plan == nil {
			continue
		}
		for i, o := range plan.offers {
			if !o.Offered() || o.OfferAt.Before(pol.now.Add(-offerNewsWindow)) || i >= len(pol.releases) {
				continue
			}
			r := pol.releases[i]
			res, err := stmt.ExecContext(ctx, r.ID, string(ring), pol.now.Unix())
			if err != nil {
				return fmt.Errorf("announce offers: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // told before
			}
			if err := enqueueEvent(ctx, tx, Event{Type: EventReleaseOffered, Subject: r.Name, At: pol.now,
				Data: ReleaseOffer{ReleaseID: r.ID, Name: r.Name, Kind: KindQuality, Ring: ring,
					OfferedAt: o.OfferAt.UTC().Format(time.RFC3339)}}); err != nil {
				return err
			}
		}
	}
	return announcePauseEnds(ctx, tx, pol)
}

// announcePauseEnds writes EventRingResumed once for each pause that ended
// by itself (MaxPause after it began) rather than by an administrator.
func announcePauseEnds(ctx context.Context, tx *sql.Tx, pol *updatePolicy) error {
	for _, p := range pol.pauses {
		if !p.ResumedAt.IsZero() || p.Until.After(pol.now) || p.Until.Before(pol.now.Add(-offerNewsWindow)) {
			continue
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO pause_end_events (pause_id) VALUES (?)`, p.ID)
		if err != nil {
			return fmt.Errorf("announce pause ends: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // told before
		}
		if err := enqueueEvent(ctx, tx, Event{Type: EventRingResumed, Subject: string(p.Ring), At: p.Until,
			Data: RingPauseChange{Ring: p.Ring, Kind: p.Kind, Reason: p.Reason, By: AlertActor,
				Until: p.Until.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
	}
	return nil
}
