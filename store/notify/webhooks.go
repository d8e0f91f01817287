package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"patchboard/store"
)

// Observer counts deliveries for /metrics: channel is "webhook" or
// "mail", result "ok" or "failed".
type Observer interface {
	CountDelivery(channel, result string)
}

// Envelope is a CloudEvents 1.0 event in the structured JSON mode: the body
// of every webhook request (Content-Type application/cloudevents+json).
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// envelope wraps an outbox event. The id is the outbox id, unique per
// source: a receiver drops a repeated id (deliveries are at least once).
func envelope(source string, e store.OutboxEvent) ([]byte, error) {
	return json.Marshal(Envelope{SpecVersion: "1.0", ID: strconv.FormatInt(e.ID, 10), Source: source,
		Type: string(e.Type), Time: e.At.UTC().Format(time.RFC3339), Subject: e.Subject,
		DataContentType: "application/json", Data: json.RawMessage(e.Data)})
}

// Defaults of the webhook dispatcher.
const (
	DefaultTimeout = 10 * time.Second
	DefaultBatch   = 200
)

// Webhooks delivers the outbox to the webhook subscriptions.
type Webhooks struct {
	Store *store.Store
	// Client sends the requests; its Timeout bounds every request
	// (DefaultTimeout when nil).
	Client *http.Client
	// Source is the CloudEvents source: the portal's address.
	Source   string
	Now      func() time.Time
	Log      *slog.Logger
	Observer Observer // may be nil
	// Batch is how many events one pass reads per subscription.
	Batch int
}

func (d *Webhooks) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Webhooks) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	return &http.Client{Timeout: DefaultTimeout}
}

func (d *Webhooks) batch() int {
	if d.Batch > 0 {
		return d.Batch
	}
	return DefaultBatch
}

// Pass sends what is due: the redeliveries administrators asked for, then
// each due subscription's next events in order, stopping at its first
// failure. more reports that a subscription has further events waiting.
func (d *Webhooks) Pass(ctx context.Context) (more bool, err error) {
	rs, err := d.Store.Redeliveries(ctx, d.batch())
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		del := d.post(ctx, r.URL, r.Secret, []byte(r.Body))
		del.WebhookID, del.EventID, del.EventType, del.Body, del.Attempt = r.WebhookID, r.EventID, r.EventType, r.Body, r.Attempt+1
		if err := d.Store.RecordRedelivery(ctx, r.ID, del); err != nil {
			return false, err
		}
	}
	ws, err := d.Store.DueWebhooks(ctx, d.now())
	if err != nil {
		return false, err
	}
	for _, w := range ws {
		full, err := d.deliver(ctx, w)
		if err != nil {
			return more, err
		}
		more = more || full
	}
	return more, nil
}

// deliver sends w's next events, in order, until one fails.
func (d *Webhooks) deliver(ctx context.Context, w store.Webhook) (full bool, err error) {
	events, err := d.Store.OutboxAfter(ctx, w.Cursor, d.batch())
	if err != nil {
		return false, err
	}
	o := store.DeliveryOutcome{Cursor: w.Cursor}
	attempt := w.Attempts + 1 // of the first event sent: it may have failed before
	for _, e := range events {
		if ctx.Err() != nil {
			break
		}
		if !w.Wants(e.Type) {
			o.Cursor = e.ID
			continue
		}
		body, err := envelope(d.Source, e)
		if err != nil {
			return false, fmt.Errorf("event %d: %w", e.ID, err)
		}
		del := d.post(ctx, w.URL, w.Secret, body)
		if ctx.Err() != nil {
			break // shutting down: not the receiver's failure; sent again at the next start
		}
		del.EventID, del.EventType, del.Body, del.Attempt = e.ID, e.Type, string(body), attempt
		o.Deliveries = append(o.Deliveries, del)
		attempt = 1
		if !del.OK() {
			o.Failed = true
			break
		}
		o.Cursor = e.ID
	}
	if o.Cursor == w.Cursor && !o.Failed {
		return false, nil // nothing sent (the context ended)
	}
	if err := d.Store.RecordDeliveries(context.WithoutCancel(ctx), w, o, d.now()); err != nil {
		return false, err
	}
	if o.Failed && d.Log != nil {
		last := o.Deliveries[len(o.Deliveries)-1]
		d.Log.Warn("webhook delivery failed", slog.Int64("webhook", w.ID), slog.Int64("event", last.EventID),
			slog.Int("status", last.StatusCode), slog.String("error", last.Error))
	}
	return len(events) == d.batch() && !o.Failed, nil
}

// post sends one signed envelope and says how it went. Only a 2xx answer is
// a delivery; anything else, a timeout included, is retried.
func (d *Webhooks) post(ctx context.Context, url, secret string, body []byte) store.WebhookDelivery {
	start := time.Now()
	del := store.WebhookDelivery{At: d.now()}
	defer func() {
		del.Duration = time.Since(start)
		if d.Observer != nil {
			result := "ok"
			if !del.OK() {
				result = "failed"
			}
			d.Observer.CountDelivery("webhook", result)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		del.Error = "the URL cannot be requested: " + err.Error()
		return del
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", "Patchboard-Webhooks/1")
	req.Header.Set(SignatureHeader, Sign(secret, d.now(), body))
	resp, err := d.client().Do(req)
	if err != nil {
		del.Error = err.Error()
		return del
	}
	defer func() { _ = resp.Body.Close() }() // the answer was read; closing cannot tell us more
	// Read a little of the answer so the connection is reused; the rest is
	// not ours to keep.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	del.StatusCode = resp.StatusCode
	if !del.OK() {
		del.Error = "the receiver answered " + resp.Status
	}
	return del
}
