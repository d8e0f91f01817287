package views

import (
	"strings"

	"patchboard/store"
)

// ringPauses are the pauses of pauses that hold ring, quality first.
func ringPauses(pauses []store.Pause, ring store.Ring) []store.Pause {
	var out []store.Pause
	for _, p := range pauses {
		if p.Ring == ring {
			out = append(out, p)
		}
	}
	return out
}

// pausedText says, for each kind paused, who paused the ring, when, why and
// until when.
func pausedText(ps []store.Pause) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Kind.Label() + " updates: " + pauseText(p)
	}
	return strings.Join(parts, "; ")
}

// pausePills is the "Customer paused" pill the blade's ring cell shows for
// the devices of each paused ring, as escaped markup (devicerows.go writes
// it as it is). The pill can take the keyboard's focus; its details are in
// the pill's text for screen readers and shown on hover and focus.
func pausePills(pauses []store.Pause) map[store.Ring]string {
	if len(pauses) == 0 {
		return nil
	}
	out := make(map[store.Ring]string, len(store.Rings))
	for _, r := range store.Rings {
		ps := ringPauses(pauses, r)
		if len(ps) == 0 {
			continue
		}
		b := []byte(` <span class="pause-pill" tabindex="0" data-testid="cell-paused">Customer paused<span class="pause-tip" role="tooltip">`)
		b = appendEscaped(b, pausedText(ps))
		out[r] = string(append(b, `</span></span>`...))
	}
	return out
}
