package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Update management (SPEC §12): ring schedules, quality releases, the
// feature update target and customer pauses. Every change here is audited
// and recomputes every registered device's update status in the same
// transaction (updatestatus.go), so the reports never disagree with the
// release page.

// day is one calendar day.
const day = 24 * time.Hour

// Limits of SPEC §12.
const (
	// MaxPause is how long a pause lasts unless resumed earlier.
	MaxPause = 35 * day
	// DefaultGatePercent is the rollout gate's default share.
	DefaultGatePercent = 90
)

// The expedited schedule (days), in every ring from the moment a release
// is expedited.
const (
	expeditedDeadline = 1
	expeditedGrace    = 1
)

// Audit actions of update management.
const (
	ActionReleaseAdd      = "release.add"
	ActionReleaseExpedite = "release.expedite"
	ActionScheduleSet     = "ring.schedule"
	ActionPause           = "ring.pause"
	ActionResume          = "ring.resume"
	ActionFeatureTarget   = "feature.target"
)

// UpdateKind is quality or feature updates; pauses and reports are per kind.
type UpdateKind string

// Update kinds.
const (
	KindQuality UpdateKind = "quality"
	KindFeature UpdateKind = "feature"
)

// UpdateKinds lists both kinds.
var UpdateKinds = []UpdateKind{KindQuality, KindFeature}

// Label is the kind as the UI names it.
func (k UpdateKind) Label() string {
	if k == KindFeature {
		return "Feature"
	}
	return "Quality"
}

// ParseUpdateKind accepts quality or feature; "" is quality.
func ParseUpdateKind(s string) (UpdateKind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "quality":
		return KindQuality, nil
	case "feature":
		return KindFeature, nil
	}
	return "", invalidf("update kind %q is not one of quality, feature", s)
}

// ParseRings accepts a ring or "all".
func ParseRings(s string) ([]Ring, error) {
	if equalFoldTrim(s, "all") {
		return Rings, nil
	}
	r, err := ParseRing(s)
	if err != nil {
		return nil, invalidf("ring %q is not one of test, first, fast, broad, all", strings.TrimSpace(s))
	}
	return []Ring{r}, nil
}

// Schedule is a ring's update schedule in days.
type Schedule struct {
	Ring            Ring
	QualityDeferral int
	QualityDeadline int
	QualityGrace    int
	FeatureDeferral int
	// GateEnabled holds the ring's offer of a release until the ring
	// before it has GatePercent of its eligible devices up to date on it.
	GateEnabled bool
	GatePercent int
	UpdatedAt   time.Time
	UpdatedBy   string
}

func (sc Schedule) validate() error {
	if _, err := ParseRing(string(sc.Ring)); err != nil {
		return err
	}
	for _, f := range []struct {
		name     string
		v, limit int
	}{
		{"deferral", sc.QualityDeferral, 30}, {"deadline", sc.QualityDeadline, 30}, {"grace period", sc.QualityGrace, 7},
		{"feature deferral", sc.FeatureDeferral, 365},
	} {
		if f.v < 0 || f.v > f.limit {
			return invalidf("%s ring: the %s must be between 0 and %d days, not %d", sc.Ring.Label(), f.name, f.limit, f.v)
		}
	}
	if sc.GatePercent < 1 || sc.GatePercent > 100 {
		return invalidf("%s ring: the rollout gate must be between 1 and 100 %%, not %d", sc.Ring.Label(), sc.GatePercent)
	}
	if sc.GateEnabled && sc.Ring == RingTest {
		return invalidf("the Test ring is the first ring: it has no ring before it to wait for")
	}
	return nil
}

// Classification is a quality release's kind.
type Classification string

// Classifications.
const (
	ClassSecurity    Classification = "security"
	ClassNonSecurity Classification = "non-security"
	ClassOutOfBand   Classification = "out-of-band"
)

// Label is the classification as the UI names it.
func (c Classification) Label() string {
	switch c {
	case ClassSecurity:
		return "Security"
	case ClassNonSecurity:
		return "Non-security"
	case ClassOutOfBand:
		return "Out-of-band"
	}
	return string(c)
}

