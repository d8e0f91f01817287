package main

import (
	"flag"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"patchboard/metrics"
	"patchboard/store"
	"patchboard/store/notify"
)

// notifyConfig is how notifications leave: SMTP from PATCHBOARD_SMTP_*
// (mail is off without PATCHBOARD_SMTP_HOST; the password from the
// environment or a file, never a flag), and the webhook dispatcher's
// request timeout and polling interval.
type notifyConfig struct {
	smtp           notify.SMTP
	digestHour     int
	webhookTimeout time.Duration
	every          time.Duration
}

func notifyFlags(e *env, fs *flag.FlagSet) *notifyConfig {
	c := &notifyConfig{}
	c.smtp.Host = e.getenv("PATCHBOARD_SMTP_HOST")
	c.smtp.Port = envInt(e, "PATCHBOARD_SMTP_PORT", 587)
	c.smtp.Username = e.getenv("PATCHBOARD_SMTP_USERNAME")
	c.smtp.From = e.getenv("PATCHBOARD_SMTP_FROM")
	c.smtp.TLS = strings.ToLower(envString(e, "PATCHBOARD_SMTP_TLS", notify.TLSStartTLS))
	fs.IntVar(&c.digestHour, "digest-hour", envInt(e, "PATCHBOARD_DIGEST_HOUR", notify.DefaultDigestHour), "UTC hour after which the daily digest is mailed")
	fs.DurationVar(&c.webhookTimeout, "webhook-timeout", envDuration(e, "PATCHBOARD_WEBHOOK_TIMEOUT", notify.DefaultTimeout), "how long a webhook request may take")
	fs.DurationVar(&c.every, "notify-every", envDuration(e, "PATCHBOARD_NOTIFY_EVERY", time.Second), "how often the outbox is looked at when idle")
	return c
}

// mail reports whether mail is configured.
func (c *notifyConfig) mail() bool { return c.smtp.Host != "" }

// load reads the SMTP password and checks the settings.
func (c *notifyConfig) load(e *env) error {
	if c.webhookTimeout < time.Second || c.every <= 0 || c.digestHour < 0 || c.digestHour > 23 {
		return usagef("--webhook-timeout must be at least 1s, --notify-every above 0 and --digest-hour 0 to 23")
	}
	if !c.mail() {
		return nil
	}
	var err error
	if c.smtp.Password, err = secret(e, "PATCHBOARD_SMTP_PASSWORD"); err != nil {
		return err
	}
	if err := c.smtp.Validate(); err != nil {
		return usagef("mail: %v", err)
	}
	return nil
}

// service builds the notifications' background work.
func (c *notifyConfig) service(st *store.Store, source string, m *metrics.Metrics, logger *slog.Logger) *notify.Service {
	s := &notify.Service{Store: st, Every: c.every, Log: logger,
		Webhooks: &notify.Webhooks{Store: st, Source: source, Log: logger, Observer: m,
			Client: &http.Client{Timeout: c.webhookTimeout}}}
	if c.mail() {
		s.Mailer = &notify.Mailer{Store: st, SMTP: c.smtp, DigestHour: c.digestHour, Log: logger, Observer: m}
	}
	return s
}
