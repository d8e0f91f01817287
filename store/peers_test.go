package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

func peerDev(pk int64, name, serial, join string) *Device {
	return &Device{
		PK:           pk,
		DeviceID:     fmt.Sprintf("00000000-0000-0000-0000-%012d", pk),
		DisplayName:  name,
		SerialNumber: serial,
		JoinType:     join,
	}
}

func cand(d *Device) PeerInput { return PeerInput{Device: d, Candidate: true} }
func reg(d *Device) PeerInput  { return PeerInput{Device: d, Registered: true} }
func other(d *Device) PeerInput {
	return PeerInput{Device: d} // in the directory, neither registered nor a candidate
}

// wantPeers names peers by PK so that cases read as a table; 0 is none.
type wantPeers struct {
	holder     int64
	registered bool
	twin       int64
}

func peersByPK(in map[int64]Peers) map[int64]wantPeers {
	out := make(map[int64]wantPeers, len(in))
	for pk, p := range in {
		var w wantPeers
		if p.SerialHolder != nil {
			w.holder = p.SerialHolder.PK
		}
		w.registered = p.SerialHolderRegistered
		if p.HybridTwin != nil {
			w.twin = p.HybridTwin.PK
		}
		out[pk] = w
	}
	return out
}

const (
	ej = JoinEntraJoined
	hj = JoinHybridJoined
	er = JoinEntraRegistered
)

