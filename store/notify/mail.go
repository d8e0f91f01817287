package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"patchboard/store"
)

// SMTP is how mail leaves: the server, the account and the sender address.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// TLS is "starttls" (upgrade a plain connection, required), "tls"
	// (implicit TLS, e.g. port 465) or "none".
	TLS string
	// TLSConfig verifies the server; nil uses the system's roots and Host.
	TLSConfig *tls.Config
}

// TLS modes.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// Validate says what is wrong with the configuration, naming the setting.
func (c SMTP) Validate() error {
	var errs []error
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PATCHBOARD_SMTP_PORT: %d is not a port number (587 for STARTTLS, 465 for TLS)", c.Port))
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		errs = append(errs, fmt.Errorf("PATCHBOARD_SMTP_TLS: %q is not one of starttls, tls, none", c.TLS))
	}
	if c.From == "" || !strings.Contains(c.From, "@") {
		errs = append(errs, errors.New("PATCHBOARD_SMTP_FROM: set the sender's address, such as patchboard@example.com"))
	}
	if c.Username != "" && c.Password == "" {
		errs = append(errs, errors.New("PATCHBOARD_SMTP_PASSWORD (or _PASSWORD_FILE): the account has no password"))
	}
	return errors.Join(errs...)
}

// DefaultDigestHour is the UTC hour after which the daily digest goes out.
const DefaultDigestHour = 7

// Mailer sends the outbox's alert and support request events, and the
// daily digest, to the admin contacts.
type Mailer struct {
	Store    *store.Store
	SMTP     SMTP
	Now      func() time.Time
	Log      *slog.Logger
	Observer Observer // may be nil
	// DigestHour is the UTC hour of the daily digest.
	DigestHour int
	// Timeout bounds one SMTP session.
	Timeout time.Duration
}

func (m *Mailer) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Pass sends the mails of the events after the sender's place, in order,
// and the daily digest when it is due. A failure backs off as webhooks do;
// mails of an event still failing after store.RetryWindow are given up and
// logged with the error.
func (m *Mailer) Pass(ctx context.Context) (more bool, err error) {
	now := m.now()
	st, err := m.Store.MailState(ctx)
	if err != nil {
		return false, err
	}
	if st.NextAttemptAt.After(now) {
		return false, nil
	}
	events, err := m.Store.OutboxAfter(ctx, st.Cursor, DefaultBatch)
	if err != nil {
		return false, err
	}
	contacts, err := m.Store.Contacts(ctx)
	if err != nil {
		return false, err
	}
	o := store.MailOutcome{Cursor: st.Cursor}
	for _, e := range events {
		msgs, recs := m.compose(e, contacts, now)
		if len(msgs) > 0 {
			if err := m.send(ctx, msgs); err != nil {
				giveUp := o.Cursor == st.Cursor && !st.RetryingSince.IsZero() && now.Sub(st.RetryingSince) >= store.RetryWindow
				if !giveUp {
					o.Failed = true
					m.logFailure(e.ID, err)
					break
				}
				for i := range recs {
					recs[i].Error = "given up after " + store.RetryWindow.String() + ": " + err.Error()
				}
			}
			o.Sent = append(o.Sent, recs...)
		}
		o.Cursor = e.ID
	}
	if !o.Failed {
		if day, recs, err := m.digest(ctx, contacts, now, st.DigestDay); err != nil {
			o.Failed = true
			m.logFailure(0, err)
		} else {
			o.DigestDay = day
			o.Sent = append(o.Sent, recs...)
		}
	}
	if o.Cursor == st.Cursor && !o.Failed && o.DigestDay == "" && st.Attempts == 0 {
		return false, nil
	}
	if err := m.Store.RecordMails(context.WithoutCancel(ctx), st, o, now); err != nil {
		return false, err
	}
	return len(events) == DefaultBatch && !o.Failed, nil
}

func (m *Mailer) logFailure(eventID int64, err error) {
	if m.Log != nil {
		m.Log.Warn("mail failed", slog.Int64("event", eventID), slog.String("error", err.Error()))
	}
}

// send delivers msgs in one SMTP session.
func (m *Mailer) send(ctx context.Context, msgs []*mail.Msg) error {
	c := m.SMTP
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(timeout)}
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if c.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(c.TLSConfig))
	}
	if c.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	client, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s:%d: %w", c.Host, c.Port, err)
	}
	err = client.DialAndSendWithContext(ctx, msgs...)
	result := "ok"
	if err != nil {
		result = "failed"
		err = fmt.Errorf("smtp %s:%d: %w", c.Host, c.Port, err)
	}
	if m.Observer != nil {
		for range msgs {
			m.Observer.CountDelivery("mail", result)
		}
	}
	return err
}

