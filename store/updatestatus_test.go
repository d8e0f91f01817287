package store

import (
	"testing"
	"time"
)

// The release of the scenario: Patch Tuesday, 8 December 2026.
var (
	patchTuesday = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	decB         = Release{ID: 1, Name: "2026-12 B", Date: patchTuesday, Classification: ClassSecurity,
		Builds: []BuildRevision{{26100, 7462}, {22631, 6345}, {19045, 6691}}}
)

// defaultSchedules are migration 0050's schedules.
func defaultSchedules() []Schedule {
	return []Schedule{
		{Ring: RingTest, GatePercent: 90},
		{Ring: RingFirst, QualityDeferral: 1, QualityDeadline: 2, QualityGrace: 2, GatePercent: 90},
		{Ring: RingFast, QualityDeferral: 6, QualityDeadline: 2, QualityGrace: 2, GatePercent: 90},
		{Ring: RingBroad, QualityDeferral: 9, QualityDeadline: 5, QualityGrace: 2, GatePercent: 90},
	}
}

func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// policyAt plans the quality and feature offers of every ring at now.
func policyAt(now time.Time, rels []Release, pauses []Pause, features []FeatureTarget) *updatePolicy {
	p := newUpdatePolicy(now, defaultSchedules(), rels, features, pauses, nil)
	for _, r := range Rings {
		p.quality[r] = p.qualityPlan(r, nil, "")
	}
	return p
}

// broadDevice is an eligible Broad device on 26100.7000 that checked in
// an hour before now.
func broadDevice(now time.Time, mods ...func(*updateDevice)) *updateDevice {
	d := &updateDevice{status: StatusActive, ring: RingBroad, edition: "Enterprise", build: 26100, rev: 7000,
		lastCheckin: now.Add(-time.Hour)}
	for _, m := range mods {
		m(d)
	}
	return d
}

func TestOfferDates(t *testing.T) {
	expedited := at(2026, 12, 10, 10, 0)
	tests := []struct {
		name                string
		ring                Ring
		expedited           time.Time
		pauses              []Pause
		offer, due, restart time.Time
	}{
		{name: "Test ring on the release day", ring: RingTest,
			offer: patchTuesday, due: patchTuesday, restart: patchTuesday},
		{name: "First 1/2/2", ring: RingFirst,
			offer: at(2026, 12, 9, 0, 0), due: at(2026, 12, 11, 0, 0), restart: at(2026, 12, 13, 0, 0)},
		{name: "Fast 6/2/2", ring: RingFast,
			offer: at(2026, 12, 14, 0, 0), due: at(2026, 12, 16, 0, 0), restart: at(2026, 12, 18, 0, 0)},
		{name: "Broad 9/5/2", ring: RingBroad,
			offer: at(2026, 12, 17, 0, 0), due: at(2026, 12, 22, 0, 0), restart: at(2026, 12, 24, 0, 0)},
		{name: "expedited: Broad offered at once, due a day later", ring: RingBroad, expedited: expedited,
			offer: expedited, due: expedited.Add(day), restart: expedited.Add(2 * day)},
		{name: "expedited after First's offer: its grace shortens to a day", ring: RingFirst, expedited: expedited,
			offer: at(2026, 12, 9, 0, 0), due: at(2026, 12, 11, 0, 0), restart: at(2026, 12, 12, 0, 0)},
		{name: "offer inside a pause moves to its end", ring: RingBroad,
			pauses: []Pause{{Ring: RingBroad, Kind: KindQuality, At: at(2026, 12, 15, 9, 0), Until: at(2026, 12, 15, 9, 0).Add(MaxPause)}},
			offer:  at(2027, 1, 19, 9, 0), due: at(2027, 1, 24, 9, 0), restart: at(2027, 1, 26, 9, 0)},
		{name: "resumed pause ends at the resume", ring: RingBroad,
			pauses: []Pause{{Ring: RingBroad, Kind: KindQuality, At: at(2026, 12, 15, 9, 0), Until: at(2026, 12, 15, 9, 0).Add(MaxPause),
				ResumedAt: at(2026, 12, 18, 12, 0)}},
			offer: at(2026, 12, 18, 12, 0), due: at(2026, 12, 23, 12, 0), restart: at(2026, 12, 25, 12, 0)},
		{name: "pause starting after the offer moves nothing", ring: RingBroad,
			pauses: []Pause{{Ring: RingBroad, Kind: KindQuality, At: at(2026, 12, 17, 0, 1), Until: at(2026, 12, 17, 0, 1).Add(MaxPause)}},
			offer:  at(2026, 12, 17, 0, 0), due: at(2026, 12, 22, 0, 0), restart: at(2026, 12, 24, 0, 0)},
	}
	scs := map[Ring]Schedule{}
	for _, sc := range defaultSchedules() {
		scs[sc.Ring] = sc
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scs[tt.ring]
			offer, due, restart := offerDates(patchTuesday, sc.QualityDeferral, sc.QualityDeadline, sc.QualityGrace, tt.expedited, tt.pauses)
			if !offer.Equal(tt.offer) || !due.Equal(tt.due) || !restart.Equal(tt.restart) {
				t.Errorf("offer/due/restart = %s / %s / %s, want %s / %s / %s", offer, due, restart, tt.offer, tt.due, tt.restart)
			}
		})
	}
}