func TestFindPeers(t *testing.T) {
	tests := []struct {
		name string
		give []PeerInput
		want map[int64]wantPeers
	}{
		{name: "empty input", want: map[int64]wantPeers{}},
		{name: "distinct serials have no peers",
			give: []PeerInput{cand(peerDev(1, "A", "S1", ej)), cand(peerDev(2, "B", "S2", ej)), reg(peerDev(3, "C", "S3", ej))},
			want: map[int64]wantPeers{}},
		{name: "two candidates hold each other",
			give: []PeerInput{cand(peerDev(1, "A", "S1", ej)), cand(peerDev(2, "B", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 2}, 2: {holder: 1}}},
		{name: "three candidates name the lowest other PK",
			give: []PeerInput{cand(peerDev(3, "C", "S1", ej)), cand(peerDev(2, "B", "S1", ej)), cand(peerDev(1, "A", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 2}, 2: {holder: 1}, 3: {holder: 1}}},
		{name: "registered holder is a hardware repair and wins over candidates",
			give: []PeerInput{cand(peerDev(1, "NEW", "S1", ej)), cand(peerDev(2, "NEW2", "S1", ej)), reg(peerDev(5, "OLD", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 5, registered: true}, 2: {holder: 5, registered: true}}},
		{name: "lowest registered PK",
			give: []PeerInput{reg(peerDev(9, "X", "S1", ej)), cand(peerDev(1, "A", "S1", ej)), reg(peerDev(7, "Y", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 7, registered: true}}},
		{name: "registered devices are not in the output",
			give: []PeerInput{reg(peerDev(1, "A", "S1", ej)), reg(peerDev(2, "B", "S1", ej))},
			want: map[int64]wantPeers{}},
		{name: "serial compared trimmed and case-insensitively",
			give: []PeerInput{cand(peerDev(1, "A", " abc-123 ", ej)), reg(peerDev(2, "B", "ABC-123", ej))},
			want: map[int64]wantPeers{1: {holder: 2, registered: true}}},
		{name: "empty and blank serials never match",
			give: []PeerInput{cand(peerDev(1, "A", "", ej)), cand(peerDev(2, "B", "  ", ej)), reg(peerDev(3, "C", "", ej))},
			want: map[int64]wantPeers{}},
		{name: "a device outside the group and unregistered holds nothing",
			give: []PeerInput{cand(peerDev(1, "A", "S1", ej)), other(peerDev(2, "B", "S1", ej))},
			want: map[int64]wantPeers{}},
		{name: "same display name alone is no duplicate",
			give: []PeerInput{cand(peerDev(1, "PC", "S1", ej)), cand(peerDev(2, "pc", "S2", ej))},
			want: map[int64]wantPeers{}},
		{name: "a device listed as registered and candidate is not its own holder",
			give: []PeerInput{{Device: peerDev(1, "A", "S1", ej), Registered: true, Candidate: true}},
			want: map[int64]wantPeers{}},
		{name: "a device listed twice does not crowd out a real holder",
			give: []PeerInput{cand(peerDev(1, "A", "S1", ej)), cand(peerDev(1, "A", "S1", ej)), cand(peerDev(2, "B", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 2}, 2: {holder: 1}}},
		{name: "nil device ignored",
			give: []PeerInput{{Candidate: true}, cand(peerDev(1, "A", "S1", ej))},
			want: map[int64]wantPeers{}},

		// Dual state.
		{name: "dual state by serial: twin set, not duplicates",
			give: []PeerInput{cand(peerDev(1, "PC-H", "S1", hj)), cand(peerDev(2, "PC-R", "s1 ", er))},
			want: map[int64]wantPeers{2: {twin: 1}}},
		{name: "dual state by display name",
			give: []PeerInput{cand(peerDev(1, "PC-1", "S1", hj)), cand(peerDev(2, " pc-1", "S2", er))},
			want: map[int64]wantPeers{2: {twin: 1}}},
		{name: "registered hybrid twin is not a holder of its stale record",
			give: []PeerInput{reg(peerDev(1, "PC-H", "S1", hj)), cand(peerDev(2, "PC-R", "S1", er))},
			want: map[int64]wantPeers{2: {twin: 1}}},
		{name: "registered stale record is not a holder of its twin",
			give: []PeerInput{reg(peerDev(1, "PC-R", "S1", er)), cand(peerDev(2, "PC-H", "S1", hj))},
			want: map[int64]wantPeers{}},
		{name: "twin outside the group still makes the record stale",
			give: []PeerInput{other(peerDev(1, "PC-H", "S1", hj)), reg(peerDev(2, "PC-R", "S1", er)), cand(peerDev(3, "PC-J", "S1", ej))},
			want: map[int64]wantPeers{}},
		{name: "stale candidate is not a holder for another candidate",
			give: []PeerInput{cand(peerDev(1, "PC-R", "S1", er)), cand(peerDev(2, "PC-H", "S1", hj)), cand(peerDev(3, "PC-J", "S1", ej))},
			want: map[int64]wantPeers{2: {holder: 3}, 3: {holder: 2}, 1: {twin: 2, holder: 3}}},
		{name: "stale record still sees a third registered device",
			give: []PeerInput{cand(peerDev(1, "PC-H", "S1", hj)), cand(peerDev(2, "PC-R", "S1", er)), reg(peerDev(3, "OLD", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 3, registered: true}, 2: {twin: 1, holder: 3, registered: true}}},
		{name: "every hybrid sharing the stale serial is a twin, not a holder",
			give: []PeerInput{reg(peerDev(1, "H1", "S1", hj)), cand(peerDev(2, "H2", "S1", hj)), cand(peerDev(3, "PC-R", "S1", er))},
			want: map[int64]wantPeers{2: {holder: 1, registered: true}, 3: {twin: 1}}},
		{name: "serial twin preferred over name twin",
			give: []PeerInput{other(peerDev(2, "PC-R", "X", hj)), other(peerDev(3, "Y", "S1", hj)), cand(peerDev(4, "PC-R", "S1", er))},
			want: map[int64]wantPeers{4: {twin: 3}}},
		{name: "lowest PK twin",
			give: []PeerInput{other(peerDev(8, "H8", "S1", hj)), other(peerDev(5, "H5", "S1", hj)), cand(peerDev(9, "R", "S1", er))},
			want: map[int64]wantPeers{9: {twin: 5}}},
		{name: "entra-joined never stale",
			give: []PeerInput{cand(peerDev(1, "PC", "S1", hj)), cand(peerDev(2, "PC", "S1", ej))},
			want: map[int64]wantPeers{1: {holder: 2}, 2: {holder: 1}}},
		{name: "entra-registered without a hybrid twin is an ordinary duplicate",
			give: []PeerInput{cand(peerDev(1, "A", "S1", ej)), cand(peerDev(2, "B", "S1", er))},
			want: map[int64]wantPeers{1: {holder: 2}, 2: {holder: 1}}},
		{name: "join type compared case-insensitively",
			give: []PeerInput{cand(peerDev(1, "PC", "S1", "Hybrid-Joined")), cand(peerDev(2, "PC", "S2", "ENTRA-REGISTERED"))},
			want: map[int64]wantPeers{2: {twin: 1}}},
		{name: "empty names never make twins",
			give: []PeerInput{cand(peerDev(1, "", "S1", hj)), cand(peerDev(2, " ", "S2", er))},
			want: map[int64]wantPeers{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := peersByPK(FindPeers(tt.give))
			if !maps.Equal(got, tt.want) {
				t.Errorf("FindPeers() = %v, want %v", got, tt.want)
			}
			// The answer must not depend on input order.
			rev := make([]PeerInput, len(tt.give))
			for i, pi := range tt.give {
				rev[len(rev)-1-i] = pi
			}
			if got := peersByPK(FindPeers(rev)); !maps.Equal(got, tt.want) {
				t.Errorf("reversed input: FindPeers() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFindPeersFeedsChecks ties the two halves together: the Peers of a
// hardware repair and of a dual-state record produce the failures SPEC §3
// and §4 describe, and the twin passes hardware-identity.
func TestFindPeersFeedsChecks(t *testing.T) {
	old := goodDevice()
	old.PK, old.DeviceID, old.DisplayName = 10, "aaaaaaaa-0000-0000-0000-000000000010", "PC-OLD"
	repaired := goodDevice()
	repaired.PK, repaired.DeviceID, repaired.DisplayName = 11, "aaaaaaaa-0000-0000-0000-000000000011", "PC-NEW"
	hybrid := goodDevice()
	hybrid.PK, hybrid.DeviceID, hybrid.DisplayName, hybrid.SerialNumber, hybrid.JoinType = 20, "bbbbbbbb-0000-0000-0000-000000000020", "PC-DUAL", "SN-DUAL", JoinHybridJoined
	stale := goodDevice()
	stale.PK, stale.DeviceID, stale.DisplayName, stale.SerialNumber, stale.JoinType = 21, "bbbbbbbb-0000-0000-0000-000000000021", "PC-DUAL", "SN-DUAL", JoinEntraRegistered

	peers := FindPeers([]PeerInput{reg(old), cand(repaired), cand(hybrid), cand(stale)})
	tests := []struct {
		give       *Device
		wantFailed map[CheckID][]string
		wantFix    map[CheckID][]string
	}{
		{give: repaired,
			wantFailed: map[CheckID][]string{CheckHardwareIdentity: {"PC-OLD", old.DeviceID}},
			wantFix:    map[CheckID][]string{CheckHardwareIdentity: {"deregister the old record", "PC-OLD"}}},
		{give: hybrid},
		{give: stale,
			wantFailed: map[CheckID][]string{CheckPersonalOrNonWindows: {"stale dual-state", hybrid.DeviceID}}},
	}
	for _, tt := range tests {
		t.Run(tt.give.DisplayName, func(t *testing.T) {
			got := Prerequisites(tt.give, peers[tt.give.PK], checkNow)
			assertResults(t, got, PrerequisiteChecks, tt.wantFailed, tt.wantFix)
		})
	}
}

// TestFindPeersOneSharedSerial would take hours if FindPeers compared
// devices pairwise: many devices share one (bogus) serial.
func TestFindPeersOneSharedSerial(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	in := make([]PeerInput, n)
	for i := range in {
		in[i] = cand(peerDev(int64(n-i), "PC", "To Be Filled By O.E.M.", ej))
	}
	got := FindPeers(in)
	if len(got) != n {
		t.Fatalf("got %d entries, want %d", len(got), n)
	}
	if h := got[1].SerialHolder; h == nil || h.PK != 2 {
		t.Errorf("PK 1 holder = %v, want PK 2", h)
	}
	if h := got[int64(n)].SerialHolder; h == nil || h.PK != 1 {
		t.Errorf("PK %d holder = %v, want PK 1", n, h)
	}
}

func BenchmarkFindPeers1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]PeerInput, n)
	for i := range in {
		// About 1 % duplicate serials, 1 % dual-state pairs, 30 % registered.
		serial := fmt.Sprintf("SN%07d", i)
		if rng.IntN(100) == 0 {
			serial = fmt.Sprintf("SN%07d", rng.IntN(n))
		}
		join := ej
		switch rng.IntN(100) {
		case 0:
			join = hj
		case 1:
			join = er
		}
		d := peerDev(int64(i+1), fmt.Sprintf("PC-%07d", i), serial, join)
		if rng.IntN(10) < 3 {
			in[i] = reg(d)
		} else {
			in[i] = cand(d)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		FindPeers(in)
	}
}
