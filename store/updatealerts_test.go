package store

import (
	"errors"
	"strings"
	"testing"
)

// Every catalogue entry is complete and its code unique; the SPEC's
// examples are in it.
func TestUpdateAlertCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range UpdateAlertCodes {
		if a.Code == "" || a.Description == "" || a.Recommendation == "" || (a.WhoActs != ActsCustomer && a.WhoActs != ActsService) {
			t.Errorf("incomplete entry %+v", a)
		}
		if seen[strings.ToLower(a.Code)] {
			t.Errorf("%s twice", a.Code)
		}
		seen[strings.ToLower(a.Code)] = true
	}
	for _, code := range []string{"DiskFull", "SafeguardHold", "PolicyConflict", "PolicyConflictDeferral", "PolicyConflictPause",
		"DownloadConnectionIssue", "InstallOutOfMemory", "InstallSetupBlock", "RollbackInitiated", "WUDamaged", "EndOfServiceApproaching"} {
		if _, ok := UpdateAlertByCode(code); !ok {
			t.Errorf("%s is not in the catalogue", code)
		}
	}
	if a, _ := UpdateAlertByCode("SafeguardHold"); a.WhoActs != ActsService {
		t.Errorf("SafeguardHold: who acts %s, want the service", a.WhoActs)
	}
}

// A signals report with an unknown update alert code is refused, naming
// the report (device) and the code; the known ones of the batch are not
// applied either (the batch is all-or-nothing).
func TestSignalsRefuseUnknownUpdateAlert(t *testing.T) {
	_, err := DecodeSignalsJSON(strings.NewReader(`[
		{"device_id": "`+testID(1)+`", "update_alerts": ["DiskFull", "SafeguardHold"]},
		{"device_id": "`+testID(2)+`", "update_alerts": ["DiskFull", "DiskAlmostFull"]},
		{"device_id": "`+testID(3)+`", "update_alerts": ["wudamaged"]}]`), testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 2 {
		t.Fatalf("err = %v, want two field errors", err)
	}
	if fe := ve.Errors[0]; fe.Item != "/1" || fe.Field != "update_alerts" || !strings.Contains(fe.Reason, `"DiskAlmostFull" is not a Windows Update alert code`) {
		t.Errorf("first error %+v", fe)
	}
	if fe := ve.Errors[1]; fe.Item != "/2" || !strings.Contains(fe.Reason, "is spelt WUDamaged") {
		t.Errorf("second error %+v", fe)
	}
}
