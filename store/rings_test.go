package store

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseRing(t *testing.T) {
	tests := []struct {
		give    string
		want    Ring
		wantErr bool
	}{
		{give: "test", want: RingTest},
		{give: "First", want: RingFirst},
		{give: " FAST ", want: RingFast},
		{give: "broad", want: RingBroad},
		{give: "", wantErr: true},
		{give: "canary", wantErr: true},
		{give: "first ring", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseRing(tt.give)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), "test, first, fast, broad") {
					t.Errorf("error %q does not name the allowed rings", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRing(%q) = %q, %v; want %q", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestRingLabel(t *testing.T) {
	tests := []struct {
		give Ring
		want string
	}{
		{RingTest, "Test"},
		{RingFirst, "First"},
		{RingFast, "Fast"},
		{RingBroad, "Broad"},
		{Ring("x"), ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.give), func(t *testing.T) {
			if got := tt.give.Label(); got != tt.want {
				t.Errorf("Label() = %q, want %q", got, tt.want)
			}
			if tt.want == "" {
				return
			}
			if r, err := ParseRing(tt.want); err != nil || r != tt.give {
				t.Errorf("ParseRing(label %q) = %q, %v", tt.want, r, err)
			}
		})
	}
}

func TestRingCounts(t *testing.T) {
	var c RingCounts
	c.Add(RingTest, 1)
	c.Add(RingFirst, 2)
	c.Add(RingFast, 3)
	c.Add(RingBroad, 4)
	c.Add(RingBroad, -1) // a move out of Broad
	c.Add(Ring("bogus"), 100)
	tests := []struct {
		give Ring
		want int
	}{
		{RingTest, 1},
		{RingFirst, 2},
		{RingFast, 3},
		{RingBroad, 3},
		{Ring("bogus"), 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.give), func(t *testing.T) {
			if got := c.Get(tt.give); got != tt.want {
				t.Errorf("Get(%s) = %d, want %d", tt.give, got, tt.want)
			}
		})
	}
	if got := c.Total(); got != 9 {
		t.Errorf("Total() = %d, want 9", got)
	}
}

