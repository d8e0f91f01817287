package notify

import (
	"context"
	"log/slog"
	"time"

	"patchboard/store"
)

// Service runs the webhook dispatcher and the mailer in the background.
type Service struct {
	Store    *store.Store
	Webhooks *Webhooks
	Mailer   *Mailer // nil when mail is not configured
	// Every is how often the outbox is looked at when it is idle.
	Every time.Duration
	Log   *slog.Logger
}

// pruneEvery is how often delivered events are removed from the outbox.
const pruneEvery = time.Minute

// Run delivers until ctx ends. Nothing a delivery does can stop it: errors
// are logged and the next pass retries.
func (s *Service) Run(ctx context.Context) {
	every := s.Every
	if every <= 0 {
		every = time.Second
	}
	lastPrune := time.Time{}
	for ctx.Err() == nil {
		more := false
		if m, err := s.Webhooks.Pass(ctx); err != nil {
			s.logErr("webhooks", err)
		} else {
			more = m
		}
		if s.Mailer != nil {
			if m, err := s.Mailer.Pass(ctx); err != nil {
				s.logErr("mail", err)
			} else {
				more = more || m
			}
		}
		if time.Since(lastPrune) >= pruneEvery {
			lastPrune = time.Now()
			if _, err := s.Store.PruneOutbox(ctx, time.Now(), s.Mailer != nil); err != nil {
				s.logErr("prune", err)
			}
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

func (s *Service) logErr(what string, err error) {
	if s.Log != nil {
		s.Log.Error("notify: "+what, slog.String("error", err.Error()))
	}
}
