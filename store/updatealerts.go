package store

import (
	"slices"
	"strings"
)

// UpdateAlertCode is a Windows Update client alert a device reports
// (update_alerts of the signals API and the inventory, SPEC §13): Microsoft's
// name for it, what it means, what to do and who does it.
type UpdateAlertCode struct {
	Code           string
	Description    string
	Recommendation string
	WhoActs        Responsible
}

// UpdateAlertCodes is the catalogue of device alerts Patchboard accepts,
// with the names Microsoft's Windows Update client and reports use. A code
// not in it is refused: a typo would otherwise pass as an alert nobody can
// act on.
var UpdateAlertCodes = []UpdateAlertCode{
	{"DiskFull", "The device does not have enough free disk space to download or install the update.", "Free disk space on the device (at least 20 GB for a feature update).", ActsCustomer},
	{"DownloadCancelled", "The update download was cancelled, often by a metered connection or a user.", "Let the device download on an unmetered connection; check for policies that cancel downloads.", ActsCustomer},
	{"DownloadConnectionIssue", "The device could not reach the Windows Update endpoints to download the update.", "Allow the Windows Update and Delivery Optimization endpoints through the proxy and firewall.", ActsCustomer},
	{"DownloadCorruption", "The downloaded update content was corrupt.", "Clear the Windows Update download cache on the device; the next scan downloads the update again.", ActsCustomer},
	{"DownloadInsufficientPermissions", "The Windows Update client lacked the permissions to write the download.", "Check the permissions of the SoftwareDistribution folder and any security software blocking it.", ActsCustomer},
	{"DownloadIssue", "The update download failed for another reason.", "Check the device's network and the Windows Update log; the client retries by itself.", ActsCustomer},
	{"EndOfServiceApproaching", "The device's Windows version is close to the end of servicing and will stop receiving quality updates.", "Move the device to a supported feature update.", ActsCustomer},
	{"InstallAccessDenied", "The update installer was denied access to a file or registry key.", "Check security and anti-malware software that blocks the installer; then retry the update.", ActsCustomer},
	{"InstallCancelled", "The installation was cancelled, by a user or a restart.", "Let the device finish the installation; check that maintenance windows allow it.", ActsCustomer},
	{"InstallCorruption", "The installation found corrupt system files.", "Repair the device's Windows image (DISM /RestoreHealth, then sfc /scannow) and retry.", ActsCustomer},
	{"InstallDeviceDriverIssue", "A device driver blocks the installation.", "Update or remove the driver named in the device's setup log.", ActsCustomer},
	{"InstallFileLockout", "A file the update replaces was locked by another process.", "Restart the device and retry; check software that holds system files open.", ActsCustomer},
	{"InstallIssue", "The installation failed for another reason.", "Check the device's Windows Update and setup logs; the client retries by itself.", ActsCustomer},
	{"InstallIssueRedirection", "A redirected known folder or profile prevents the installation.", "Remove the folder redirection of system folders on the device and retry.", ActsCustomer},
	{"InstallMissingInfo", "The installer lacked information it needed about the device or the update.", "Run a Windows Update scan on the device again; if it persists, collect the logs for support.", ActsService},
	{"InstallOutOfMemory", "The device ran out of memory during the installation.", "Close applications or add memory, restart the device and retry.", ActsCustomer},
	{"InstallSetupBlock", "Windows Setup found an application or setting that blocks the feature update.", "Remove or update the blocking application named in the setup compatibility report.", ActsCustomer},
	{"InstallSetupError", "Windows Setup failed while installing the feature update.", "Check the device's setup logs (Panther) for the failing phase and retry.", ActsCustomer},
	{"PolicyConflict", "Another update policy (Group Policy, MDM or registry) conflicts with Patchboard's ring policy.", "Remove the conflicting update policy so that only Patchboard's ring policy applies.", ActsCustomer},
	{"PolicyConflictDeferral", "A deferral set by another policy conflicts with Patchboard's ring policy.", "Remove the conflicting deferral policy.", ActsCustomer},
	{"PolicyConflictPause", "A pause set by another policy conflicts with Patchboard's ring policy.", "Remove the conflicting pause policy.", ActsCustomer},
	{"PostRestartIssue", "The update failed after the device restarted to complete it.", "Check the device's setup logs for the failure; the client retries by itself.", ActsCustomer},
	{"RollbackInitiated", "The installation failed and Windows rolled the update back.", "Check the device's setup logs for the cause of the rollback, fix it and retry.", ActsCustomer},
	{"SafeguardHold", "Microsoft holds the update back from this device because of a known compatibility issue.", "Wait for Microsoft to lift the safeguard hold; nothing is needed on the device.", ActsService},
	{"UnexpectedShutdown", "The device shut down unexpectedly during the installation.", "Keep the device powered during installation and retry.", ActsCustomer},
	{"WUBusy", "The Windows Update client was busy with another operation.", "Nothing: the client retries by itself; restart the device if it persists.", ActsCustomer},
	{"WUComponentMissing", "A component of the Windows Update client is missing.", "Repair the device's Windows image (DISM /RestoreHealth) or reinstall Windows.", ActsCustomer},
	{"WUDamaged", "The Windows Update client is damaged and cannot scan, download or install.", "Repair the Windows Update components on the device (reset them, then DISM /RestoreHealth).", ActsCustomer},
	{"WUDeviceDisconnected", "The device disconnected from Windows Update during the operation.", "Keep the device connected to the network until the update finishes.", ActsCustomer},
	{"WUFailure", "The Windows Update client failed for another reason.", "Check the device's Windows Update log; the client retries by itself.", ActsCustomer},
	{"WUIssue", "The Windows Update client reported an issue.", "Check the device's Windows Update log; the client retries by itself.", ActsCustomer},
}

// UpdateAlertByCode returns the catalogue entry of a code (exact,
// Microsoft's spelling).
func UpdateAlertByCode(code string) (UpdateAlertCode, bool) {
	i := slices.IndexFunc(UpdateAlertCodes, func(a UpdateAlertCode) bool { return a.Code == code })
	if i < 0 {
		return UpdateAlertCode{}, false
	}
	return UpdateAlertCodes[i], true
}

// checkAlertCode accepts a code of the catalogue. A code in another letter
// case is named with its spelling, anything else with examples.
func checkAlertCode(v string) error {
	if _, ok := UpdateAlertByCode(v); ok {
		return nil
	}
	for _, a := range UpdateAlertCodes {
		if strings.EqualFold(a.Code, v) {
			return reasonf("is spelt %s", a.Code)
		}
	}
	return reason("is not a Windows Update alert code Patchboard knows, such as DiskFull, SafeguardHold or PolicyConflict (the catalogue: UpdateAlertCode in /api/v1/openapi.json)")
}