// ParseClassification accepts a classification key or label; "" is security.
func ParseClassification(s string) (Classification, error) {
	if strings.TrimSpace(s) == "" {
		return ClassSecurity, nil
	}
	for _, c := range []Classification{ClassSecurity, ClassNonSecurity, ClassOutOfBand} {
		if equalFoldTrim(s, string(c)) || equalFoldTrim(s, c.Label()) {
			return c, nil
		}
	}
	return "", invalidf("classification %q is not one of security, non-security, out-of-band", strings.TrimSpace(s))
}

// BuildRevision is a Windows build line and a revision of it: 26100.7462.
type BuildRevision struct{ Build, Revision int }

func (b BuildRevision) String() string {
	if b.Build == 0 {
		return ""
	}
	return strconv.Itoa(b.Build) + "." + strconv.Itoa(b.Revision)
}

// ParseBuildRevision reads "BUILD.REVISION" (26100.7462), or the whole
// version "10.0.BUILD.REVISION".
func ParseBuildRevision(s string) (BuildRevision, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "10.0.")
	b, r, ok := strings.Cut(t, ".")
	build, err1 := strconv.Atoi(b)
	rev, err2 := strconv.Atoi(r)
	if !ok || err1 != nil || err2 != nil || build < 10240 || build > 99999 || rev < 0 || rev > 999999 {
		return BuildRevision{}, invalidf("build %q is not a Windows build line and revision such as 26100.7462", strings.TrimSpace(s))
	}
	return BuildRevision{build, rev}, nil
}

// ParseBuilds reads a list of BUILD.REVISION separated by spaces or
// commas.
func ParseBuilds(s string) ([]BuildRevision, error) {
	var out []BuildRevision
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		b, err := ParseBuildRevision(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ParseDay reads a date YYYY-MM-DD as its 00:00 UTC.
func ParseDay(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, invalidf("date %q is not a date such as 2026-12-08 (YYYY-MM-DD)", strings.TrimSpace(s))
	}
	return t, nil
}

// NewRelease is a quality release to add.
type NewRelease struct {
	Name           string
	Date           time.Time // a day, 00:00 UTC
	Classification Classification
	Builds         []BuildRevision
}

func (r *NewRelease) normalize() error {
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		return invalidf("a release needs a name, such as 2026-12 B")
	}
	if len(r.Name) > 100 {
		return invalidf("the release name is longer than 100 characters")
	}
	if r.Date.IsZero() {
		return invalidf("release %s needs a release date (YYYY-MM-DD)", r.Name)
	}
	r.Date = r.Date.UTC().Truncate(day)
	if _, err := ParseClassification(string(r.Classification)); err != nil {
		return err
	}
	if r.Classification == "" {
		r.Classification = ClassSecurity
	}
	if len(r.Builds) == 0 {
		return invalidf("release %s needs at least one build line and revision, such as 26100.7462", r.Name)
	}
	seen := map[int]bool{}
	for _, b := range r.Builds {
		if seen[b.Build] {
			return invalidf("release %s names build line %d twice", r.Name, b.Build)
		}
		seen[b.Build] = true
	}
	slices.SortFunc(r.Builds, func(a, b BuildRevision) int { return b.Build - a.Build })
	return nil
}

// Release is a quality release.
type Release struct {
	ID             int64
	Name           string
	Date           time.Time
	Classification Classification
	Builds         []BuildRevision // newest line first
	ExpeditedAt    time.Time       // zero: not expedited
	ExpeditedBy    string
	CreatedAt      time.Time
	CreatedBy      string
	// SLO is the share of eligible devices on the release, measured at the
	// 21-day line (SLOMeasured) or, before it, as of the last
	// recomputation.
	SLOOn, SLOEligible int
	SLOMeasured        time.Time
}

// Revision is the release's target revision of a build line, or false.
func (r *Release) Revision(build int) (int, bool) {
	for _, b := range r.Builds {
		if b.Build == build {
			return b.Revision, true
		}
	}
	return 0, false
}