func TestQualityStatusRules(t *testing.T) {
	pausedDec15 := Pause{Ring: RingBroad, Kind: KindQuality, At: at(2026, 12, 15, 9, 0), Until: at(2026, 12, 15, 9, 0).Add(MaxPause)}
	pausedDec18 := Pause{Ring: RingBroad, Kind: KindQuality, At: at(2026, 12, 18, 9, 0), Until: at(2026, 12, 18, 9, 0).Add(MaxPause)}
	expedited := decB
	expedited.ExpeditedAt = at(2026, 12, 10, 10, 0)
	old := decB
	old.Date = patchTuesday.Add(-61 * day)
	sixty := decB
	sixty.Date = patchTuesday.Add(-60 * day)

	tests := []struct {
		name    string
		now     time.Time
		rels    []Release
		pauses  []Pause
		mod     func(*updateDevice)
		want    UpdateStatus
		wantSub UpdateSubStatus
	}{
		{name: "the day before Broad's offer: nothing offered yet", now: at(2026, 12, 16, 23, 59), want: UpdateUpToDate},
		{name: "offer day: in progress", now: at(2026, 12, 17, 0, 0), want: UpdateUpToDate, wantSub: SubInProgress},
		{name: "past the deadline, before the 21-day line: in progress", now: at(2026, 12, 28, 23, 59), want: UpdateUpToDate, wantSub: SubInProgress},
		{name: "21 days after the release: overdue", now: at(2026, 12, 29, 0, 0), want: UpdateNotUpToDate, wantSub: SubOverdue},
		{name: "on the target revision", now: at(2026, 12, 29, 0, 0), mod: func(d *updateDevice) { d.rev = 7462 }, want: UpdateUpToDate},
		{name: "on a newer revision than the target", now: at(2026, 12, 29, 0, 0), mod: func(d *updateDevice) { d.rev = 7500 }, want: UpdateUpToDate},
		{name: "a build line no release names", now: at(2026, 12, 20, 0, 0), mod: func(d *updateDevice) { d.build = 19041 },
			want: UpdateIneligible, wantSub: SubUnsupportedBuild},
		{name: "an unreadable version", now: at(2026, 12, 20, 0, 0), mod: func(d *updateDevice) { d.build, d.rev = 0, 0 },
			want: UpdateIneligible, wantSub: SubUnsupportedBuild},
		{name: "the line's last release 61 days ago", now: patchTuesday, rels: []Release{old},
			want: UpdateIneligible, wantSub: SubUnsupportedBuild},
		{name: "the line's last release 60 days ago", now: patchTuesday, rels: []Release{sixty},
			want: UpdateNotUpToDate, wantSub: SubOverdue},
		{name: "unsupported edition", now: at(2026, 12, 20, 0, 0), mod: func(d *updateDevice) { d.edition = "Home" },
			want: UpdateIneligible, wantSub: SubUnsupportedEdition},
		{name: "check-in exactly 5 days ago is fresh", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) { d.lastCheckin = at(2026, 12, 15, 0, 0) }, want: UpdateUpToDate, wantSub: SubInProgress},
		{name: "check-in older than 5 days", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) { d.lastCheckin = at(2026, 12, 14, 23, 59) }, want: UpdateIneligible, wantSub: SubSyncOld},
		{name: "never checked in", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) { d.lastCheckin = time.Time{} }, want: UpdateIneligible, wantSub: SubSyncOld},
		{name: "stale check-in wins over an unsupported edition", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) { d.lastCheckin, d.edition = at(2026, 12, 1, 0, 0), "Home" }, want: UpdateIneligible, wantSub: SubSyncOld},
		{name: "Not ready wins over everything", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) {
				d.status, d.lastCheckin, d.edition, d.build = StatusReadinessFailed, at(2026, 11, 1, 0, 0), "Home", 19041
			}, want: UpdateNotReady},
		{name: "inactive is Not ready", now: at(2026, 12, 20, 0, 0),
			mod: func(d *updateDevice) { d.status = StatusInactive }, want: UpdateNotReady},
		{name: "paused before the offer: not offered, up to date", now: at(2026, 12, 20, 0, 0), pauses: []Pause{pausedDec15},
			want: UpdateUpToDate},
		{name: "paused after the offer: paused", now: at(2026, 12, 20, 0, 0), pauses: []Pause{pausedDec18},
			want: UpdateUpToDate, wantSub: SubPaused},
		{name: "overdue wins over paused", now: at(2026, 12, 29, 0, 0), pauses: []Pause{pausedDec18},
			want: UpdateNotUpToDate, wantSub: SubOverdue},
		{name: "the moment before the pause ends by itself", now: at(2027, 1, 19, 8, 59), pauses: []Pause{pausedDec15},
			want: UpdateUpToDate},
		{name: "the pause ended by itself after 35 days: offered, and overdue", now: at(2027, 1, 19, 9, 0), pauses: []Pause{pausedDec15},
			want: UpdateNotUpToDate, wantSub: SubOverdue},
		{name: "expedited: Broad offered two days after the release", now: at(2026, 12, 10, 11, 0), rels: []Release{expedited},
			want: UpdateUpToDate, wantSub: SubInProgress},
		{name: "not expedited: Broad not offered then", now: at(2026, 12, 10, 11, 0), want: UpdateUpToDate},
		{name: "a Test device on the release day", now: patchTuesday, mod: func(d *updateDevice) { d.ring = RingTest },
			want: UpdateUpToDate, wantSub: SubInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels := tt.rels
			if rels == nil {
				rels = []Release{decB}
			}
			p := policyAt(tt.now, rels, tt.pauses, nil)
			d := broadDevice(tt.now, func(d *updateDevice) {
				if tt.mod != nil {
					tt.mod(d)
				}
			})
			st, sub, _ := p.qualityStatus(d)
			if st != tt.want || sub != tt.wantSub {
				t.Errorf("status = %s/%s, want %s/%s", st, sub, tt.want, tt.wantSub)
			}
		})
	}
}

