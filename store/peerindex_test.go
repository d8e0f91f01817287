package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// indexPeers asks a peerIndex what FindPeers answers for in, by PK: the
// index discovery streams the directory into must agree with FindPeers on
// every population.
func indexPeers(in []PeerInput) map[int64]wantPeers {
	var x peerIndex
	for _, pi := range in {
		x.add(newPeerOf(pi.Device, pi.Registered, pi.Candidate))
	}
	x.finish()
	out := map[int64]wantPeers{}
	for _, pi := range in {
		if !pi.Candidate {
			continue
		}
		if p := x.peers(newPeerOf(pi.Device, pi.Registered, pi.Candidate)); !p.none() {
			out[pi.Device.PK] = wantPeers{holder: p.holder, registered: p.holderRegistered, twin: p.twin}
			if !x.mayHavePeers(pi.Device.PK) {
				// Discovery asks only these: a miss would register a
				// duplicate.
				out[pi.Device.PK] = wantPeers{}
			}
		}
	}
	return out
}

func TestPeerIndexAgreesWithFindPeers(t *testing.T) {
	// Small pools of serials and names so that duplicates, dual-state
	// pairs and stale records sharing both are common; mixed case and
	// spaces as the directory reports them.
	serials := []string{"", "SN1", "sn1", " SN2", "SN3", "To Be Filled By O.E.M.", "ÄB1", "äb1"}
	names := []string{"", "PC-1", "pc-1 ", "PC-2", "PC-3"}
	joins := []string{ej, hj, er, ""}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(40)
		in := make([]PeerInput, n)
		for i := range in {
			pk := int64(rng.IntN(1000) + 1)
			for {
				dup := false
				for _, p := range in[:i] {
					dup = dup || p.Device.PK == pk
				}
				if !dup {
					break
				}
				pk++
			}
			d := peerDev(pk, names[rng.IntN(len(names))], serials[rng.IntN(len(serials))], joins[rng.IntN(len(joins))])
			switch rng.IntN(3) {
			case 0:
				in[i] = reg(d)
			case 1:
				in[i] = cand(d)
			default:
				in[i] = other(d)
			}
		}
		want := peersByPK(FindPeers(in))
		if got := indexPeers(in); !maps.Equal(got, want) {
			var desc string
			for _, p := range in {
				desc += fmt.Sprintf("\n  pk %d %q %q %s reg=%v cand=%v", p.Device.PK, p.Device.DisplayName, p.Device.SerialNumber,
					p.Device.JoinType, p.Registered, p.Candidate)
			}
			t.Fatalf("seed %d: index %v, FindPeers %v; population:%s", seed, got, want, desc)
		}
	}
}