// BuildsText lists the release's builds ("26100.7462, 22631.6345").
func (r *Release) BuildsText() string {
	s := make([]string, len(r.Builds))
	for i, b := range r.Builds {
		s[i] = b.String()
	}
	return strings.Join(s, ", ")
}

// Pause is a customer pause of one ring for one kind of update.
type Pause struct {
	ID        int64
	Ring      Ring
	Kind      UpdateKind
	Reason    string
	By        string
	At        time.Time
	Until     time.Time // At + 35 days
	ResumedAt time.Time
	ResumedBy string
}

// End is when the pause ends: resumed, or by itself.
func (p Pause) End() time.Time {
	if !p.ResumedAt.IsZero() && p.ResumedAt.Before(p.Until) {
		return p.ResumedAt
	}
	return p.Until
}

// ActiveAt reports whether the pause holds at t.
func (p Pause) ActiveAt(t time.Time) bool { return !t.Before(p.At) && t.Before(p.End()) }

// FeatureTarget is a feature update target: a Windows build line rolled out
// through the rings from a start date.
type FeatureTarget struct {
	ID        int64
	Build     int
	Start     time.Time
	CreatedAt time.Time
	CreatedBy string
}

// AddRelease adds a quality release and recomputes the update status.
func (s *Store) AddRelease(ctx context.Context, r NewRelease, actor string, now time.Time) (Release, error) {
	rs, err := s.AddReleases(ctx, []NewRelease{r}, actor, now)
	if err != nil {
		return Release{}, err
	}
	return rs[0], nil
}

// AddReleases adds releases all-or-nothing (a CSV of releases) and
// recomputes the update status once.
func (s *Store) AddReleases(ctx context.Context, rs []NewRelease, actor string, now time.Time) ([]Release, error) {
	if len(rs) == 0 {
		return nil, invalidf("no releases to add")
	}
	names := map[string]bool{}
	for i := range rs {
		if err := rs[i].normalize(); err != nil {
			return nil, err
		}
		key := strings.ToLower(rs[i].Name)
		if names[key] {
			return nil, invalidf("release %s is named twice", rs[i].Name)
		}
		names[key] = true
	}
	out := make([]Release, 0, len(rs))
	err := s.write(ctx, func(tx *sql.Tx) error {
		var entries []AuditEntry
		for _, r := range rs {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM releases WHERE name = ?`, r.Name).Scan(&exists); err != nil {
				return err
			}
			if exists > 0 {
				return conflictf("a release named %s already exists", r.Name)
			}
			rel, err := insertRelease(ctx, tx, r, actor, now)
			if err != nil {
				return err
			}
			out = append(out, rel)
			entries = append(entries, releaseAdded(rel, now))
		}
		return updatesChanged(ctx, tx, now, entries...)
	})
	if err != nil {
		return nil, fmt.Errorf("add release: %w", err)
	}
	return out, nil
}

// insertRelease writes a normalized release that no other release names.
func insertRelease(ctx context.Context, tx *sql.Tx, r NewRelease, actor string, now time.Time) (Release, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO releases (name, release_date, classification, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
		r.Name, r.Date.Unix(), r.Classification, now.Unix(), actor)
	if err != nil {
		return Release{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Release{}, err
	}
	for _, b := range r.Builds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO release_builds (release_id, build, revision) VALUES (?, ?, ?)`, id, b.Build, b.Revision); err != nil {
			return Release{}, err
		}
	}
	return Release{ID: id, Name: r.Name, Date: r.Date, Classification: r.Classification, Builds: r.Builds,
		CreatedAt: now.UTC().Truncate(time.Second), CreatedBy: actor}, nil
}

// releaseAdded is the audit entry of an added release.
func releaseAdded(rel Release, now time.Time) AuditEntry {
	return AuditEntry{At: now, Actor: rel.CreatedBy, Action: ActionReleaseAdd, Target: rel.Name, Outcome: OutcomeSuccess,
		Detail: fmt.Sprintf("%s release of %s: %s", rel.Classification.Label(), rel.Date.Format(time.DateOnly), rel.BuildsText())}
}

// ExpediteRelease moves every ring to the expedited schedule for the named
// release (or ID), from now.
func (s *Store) ExpediteRelease(ctx context.Context, nameOrID string, actor string, now time.Time) (Release, error) {
	var rel Release
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if rel, err = releaseByNameOrID(ctx, tx, nameOrID); err != nil {
			return err
		}
		if !rel.ExpeditedAt.IsZero() {
			return conflictf("release %s was already expedited on %s by %s", rel.Name, rel.ExpeditedAt.Format("2006-01-02 15:04"), rel.ExpeditedBy)
		}
		rel.ExpeditedAt, rel.ExpeditedBy = now.UTC().Truncate(time.Second), actor
		if _, err := tx.ExecContext(ctx, `UPDATE releases SET expedited_at = ?, expedited_by = ? WHERE id = ?`, rel.ExpeditedAt.Unix(), actor, rel.ID); err != nil {
			return err
		}
		return updatesChanged(ctx, tx, now, AuditEntry{At: now, Actor: actor, Action: ActionReleaseExpedite, Target: rel.Name, Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("every ring on the expedited schedule (deadline %d day, grace %d day) from now", expeditedDeadline, expeditedGrace)})
	})
	if err != nil {
		return Release{}, fmt.Errorf("expedite release: %w", err)
	}
	return rel, nil
}