func TestCurrentTargetIsTheLatestOffered(t *testing.T) {
	nov := Release{ID: 1, Name: "2026-11 B", Date: at(2026, 11, 10, 0, 0), Builds: []BuildRevision{{26100, 7000}}}
	oob := Release{ID: 2, Name: "2026-11 OOB", Date: at(2026, 11, 20, 0, 0), Classification: ClassOutOfBand,
		Builds: []BuildRevision{{26100, 7100}}}
	dec := decB
	dec.ID = 3
	p := policyAt(at(2026, 12, 12, 0, 0), []Release{nov, oob, dec}, nil, nil)
	// Broad has not been offered December's release yet: its target is the
	// out-of-band release, which is 22 days old: a device below it is overdue.
	d := broadDevice(p.now, func(d *updateDevice) { d.rev = 7000 })
	st, sub, target := p.qualityStatus(d)
	if target.revision != 7100 || st != UpdateNotUpToDate || sub != SubOverdue {
		t.Errorf("Broad: target %d, %s/%s; want 7100, overdue", target.revision, st, sub)
	}
	// First has: its target is December's.
	d.ring = RingFirst
	if _, _, target := p.qualityStatus(d); target.revision != 7462 {
		t.Errorf("First: target %d, want 7462", target.revision)
	}
}

