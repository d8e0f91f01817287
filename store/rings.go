package store

// Ring is a deployment ring (SPEC §5). Every registered device is in
// exactly one.
type Ring string

// Rings, from the earliest to receive updates to the last.
const (
	RingTest  Ring = "test"
	RingFirst Ring = "first"
	RingFast  Ring = "fast"
	RingBroad Ring = "broad"
)

// Rings lists every ring in UI order.
var Rings = []Ring{RingTest, RingFirst, RingFast, RingBroad}

// Label is the ring as the UI names it; "" for an unknown ring.
func (r Ring) Label() string {
	switch r {
	case RingTest:
		return "Test"
	case RingFirst:
		return "First"
	case RingFast:
		return "Fast"
	case RingBroad:
		return "Broad"
	}
	return ""
}

// ParseRing accepts a ring key or its label, trimmed and case-insensitively;
// a label is its key capitalised, so one comparison covers both.
func ParseRing(s string) (Ring, error) {
	for _, r := range Rings {
		if equalFoldTrim(s, string(r)) {
			return r, nil
		}
	}
	return "", invalidf("ring %q is not one of test, first, fast, broad", s)
}

// RingCounts are the number of registered devices in each ring.
type RingCounts struct{ Test, First, Fast, Broad int }

// Get returns the count of r; 0 for an unknown ring.
func (c RingCounts) Get(r Ring) int {
	switch r {
	case RingTest:
		return c.Test
	case RingFirst:
		return c.First
	case RingFast:
		return c.Fast
	case RingBroad:
		return c.Broad
	}
	return 0
}

// Add adds n (which may be negative, for a move) to the count of r; an
// unknown ring is ignored.
func (c *RingCounts) Add(r Ring, n int) {
	switch r {
	case RingTest:
		c.Test += n
	case RingFirst:
		c.First += n
	case RingFast:
		c.Fast += n
	case RingBroad:
		c.Broad += n
	}
}

// Total is the number of devices in all rings.
func (c RingCounts) Total() int { return c.Test + c.First + c.Fast + c.Broad }

// ringSmallFleet is the largest fleet that gets the small-fleet shares: a
// small fleet needs a larger First/Fast share so those rings are not empty.
const ringSmallFleet = 200

// ringPercents returns the First, Fast and Broad shares in whole percent.
// Integer percents let NextRing compare deficits exactly, so ties are real
// ties and not floating-point noise.
func ringPercents(n int) (first, fast, broad int) {
	if n <= ringSmallFleet {
		return 5, 15, 80
	}
	return 1, 9, 90
}

// RingTargets returns the target device counts (fractional) for First, Fast,
// Broad given N registered devices: N ≤ 200 → 5/15/80 %, N > 200 →
// 1/9/90 %. N ≤ 0 has no targets.
func RingTargets(n int) (first, fast, broad float64) {
	if n <= 0 {
		return 0, 0, 0
	}
	pf, pa, pb := ringPercents(n)
	return float64(n*pf) / 100, float64(n*pa) / 100, float64(n*pb) / 100
}

// NextRing picks the ring for one newly registered device: the one of
// First/Fast/Broad whose count is furthest below its target (target − count,
// largest wins; ties First, then Fast, then Broad). Never Test: the Test ring
// is chosen by admins, who know which devices they can afford to break.
func NextRing(c RingCounts, n int) Ring {
	if n < 0 {
		n = 0
	}
	pf, pa, pb := ringPercents(n)
	// Deficits scaled by 100 to stay in integers.
	best, bestDef := RingFirst, n*pf-100*c.First
	if d := n*pa - 100*c.Fast; d > bestDef {
		best, bestDef = RingFast, d
	}
	if d := n*pb - 100*c.Broad; d > bestDef {
		best = RingBroad
	}
	return best
}

// AssignRings places k new devices one after another starting from counts
// c, with n = the registered total after all new ones are counted; it
// returns the rings in order and the updated counts. Deterministic, and O(k)
// so that registering a whole fleet at once is cheap. k ≤ 0 assigns nothing.
func AssignRings(c RingCounts, n, k int) ([]Ring, RingCounts) {
	if k <= 0 {
		return nil, c
	}
	out := make([]Ring, k)
	for i := range out {
		r := NextRing(c, n)
		out[i] = r
		c.Add(r, 1)
	}
	return out, c
}

// TestRingMinimum is the recommended minimum number of Test devices for a
// fleet of registered devices: 1 under 500, 5 up to 5,000, 50 above. The
// blade warns when the Test ring is below it.
func TestRingMinimum(registered int) int {
	switch {
	case registered < 500:
		return 1
	case registered <= 5000:
		return 5
	}
	return 50
}