func releaseByNameOrID(ctx context.Context, q queryer, nameOrID string) (Release, error) {
	nameOrID = strings.TrimSpace(nameOrID)
	rels, err := loadReleases(ctx, q)
	if err != nil {
		return Release{}, err
	}
	id, idErr := strconv.ParseInt(nameOrID, 10, 64)
	for _, r := range rels {
		if strings.EqualFold(r.Name, nameOrID) || (idErr == nil && r.ID == id) {
			return r, nil
		}
	}
	return Release{}, notFoundf("release %s was not found", nameOrID)
}

// Releases lists every release, the newest first.
func (s *Store) Releases(ctx context.Context) ([]Release, error) {
	rels, err := loadReleases(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	slices.Reverse(rels)
	return rels, nil
}

// Release finds one release by ID or name.
func (s *Store) Release(ctx context.Context, nameOrID string) (Release, error) {
	return releaseByNameOrID(ctx, s.r, nameOrID)
}

// loadReleases reads every release, the oldest first (by release date,
// then ID).
func loadReleases(ctx context.Context, q queryer) ([]Release, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, release_date, classification, expedited_at, expedited_by, created_at, created_by,
		coalesce(slo_on, 0), coalesce(slo_eligible, 0), slo_measured_at FROM releases ORDER BY release_date, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Release
	byID := map[int64]int{}
	for rows.Next() {
		var r Release
		var date, created int64
		var exp, measured sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Name, &date, &r.Classification, &exp, &r.ExpeditedBy, &created, &r.CreatedBy,
			&r.SLOOn, &r.SLOEligible, &measured); err != nil {
			return nil, err
		}
		r.Date, r.CreatedAt = time.Unix(date, 0).UTC(), time.Unix(created, 0).UTC()
		r.ExpeditedAt, r.SLOMeasured = fromUnix(exp), fromUnix(measured)
		byID[r.ID] = len(out)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	brows, err := q.QueryContext(ctx, `SELECT release_id, build, revision FROM release_builds ORDER BY release_id, build DESC`)
	if err != nil {
		return nil, err
	}
	defer brows.Close()
	for brows.Next() {
		var id int64
		var b BuildRevision
		if err := brows.Scan(&id, &b.Build, &b.Revision); err != nil {
			return nil, err
		}
		if i, ok := byID[id]; ok {
			out[i].Builds = append(out[i].Builds, b)
		}
	}
	return out, brows.Err()
}

// Schedules reads the four rings' schedules in ring order.
func (s *Store) Schedules(ctx context.Context) ([]Schedule, error) {
	scs, err := loadSchedules(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("ring schedules: %w", err)
	}
	return scs, nil
}

func loadSchedules(ctx context.Context, q queryer) ([]Schedule, error) {
	rows, err := q.QueryContext(ctx, `SELECT ring, quality_deferral, quality_deadline, quality_grace, feature_deferral,
		gate_enabled, gate_percent, updated_at, updated_by FROM ring_schedules`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	by := map[Ring]Schedule{}
	for rows.Next() {
		var sc Schedule
		var at sql.NullInt64
		if err := rows.Scan(&sc.Ring, &sc.QualityDeferral, &sc.QualityDeadline, &sc.QualityGrace, &sc.FeatureDeferral,
			&sc.GateEnabled, &sc.GatePercent, &at, &sc.UpdatedBy); err != nil {
			return nil, err
		}
		sc.UpdatedAt = fromUnix(at)
		by[sc.Ring] = sc
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Schedule, 0, len(Rings))
	for _, r := range Rings {
		out = append(out, by[r])
	}
	return out, nil
}

// SetSchedule changes a ring's schedule and recomputes the update status.
func (s *Store) SetSchedule(ctx context.Context, sc Schedule, actor string, now time.Time) error {
	if err := sc.validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ring_schedules SET quality_deferral = ?, quality_deadline = ?, quality_grace = ?,
			feature_deferral = ?, gate_enabled = ?, gate_percent = ?, updated_at = ?, updated_by = ? WHERE ring = ?`,
			sc.QualityDeferral, sc.QualityDeadline, sc.QualityGrace, sc.FeatureDeferral, sc.GateEnabled, sc.GatePercent,
			now.Unix(), actor, sc.Ring); err != nil {
			return err
		}
		gate := "off"
		if sc.GateEnabled {
			gate = fmt.Sprintf("%d %%", sc.GatePercent)
		}
		return updatesChanged(ctx, tx, now, AuditEntry{At: now, Actor: actor, Action: ActionScheduleSet, Target: string(sc.Ring), Outcome: OutcomeSuccess,
			Detail: fmt.Sprintf("quality deferral %d, deadline %d, grace %d days; feature deferral %d days; rollout gate %s",
				sc.QualityDeferral, sc.QualityDeadline, sc.QualityGrace, sc.FeatureDeferral, gate)})
	})
	if err != nil {
		return fmt.Errorf("set %s ring schedule: %w", sc.Ring, err)
	}
	return nil
}

// PauseRings pauses kind updates in the rings, with a reason, for at most
// 35 days. A ring already paused for kind is refused, naming the pause.
func (s *Store) PauseRings(ctx context.Context, rings []Ring, kind UpdateKind, reason, actor string, now time.Time) ([]Pause, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, invalidf("say why the rings are paused: the reason is shown wherever the pause is")
	}
	if len(reason) > 500 {
		return nil, invalidf("the reason is longer than 500 characters")
	}
	if len(rings) == 0 {
		return nil, invalidf("choose a ring to pause")
	}
	now = now.UTC().Truncate(time.Second)
	var out []Pause
	err := s.write(ctx, func(tx *sql.Tx) error {
		active, err := activePauses(ctx, tx, now)
		if err != nil {
			return err
		}
		for _, r := range rings {
			for _, p := range active {
				if p.Ring == r && p.Kind == kind {
					return conflictf("the %s ring is already paused for %s updates since %s by %s (until %s); resume it first",
						r.Label(), kind, p.At.Format("2006-01-02 15:04"), p.By, p.Until.Format(time.DateOnly))
				}
			}
		}
		var entries []AuditEntry
		for _, r := range rings {
			p := Pause{Ring: r, Kind: kind, Reason: reason, By: actor, At: now, Until: now.Add(MaxPause)}
			res, err := tx.ExecContext(ctx, `INSERT INTO pauses (ring, kind, reason, paused_by, paused_at, until_at) VALUES (?, ?, ?, ?, ?, ?)`,
				r, kind, reason, actor, now.Unix(), p.Until.Unix())
			if err != nil {
				return err
			}
			if p.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			out = append(out, p)
			if err := enqueueEvent(ctx, tx, Event{Type: EventRingPaused, Subject: string(r), At: now,
				Data: RingPauseChange{Ring: r, Kind: kind, Reason: reason, By: actor, Until: p.Until.Format(time.RFC3339)}}); err != nil {
				return err
			}
			entries = append(entries, AuditEntry{At: now, Actor: actor, Action: ActionPause, Target: string(r), Outcome: OutcomeSuccess,
				Detail: fmt.Sprintf("%s updates paused until %s: %s", kind, p.Until.Format(time.DateOnly), reason)})
		}
		return updatesChanged(ctx, tx, now, entries...)
	})
	if err != nil {
		return nil, fmt.Errorf("pause: %w", err)
	}
	return out, nil
}

// ResumeRings ends the rings' pauses of kind now. Rings that are not paused
// are left as they are; when none of them is, the request is refused.
func (s *Store) ResumeRings(ctx context.Context, rings []Ring, kind UpdateKind, actor string, now time.Time) ([]Pause, error) {
	now = now.UTC().Truncate(time.Second)
	var out []Pause
	err := s.write(ctx, func(tx *sql.Tx) error {
		active, err := activePauses(ctx, tx, now)
		if err != nil {
			return err
		}
		var entries []AuditEntry
		for _, p := range active {
			if p.Kind != kind || !slices.Contains(rings, p.Ring) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE pauses SET resumed_at = ?, resumed_by = ? WHERE id = ?`, now.Unix(), actor, p.ID); err != nil {
				return err
			}
			p.ResumedAt, p.ResumedBy = now, actor
			out = append(out, p)
			if err := enqueueEvent(ctx, tx, Event{Type: EventRingResumed, Subject: string(p.Ring), At: now,
				Data: RingPauseChange{Ring: p.Ring, Kind: kind, Reason: p.Reason, By: actor}}); err != nil {
				return err
			}
			entries = append(entries, AuditEntry{At: now, Actor: actor, Action: ActionResume, Target: string(p.Ring), Outcome: OutcomeSuccess,
				Detail: fmt.Sprintf("%s updates resumed (paused since %s by %s)", kind, p.At.Format("2006-01-02 15:04"), p.By)})
		}
		if len(out) == 0 {
			names := make([]string, len(rings))
			for i, r := range rings {
				names[i] = r.Label()
			}
			return conflictf("%s: not paused for %s updates", strings.Join(names, ", "), kind)
		}
		return updatesChanged(ctx, tx, now, entries...)
	})
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	return out, nil
}

