package normalize

import "strings"

// channelService maps a Windows event log channel, spelled as Windows
// spells it, to the Sigma service, as SigmaHQ's tests/thor.yml and its
// rules' logsource definitions do. Lookups fall back to channelServiceLower
// for collectors that change the case ("security").
var channelService = map[string]string{
	"Application":                                                              "application",
	"Security":                                                                 "security",
	"System":                                                                   "system",
	"Microsoft-Windows-NTLM/Operational":                                       "ntlm",
	"Microsoft-Windows-Sysmon/Operational":                                     "sysmon",
	"Microsoft-Windows-PowerShell/Operational":                                 "powershell",
	"PowerShellCore/Operational":                                               "powershell",
	"Windows PowerShell":                                                       "powershell-classic",
	"Microsoft-Windows-TaskScheduler/Operational":                              "taskscheduler",
	"Microsoft-Windows-WMI-Activity/Operational":                               "wmi",
	"Microsoft-Windows-DHCP-Server/Operational":                                "dhcp",
	"Microsoft-Windows-PrintService/Admin":                                     "printservice-admin",
	"Microsoft-Windows-PrintService/Operational":                               "printservice-operational",
	"Microsoft-Windows-SmbClient/Security":                                     "smbclient-security",
	"Microsoft-Windows-SmbClient/Connectivity":                                 "smbclient-connectivity",
	"Microsoft-Windows-SMBServer/Connectivity":                                 "smbserver-connectivity",
	"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational":       "terminalservices-localsessionmanager",
	"Microsoft-Windows-CodeIntegrity/Operational":                              "codeintegrity-operational",
	"Microsoft-Windows-AppLocker/MSI and Script":                               "applocker",
	"Microsoft-Windows-AppLocker/EXE and DLL":                                  "applocker",
	"Microsoft-Windows-AppLocker/Packaged app-Deployment":                      "applocker",
	"Microsoft-Windows-AppLocker/Packaged app-Execution":                       "applocker",
	"MSExchange Management":                                                    "msexchange-management",
	"Microsoft-Windows-Windows Defender/Operational":                           "windefend",
	"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall":       "firewall-as",
	"Microsoft-Windows-Bits-Client/Operational":                                "bits-client",
	"Microsoft-Windows-Security-Mitigations/Kernel Mode":                       "security-mitigations",
	"Microsoft-Windows-Security-Mitigations/User Mode":                         "security-mitigations",
	"Microsoft-Windows-Diagnosis-Scripted/Operational":                         "diagnosis-scripted",
	"Microsoft-Windows-Shell-Core/Operational":                                 "shell-core",
	"OpenSSH/Operational":                                                      "openssh",
	"Microsoft-Windows-LDAP-Client/Debug":                                      "ldap",
	"Microsoft-Windows-BitLocker/BitLocker Management":                         "bitlocker",
	"Microsoft-Windows-VHDMP/Operational":                                      "vhdmp",
	"Microsoft-Windows-AppXDeploymentServer/Operational":                       "appxdeployment-server",
	"Microsoft-Windows-LSA/Operational":                                        "lsa-server",
	"Microsoft-Windows-AppxPackaging/Operational":                              "appxpackaging-om",
	"Microsoft-Windows-DNS Client Events/Operational":                          "dns-client",
	"Microsoft-Windows-AppModel-Runtime/Admin":                                 "appmodel-runtime",
	"Microsoft-Windows-CAPI2/Operational":                                      "capi2",
	"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational": "certificateservicesclient-lifecycle-system",
	"Microsoft-Windows-Kernel-ShimEngine/Operational":                          "kernel-shimengine",
	"Microsoft-Windows-Kernel-ShimEngine/Diagnostic":                           "kernel-shimengine",
	"Microsoft-Windows-Application-Experience/Program-Telemetry":               "application-experience",
	"Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant": "application-experience",
	"Microsoft-Windows-Ntfs/Operational":                                       "ntfs",
	"Microsoft-Windows-Hyper-V-Worker":                                         "hyper-v-worker",
	"Microsoft-Windows-Kernel-EventTracing":                                    "kernel-event-tracing",
	"Microsoft-Windows-SENSE/Operational":                                      "sense",
	"Microsoft-ServiceBus-Client/Admin":                                        "servicebus-client",
	"Microsoft-ServiceBus-Client/Operational":                                  "servicebus-client",
	"Microsoft-IIS-Configuration/Operational":                                  "iis-configuration",
	// Not in thor.yml; from the requirements written in the rules using them.
	"DNS Server": "dns-server",
	"Microsoft-Windows-DNS-Server/Analytical":                 "dns-server-analytic",
	"Microsoft-Windows-DriverFrameworks-UserMode/Operational": "driver-framework",
}