func TestFeatureStatusRules(t *testing.T) {
	start := patchTuesday.Add(2 * day)
	target := FeatureTarget{ID: 1, Build: 26100, Start: start}
	tests := []struct {
		name    string
		now     time.Time
		build   int
		pauses  []Pause
		want    UpdateStatus
		wantSub UpdateSubStatus
	}{
		{name: "before the start", now: start.Add(-time.Minute), build: 22631, want: UpdateUpToDate},
		{name: "on the start day", now: start, build: 22631, want: UpdateUpToDate, wantSub: SubInProgress},
		{name: "already on the target line", now: start, build: 26100, want: UpdateUpToDate},
		{name: "21 days after the start", now: start.Add(21 * day), build: 22631, want: UpdateNotUpToDate, wantSub: SubOverdue},
		{name: "feature pause", now: start.Add(2 * day), build: 22631, want: UpdateUpToDate, wantSub: SubPaused,
			pauses: []Pause{{Ring: RingBroad, Kind: KindFeature, At: start.Add(day), Until: start.Add(day + MaxPause)}}},
		{name: "a quality pause leaves features alone", now: start.Add(2 * day), build: 22631, want: UpdateUpToDate, wantSub: SubInProgress,
			pauses: []Pause{{Ring: RingBroad, Kind: KindQuality, At: start.Add(day), Until: start.Add(day + MaxPause)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policyAt(tt.now, []Release{decB}, tt.pauses, []FeatureTarget{target})
			d := broadDevice(tt.now, func(d *updateDevice) { d.build = tt.build })
			st, sub, _ := p.featureStatus(d)
			if st != tt.want || sub != tt.wantSub {
				t.Errorf("feature status = %s/%s, want %s/%s", st, sub, tt.want, tt.wantSub)
			}
		})
	}
}

func TestRolloutGate(t *testing.T) {
	now := at(2026, 12, 10, 0, 0)
	scs := defaultSchedules()
	scs[1].GateEnabled = true // First waits for Test
	p := newUpdatePolicy(now, scs, []Release{decB}, nil, nil, nil)
	p.quality[RingTest] = p.qualityPlan(RingTest, nil, "")
	held := p.qualityPlan(RingFirst, &releaseStats{eligible: []int{10}, on: []int{8}}, RingTest)
	if o := held.offers[0]; o.State != OfferWaiting || o.Waiting == "" {
		t.Fatalf("First at 80 %% of Test: state %s (%q), want Waiting", o.State, o.Waiting)
	}
	if len(held.current) != 0 {
		t.Errorf("a held release is nobody's target: %v", held.current)
	}
	open := p.qualityPlan(RingFirst, &releaseStats{eligible: []int{10}, on: []int{9}}, RingTest)
	if o := open.offers[0]; o.State != OfferOffered || !o.OfferAt.Equal(now) {
		t.Fatalf("First at 90 %% of Test: state %s offered %s, want Offered now", o.State, o.OfferAt)
	}
	if len(p.newGates) != 1 {
		t.Errorf("the opened gate is recorded: %v", p.newGates)
	}
	// Once open, the gate stays open whatever Test does next.
	again := p.qualityPlan(RingFirst, &releaseStats{eligible: []int{10}, on: []int{0}}, RingTest)
	if o := again.offers[0]; o.State != OfferOffered {
		t.Errorf("an opened gate closed again: %s", o.State)
	}
}

func TestParseBuildRevision(t *testing.T) {
	tests := []struct {
		give    string
		want    BuildRevision
		wantErr bool
	}{
		{give: "26100.7462", want: BuildRevision{26100, 7462}},
		{give: " 10.0.22631.6345 ", want: BuildRevision{22631, 6345}},
		{give: "26100", wantErr: true},
		{give: "26100.x", wantErr: true},
		{give: "999.1", wantErr: true},
		{give: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBuildRevision(tt.give)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBuildRevision(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}