// ActivePauses lists the pauses holding now, in ring order. The pauses are
// kept between commits (every blade page asks), and those holding are
// picked at now: a pause ends by itself without a commit.
func (s *Store) ActivePauses(ctx context.Context, now time.Time) ([]Pause, error) {
	v, err := s.version(ctx)
	if err != nil {
		return nil, fmt.Errorf("pauses: %w", err)
	}
	all, err := s.allPauses(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("pauses: %w", err)
	}
	return holding(all, now), nil
}

// allPauses are every pause, as of version v, kept between commits.
func (s *Store) allPauses(ctx context.Context, v uint64) ([]Pause, error) {
	return memoized(s, v, "pauses", func() ([]Pause, error) { return loadPauses(ctx, s.r) })
}

func activePauses(ctx context.Context, q queryer, now time.Time) ([]Pause, error) {
	all, err := loadPauses(ctx, q)
	if err != nil {
		return nil, err
	}
	return holding(all, now), nil
}

// holding picks the pauses holding at now, in ring order, in a new slice.
func holding(all []Pause, now time.Time) []Pause {
	var out []Pause
	for _, p := range all {
		if p.ActiveAt(now) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Pause) int { return slices.Index(Rings, a.Ring) - slices.Index(Rings, b.Ring) })
	return out
}

