package store

import (
	"context"
	"testing"
)

// BenchmarkFailingChecks reads the devices per failing check per tab of a
// discovered fleet (benchDevices, 100,000 by default), bypassing the
// between-commits memo: "kept" is what the overview and the blades read
// after every commit (the triggers' counts); "recount" is the one query
// that would count them from the check results instead, for comparison.
func BenchmarkFailingChecks(b *testing.B) {
	n := benchDevices(b)
	st := copyFixture(b, benchFixture(b, n, true))
	ctx := context.Background()
	b.Run("kept", func(b *testing.B) {
		var fc map[Tab][]CheckCount
		for b.Loop() {
			var err error
			// No version is that high: every call reads the table.
			if fc, err = st.failingChecks(ctx, ^uint64(0)); err != nil {
				b.Fatal(err)
			}
		}
		if len(fc[TabNotRegistered]) == 0 {
			b.Fatal("no failing checks")
		}
	})
	b.Run("recount", func(b *testing.B) {
		for b.Loop() {
			rows, err := st.r.QueryContext(ctx, `SELECT d.tab, c.check_id, count(*) FROM check_results c
				JOIN devices d ON d.id = c.device_pk WHERE d.tab IS NOT NULL GROUP BY d.tab, c.check_id`)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
}