func TestRingTargets(t *testing.T) {
	tests := []struct {
		give                       int
		wantFirst, wantFast, wantB float64
	}{
		{0, 0, 0, 0},
		{-5, 0, 0, 0},
		{1, 0.05, 0.15, 0.8},
		{20, 1, 3, 16},
		{100, 5, 15, 80},
		{200, 10, 30, 160},
		{201, 2.01, 18.09, 180.9},
		{1000, 10, 90, 900},
		{1_000_000, 10_000, 90_000, 900_000},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.give), func(t *testing.T) {
			f, a, b := RingTargets(tt.give)
			if !near(f, tt.wantFirst) || !near(a, tt.wantFast) || !near(b, tt.wantB) {
				t.Errorf("RingTargets(%d) = %v, %v, %v; want %v, %v, %v", tt.give, f, a, b, tt.wantFirst, tt.wantFast, tt.wantB)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNextRing(t *testing.T) {
	tests := []struct {
		name string
		give RingCounts
		n    int
		want Ring
	}{
		// Deficits below are target − count.
		{"first device goes to Broad", RingCounts{}, 1, RingBroad},                                             // .05 .15 .8
		{"Fast furthest below", RingCounts{Broad: 16}, 20, RingFast},                                           // 1 3 0
		{"First furthest below", RingCounts{Fast: 3, Broad: 16}, 20, RingFirst},                                // 1 0 0
		{"tie First and Fast goes to First", RingCounts{Fast: 2, Broad: 16}, 20, RingFirst},                    // 1 1 0
		{"tie Fast and Broad goes to Fast", RingCounts{First: 1, Fast: 2, Broad: 15}, 20, RingFast},            // 0 1 1
		{"tie First and Broad goes to First", RingCounts{First: 0, Fast: 3, Broad: 15}, 20, RingFirst},         // 1 0 1
		{"three-way tie at target goes to First", RingCounts{First: 5, Fast: 15, Broad: 80}, 100, RingFirst},   // 0 0 0
		{"three-way tie over target goes to First", RingCounts{First: 6, Fast: 16, Broad: 81}, 100, RingFirst}, // -1 -1 -1
		{"fractional deficits compared exactly", RingCounts{First: 2, Fast: 18, Broad: 180}, 201, RingBroad},   // .01 .09 .9
		// The 200/201 boundary: the same counts, different shares.
		{"200 uses 5/15/80", RingCounts{First: 9, Fast: 30, Broad: 160}, 200, RingFirst}, // 1 0 0
		{"201 uses 1/9/90", RingCounts{First: 9, Fast: 30, Broad: 160}, 201, RingBroad},  // -6.99 -11.91 20.9
		{"200 Fast short", RingCounts{First: 10, Fast: 20, Broad: 160}, 200, RingFast},   // 0 10 0
		{"201 Fast short", RingCounts{First: 2, Fast: 10, Broad: 180}, 201, RingFast},    // .01 8.09 .9
		{"Test never chosen however many", RingCounts{Test: 0, First: 50, Fast: 50, Broad: 50}, 150, RingBroad},
		{"Test devices only raise N", RingCounts{Test: 100}, 100, RingBroad},
		{"no devices at all", RingCounts{}, 0, RingFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NextRing(tt.give, tt.n); got != tt.want {
				t.Errorf("NextRing(%+v, %d) = %s, want %s", tt.give, tt.n, got, tt.want)
			}
		})
	}
}

func TestAssignRings(t *testing.T) {
	tests := []struct {
		name      string
		give      RingCounts
		n, k      int
		want      RingCounts
		wantFirst []Ring // the first rings assigned, when the order matters
	}{
		{name: "nothing to assign", give: RingCounts{First: 1}, n: 1, k: 0, want: RingCounts{First: 1}},
		{name: "one device", n: 1, k: 1, want: RingCounts{Broad: 1}, wantFirst: []Ring{RingBroad}},
		{name: "20 from empty", n: 20, k: 20, want: RingCounts{First: 1, Fast: 3, Broad: 16},
			// Broad until its deficit meets Fast's 3 (a tie Fast wins), then
			// they alternate; First gets its one device when all three reach 1.
			wantFirst: []Ring{RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingBroad, RingFast, RingBroad, RingFast, RingBroad, RingFirst, RingFast, RingBroad}},
		{name: "100 from empty", n: 100, k: 100, want: RingCounts{First: 5, Fast: 15, Broad: 80}},
		{name: "200 from empty", n: 200, k: 200, want: RingCounts{First: 10, Fast: 30, Broad: 160}},
		{name: "201 from empty", n: 201, k: 201, want: RingCounts{First: 2, Fast: 18, Broad: 181}},
		{name: "1000 from empty", n: 1000, k: 1000, want: RingCounts{First: 10, Fast: 90, Broad: 900}},
		{name: "1,000,000 from empty", n: 1_000_000, k: 1_000_000, want: RingCounts{First: 10_000, Fast: 90_000, Broad: 900_000}},
		{name: "adding to existing counts goes to the ring furthest below", give: RingCounts{First: 0, Fast: 0, Broad: 95}, n: 100, k: 5,
			// Deficits 5/15/−15: Fast stays furthest below for all five.
			want: RingCounts{First: 0, Fast: 5, Broad: 95}},
		{name: "adding to existing counts reaches every target", give: RingCounts{First: 1, Fast: 3, Broad: 16}, n: 100, k: 80,
			want: RingCounts{First: 5, Fast: 15, Broad: 80}},
		{name: "Test devices count towards N but are never added", give: RingCounts{Test: 2, Broad: 10}, n: 20, k: 8,
			want: RingCounts{Test: 2, First: 1, Fast: 2, Broad: 15}},
		{name: "crossing 200 switches to the large-fleet shares", give: RingCounts{First: 10, Fast: 30, Broad: 160}, n: 300, k: 100,
			// Targets 3/27/270: First and Fast are already over, so all go to Broad.
			want: RingCounts{First: 10, Fast: 30, Broad: 260}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rings, got := AssignRings(tt.give, tt.n, tt.k)
			if got != tt.want {
				t.Errorf("counts = %+v, want %+v", got, tt.want)
			}
			if len(rings) != tt.k {
				t.Fatalf("got %d rings, want %d", len(rings), tt.k)
			}
			// The rings returned must be exactly what moved the counts.
			tally := tt.give
			for i, r := range rings {
				if r == RingTest {
					t.Fatalf("ring %d is Test; the service never assigns Test", i)
				}
				tally.Add(r, 1)
			}
			if tally != got {
				t.Errorf("rings tally to %+v, counts say %+v", tally, got)
			}
			for i, r := range tt.wantFirst {
				if rings[i] != r {
					t.Errorf("ring %d = %s, want %s (sequence %v)", i, rings[i], r, rings[:len(tt.wantFirst)])
					break
				}
			}
			// Deterministic: the same call gives the same sequence.
			again, _ := AssignRings(tt.give, tt.n, tt.k)
			for i := range again {
				if again[i] != rings[i] {
					t.Fatalf("second run differs at %d", i)
				}
			}
		})
	}
}

// TestAssignRingsMatchesNextRing: assigning in one batch is the same as
// registering one device at a time with the final N.
func TestAssignRingsMatchesNextRing(t *testing.T) {
	start := RingCounts{Test: 3, First: 1, Fast: 4, Broad: 30}
	rings, _ := AssignRings(start, 250, 212)
	c := start
	for i, r := range rings {
		if want := NextRing(c, 250); r != want {
			t.Fatalf("device %d: AssignRings gave %s, NextRing gives %s", i, r, want)
		}
		c.Add(r, 1)
	}
}

func TestTestRingMinimum(t *testing.T) {
	tests := []struct {
		give, want int
	}{
		{0, 1},
		{1, 1},
		{499, 1},
		{500, 5},
		{5000, 5},
		{5001, 50},
		{1_000_000, 50},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.give), func(t *testing.T) {
			if got := TestRingMinimum(tt.give); got != tt.want {
				t.Errorf("TestRingMinimum(%d) = %d, want %d", tt.give, got, tt.want)
			}
		})
	}
}

func BenchmarkAssignRings1M(b *testing.B) {
	for b.Loop() {
		AssignRings(RingCounts{}, 1_000_000, 1_000_000)
	}
}