// loadPauses reads every pause, the oldest first. Pauses are a few a month.
func loadPauses(ctx context.Context, q queryer) ([]Pause, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, ring, kind, reason, paused_by, paused_at, until_at, resumed_at, resumed_by FROM pauses ORDER BY paused_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Pause
	for rows.Next() {
		var p Pause
		var at, until int64
		var resumed sql.NullInt64
		if err := rows.Scan(&p.ID, &p.Ring, &p.Kind, &p.Reason, &p.By, &at, &until, &resumed, &p.ResumedBy); err != nil {
			return nil, err
		}
		p.At, p.Until, p.ResumedAt = time.Unix(at, 0).UTC(), time.Unix(until, 0).UTC(), fromUnix(resumed)
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetFeatureTarget makes build the feature update target from start.
func (s *Store) SetFeatureTarget(ctx context.Context, build int, start time.Time, actor string, now time.Time) (FeatureTarget, error) {
	if build < 10240 || build > 99999 {
		return FeatureTarget{}, invalidf("feature target %d is not a Windows build line such as 26100", build)
	}
	if start.IsZero() {
		return FeatureTarget{}, invalidf("the feature target needs a start date (YYYY-MM-DD)")
	}
	ft := FeatureTarget{Build: build, Start: start.UTC().Truncate(day), CreatedAt: now.UTC().Truncate(time.Second), CreatedBy: actor}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO feature_targets (build, start_date, created_at, created_by) VALUES (?, ?, ?, ?)`,
			build, ft.Start.Unix(), now.Unix(), actor)
		if err != nil {
			return err
		}
		if ft.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return updatesChanged(ctx, tx, now, AuditEntry{At: now, Actor: actor, Action: ActionFeatureTarget, Target: strconv.Itoa(build), Outcome: OutcomeSuccess,
			Detail: "feature update target from " + ft.Start.Format(time.DateOnly)})
	})
	if err != nil {
		return FeatureTarget{}, fmt.Errorf("set feature target: %w", err)
	}
	return ft, nil
}

// updatesChanged records a change's audit entries and recomputes every
// device's update status, in the change's transaction: the reports never
// disagree with what was just changed.
func updatesChanged(ctx context.Context, tx *sql.Tx, now time.Time, entries ...AuditEntry) error {
	for _, e := range entries {
		if err := recordAudit(ctx, tx, e, nil); err != nil {
			return err
		}
	}
	_, err := recomputeUpdates(ctx, tx, now)
	return err
}

// loadFeatureTargets reads every feature target, the oldest start first.
func loadFeatureTargets(ctx context.Context, q queryer) ([]FeatureTarget, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, build, start_date, created_at, created_by FROM feature_targets ORDER BY start_date, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FeatureTarget
	for rows.Next() {
		var f FeatureTarget
		var start, created int64
		if err := rows.Scan(&f.ID, &f.Build, &start, &created, &f.CreatedBy); err != nil {
			return nil, err
		}
		f.Start, f.CreatedAt = time.Unix(start, 0).UTC(), time.Unix(created, 0).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// loadGates reads when the rollout gate let each release into each ring.
func loadGates(ctx context.Context, q queryer) (map[gateKey]time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT release_id, ring, opened_at FROM release_gates`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[gateKey]time.Time{}
	for rows.Next() {
		var k gateKey
		var at int64
		if err := rows.Scan(&k.release, &k.ring, &at); err != nil {
			return nil, err
		}
		out[k] = time.Unix(at, 0).UTC()
	}
	return out, rows.Err()
}

type gateKey struct {
	release int64
	ring    Ring
}

// errNoRows tells a missing row from a failed read.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// ReleaseBoard is what the Release management page shows: each release
// and feature target with its dates and state in every ring, the
// schedules and the pauses holding now.
type ReleaseBoard struct {
	Now       time.Time
	Schedules []Schedule
	Pauses    []Pause // holding now, in ring order
	Releases  []ReleaseRow
	Features  []FeatureRow
	// PolicyDrift lists the update ring policy settings found changed in
	// Intune in the last 30 days, newest first.
	PolicyDrift []PolicyDrift
}

// ReleaseRow is a release and its offer in each ring.
type ReleaseRow struct {
	Release
	Rings []RingOffer
}

// SLOPercent is the release's share of eligible devices on it, if any
// device is eligible.
func (r ReleaseRow) SLOPercent() (int, bool) {
	if r.SLOEligible == 0 {
		return 0, false
	}
	return r.SLOOn * 100 / r.SLOEligible, true
}

// FeatureRow is a feature target and its offer in each ring.
type FeatureRow struct {
	FeatureTarget
	Rings []RingOffer
}

// Pause returns the pause of ring and kind holding at the board's time.
func (b ReleaseBoard) Pause(ring Ring, kind UpdateKind) (Pause, bool) {
	for _, p := range b.Pauses {
		if p.Ring == ring && p.Kind == kind {
			return p, true
		}
	}
	return Pause{}, false
}

// ReleaseBoard plans every release and feature target in every ring as of
// now. The rollout gate reads each ring's devices as the last
// recomputation left them.
func (s *Store) ReleaseBoard(ctx context.Context, now time.Time) (ReleaseBoard, error) {
	b := ReleaseBoard{Now: now}
	err := s.read(ctx, func(tx *sql.Tx) error {
		pol, err := loadUpdatePolicy(ctx, tx, now)
		if err != nil {
			return err
		}
		stats, err := ringReleaseStats(ctx, tx, pol.releases)
		if err != nil {
			return err
		}
		var prevRing Ring
		for _, ring := range Rings {
			var prev *releaseStats
			if prevRing != "" {
				prev = stats[prevRing]
			}
			pol.quality[ring] = pol.qualityPlan(ring, prev, prevRing)
			prevRing = ring
		}
		for i := len(pol.releases) - 1; i >= 0; i-- {
			row := ReleaseRow{Release: pol.releases[i]}
			for _, ring := range Rings {
				o := pol.quality[ring].offers[i]
				// Completed: every eligible device of the ring that the
				// release names runs it (or newer).
				if st := stats[ring]; o.State == OfferOffered && st.eligible[i] > 0 && st.on[i] == st.eligible[i] {
					o.State = OfferCompleted
				}
				row.Rings = append(row.Rings, o)
			}
			b.Releases = append(b.Releases, row)
		}
		for i := len(pol.features) - 1; i >= 0; i-- {
			row := FeatureRow{FeatureTarget: pol.features[i]}
			for _, ring := range Rings {
				row.Rings = append(row.Rings, pol.feature[ring].offers[i])
			}
			b.Features = append(b.Features, row)
		}
		if b.Schedules, err = loadSchedules(ctx, tx); err != nil {
			return err
		}
		if b.Pauses, err = activePauses(ctx, tx, now); err != nil {
			return err
		}
		b.PolicyDrift, err = loadPolicyDrifts(ctx, tx, now.AddDate(0, 0, -policyDriftDays))
		return err
	})
	if err != nil {
		return ReleaseBoard{}, fmt.Errorf("release management: %w", err)
	}
	return b, nil
}

// ringReleaseStats counts, per ring, the eligible devices on each release
// from update_status: grouped by build and revision, a few hundred groups.
func ringReleaseStats(ctx context.Context, q queryer, rels []Release) (map[Ring]*releaseStats, error) {
	out := map[Ring]*releaseStats{}
	for _, r := range Rings {
		out[r] = &releaseStats{eligible: make([]int, len(rels)), on: make([]int, len(rels))}
	}
	rows, err := q.QueryContext(ctx, `SELECT ring, build, revision, count(*) FROM update_status
		WHERE status IN ('up-to-date', 'not-up-to-date') GROUP BY ring, build, revision`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ring Ring
		var build, rev, n int
		if err := rows.Scan(&ring, &build, &rev, &n); err != nil {
			return nil, err
		}
		st := out[ring]
		if st == nil {
			continue
		}
		for i := range rels {
			if target, ok := rels[i].Revision(build); ok {
				st.eligible[i] += n
				if rev >= target {
					st.on[i] += n
				}
			}
		}
	}
	return out, rows.Err()
}