var channelServiceLower = func() map[string]string {
	m := make(map[string]string, len(channelService))
	for k, v := range channelService {
		m[strings.ToLower(k)] = v
	}
	return m
}()

// providerService is the fallback for events collected from another channel
// (ForwardedEvents): the provider still says where they come from.
var providerService = map[string]string{
	"microsoft-windows-sysmon":            "sysmon",
	"microsoft-windows-security-auditing": "security",
	"microsoft-windows-powershell":        "powershell",
	"powershell":                          "powershell-classic",
}

// sysmonCategory maps Sysmon event ids to Sigma categories (thor.yml).
// Event 12 depends on EventType, see windowsCategory.
var sysmonCategory = map[int64]string{
	1:   "process_creation",
	2:   "file_change",
	3:   "network_connection",
	4:   "sysmon_status",
	5:   "process_termination",
	6:   "driver_load",
	7:   "image_load",
	8:   "create_remote_thread",
	9:   "raw_access_thread",
	10:  "process_access",
	11:  "file_event",
	12:  "registry_event",
	13:  "registry_set",
	14:  "registry_rename",
	15:  "create_stream_hash",
	16:  "sysmon_status",
	17:  "pipe_created",
	18:  "pipe_created",
	19:  "wmi_event",
	20:  "wmi_event",
	21:  "wmi_event",
	22:  "dns_query",
	23:  "file_delete",
	24:  "clipboard_change",
	25:  "process_tampering",
	26:  "file_delete_detected",
	27:  "file_block_executable",
	28:  "file_block_shredding",
	29:  "file_executable_detected",
	255: "sysmon_error",
}

// serviceCategory maps (service, event id) to a category for the other
// channels thor.yml gives categories to.
var serviceCategory = map[string]map[int64]string{
	"security":           {4688: "process_creation"},
	"powershell":         {4103: "ps_module", 4104: "ps_script"},
	"powershell-classic": {400: "ps_classic_start", 600: "ps_classic_provider_start", 800: "ps_classic_script"},
	"windefend": {
		1006: "antivirus", 1007: "antivirus", 1008: "antivirus", 1009: "antivirus",
		1010: "antivirus", 1011: "antivirus", 1012: "antivirus", 1017: "antivirus",
		1018: "antivirus", 1019: "antivirus", 1115: "antivirus", 1116: "antivirus",
	},
}

// categoryFieldMap gives, per category and service, the rule field names
// thor.yml maps onto other event fields: the event gets the rule's name as
// an alias when it lacks it (Security 4688 NewProcessName is Image).
var categoryFieldMap = map[string][][2]string{
	"security/process_creation": {{"Image", "NewProcessName"}, {"ParentImage", "ParentProcessName"}},
	"windefend/antivirus":       {{"Signature", "ThreatName"}, {"Filename", "Path"}},
}

// registryCategories are the specific categories that Sigma's umbrella
// category registry_event covers.
var registryCategories = map[string]bool{
	"registry_add": true, "registry_delete": true, "registry_set": true, "registry_rename": true,
}

// windowsService returns the Sigma service of a channel (or, failing that,
// of a provider).
func windowsService(channel, provider string) string {
	if s, ok := channelService[channel]; ok {
		return s
	}
	if s, ok := channelServiceLower[strings.ToLower(channel)]; ok {
		return s
	}
	if provider == "" {
		return ""
	}
	return providerService[strings.ToLower(provider)]
}

// windowsCategory returns the Sigma category of an event.
func windowsCategory(service string, id int64, eventType string) string {
	if service == "sysmon" {
		if id == 12 {
			switch eventType {
			case "CreateKey":
				return "registry_add"
			case "DeleteKey", "DeleteValue":
				return "registry_delete"
			}
		}
		return sysmonCategory[id]
	}
	return serviceCategory[service][id]
}

// CategoryMatches reports whether an event of category eventCat is offered
// to a rule written for category ruleCat: the same category, or a Sysmon
// registry category under Sigma's umbrella registry_event.
func CategoryMatches(eventCat, ruleCat string) bool {
	if eventCat == ruleCat {
		return true
	}
	return ruleCat == "registry_event" && registryCategories[eventCat]
}
