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