// compose builds the mails an event asks for, with their log records.
func (m *Mailer) compose(e store.OutboxEvent, contacts []store.Contact, now time.Time) ([]*mail.Msg, []store.MailRecord) {
	var msgs []*mail.Msg
	var recs []store.MailRecord
	add := func(kind string, to store.Contact, c content) {
		msg, err := m.message(to, c)
		rec := store.MailRecord{EventID: e.ID, Kind: kind, Recipient: to.Email, Language: to.Language, Subject: c.Subject, At: now}
		if err != nil {
			// A contact's address the mail library refuses cannot be
			// mended by retrying: logged, not sent.
			rec.Error = err.Error()
		} else {
			msgs = append(msgs, msg)
		}
		recs = append(recs, rec)
	}
	switch e.Type {
	case store.EventAlertRaised, store.EventAlertResolved:
		var a store.AlertChange
		if json.Unmarshal([]byte(e.Data), &a) != nil {
			return nil, nil
		}
		c := alertMail(e.Type == store.EventAlertResolved, a)
		for _, to := range contacts {
			if to.Area == a.Area {
				add(store.MailAlert, to, c)
			}
		}
	case store.EventSupportChanged:
		var s store.SupportChange
		if json.Unmarshal([]byte(e.Data), &s) != nil || s.PrimaryContactEmail == "" {
			return nil, nil
		}
		switch s.Change {
		case "created", "assigned", "mitigated":
		default:
			return nil, nil
		}
		to := store.Contact{Name: s.PrimaryContactName, Email: s.PrimaryContactEmail, Language: "en"}
		for _, c := range contacts {
			if strings.EqualFold(c.Email, to.Email) {
				to.Language = c.Language
			}
		}
		add(store.MailSupport, to, supportMail(s))
	}
	return msgs, recs
}

// digest sends each area's daily digest to its contacts once a day, after
// DigestHour. It returns the day sent ("" when none was due).
func (m *Mailer) digest(ctx context.Context, contacts []store.Contact, now time.Time, lastDay string) (string, []store.MailRecord, error) {
	today := now.Format(time.DateOnly)
	if lastDay == today || now.Hour() < m.DigestHour {
		return "", nil, nil
	}
	var msgs []*mail.Msg
	var recs []store.MailRecord
	for _, area := range store.Areas {
		var to []store.Contact
		for _, c := range contacts {
			if c.Area == area {
				to = append(to, c)
			}
		}
		if len(to) == 0 {
			continue
		}
		d, err := m.Store.Digest(ctx, area, now.Add(-24*time.Hour))
		if err != nil {
			return "", nil, err
		}
		c := digestMail(d, now)
		for _, contact := range to {
			msg, err := m.message(contact, c)
			rec := store.MailRecord{Kind: store.MailDigest, Recipient: contact.Email, Language: contact.Language, Subject: c.Subject, At: now}
			if err != nil {
				rec.Error = err.Error()
			} else {
				msgs = append(msgs, msg)
			}
			recs = append(recs, rec)
		}
	}
	if len(msgs) > 0 {
		if err := m.send(ctx, msgs); err != nil {
			return "", nil, err
		}
	}
	return today, recs, nil
}

// message makes one mail with its plain text and HTML parts. The mails are
// in English; the contact's language is recorded in the mail log.
func (m *Mailer) message(to store.Contact, c content) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(m.SMTP.From); err != nil {
		return nil, fmt.Errorf("sender %q: %w", m.SMTP.From, err)
	}
	addr := to.Email
	if to.Name != "" {
		addr = fmt.Sprintf("%q <%s>", to.Name, to.Email)
	}
	if err := msg.To(addr); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", to.Email, err)
	}
	msg.Subject(c.Subject)
	msg.SetMessageID()
	msg.SetDateWithValue(m.now())
	msg.SetGenHeader(mail.HeaderContentLang, "en")
	var text, html bytes.Buffer
	if err := c.render(&text, &html); err != nil {
		return nil, err
	}
	msg.SetBodyString(mail.TypeTextPlain, text.String())
	msg.AddAlternativeString(mail.TypeTextHTML, html.String())
	return msg, nil
}
