package normalize

import (
	"strings"

	"github.com/riposte-soar/riposte/event"
)

// sysKeys are the System names that event data never overrides: the
// logsource and the host are derived from them.
var sysKeys = map[string]bool{"EventID": true, "Channel": true, "Computer": true, "Provider_Name": true}

// setSys writes a System-level field: the keys in sysKeys always, others
// only when event data did not already provide that name.
func setSys(f map[string]any, k string, v any) {
	if v == nil {
		return
	}
	if k == "" {
		k = "_"
	}
	if sysKeys[k] {
		f[k] = v
		return
	}
	setIfAbsent(f, k, v)
}

// setData writes an event data field under its name and, when the name has
// spaces, also under the name without them (as SigmaHQ's tooling does).
func setData(f map[string]any, name string, v any) {
	if name == "" {
		name = "_"
	}
	f[name] = v
	if strings.IndexByte(name, ' ') >= 0 {
		if n := strings.ReplaceAll(name, " ", ""); n != "" {
			f[n] = v
		}
	}
}

// xmlValue converts an evtx_dump value that is not an element with
// attributes: scalars, and arrays (of scalars, or of elements whose text is
// taken).
func xmlValue(v any) any {
	switch x := v.(type) {
	case []any:
		arr := make([]any, 0, len(x))
		for _, e := range x {
			switch ee := e.(type) {
			case map[string]any:
				if t, ok := ee["#text"]; ok {
					arr = append(arr, xmlValue(t))
				} else {
					arr = append(arr, stringify(ee))
				}
			case []any:
				arr = append(arr, stringify(ee))
			default:
				arr = append(arr, scalar(ee))
			}
		}
		return arr
	case map[string]any:
		return stringify(x)
	}
	return scalar(v)
}

// xmlNode writes an evtx_dump element: its text under name, each attribute A
// under name_A, and each child element C as name_C, recursively. set decides
// how a name is written (System or data rules).
func xmlNode(f map[string]any, name string, m map[string]any, depth int, set func(map[string]any, string, any)) {
	if depth >= maxDepth {
		set(f, name, stringify(m))
		return
	}
	for k, v := range m {
		switch {
		case k == "#text":
			set(f, name, xmlValue(v))
		case k == "#attributes":
			attrs, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for a, av := range attrs {
				if a == "xmlns" || strings.HasPrefix(a, "xmlns:") {
					continue
				}
				set(f, underscore(name, a), xmlValue(av))
			}
		case strings.HasPrefix(k, "@"): // xmltodict-style attribute
			if k == "@xmlns" || strings.HasPrefix(k, "@xmlns:") {
				continue
			}
			set(f, name+"_"+k[1:], xmlValue(v))
		default:
			if child, ok := v.(map[string]any); ok {
				xmlNode(f, name+"_"+k, child, depth+1, set)
			} else if v != nil {
				set(f, name+"_"+k, xmlValue(v))
			}
		}
	}
}

// xmlJoined holds the System names every event has, so that writing them
// costs no string concatenation.
var xmlJoined = map[[2]string]string{
	{"Provider", "Name"}:                 "Provider_Name",
	{"Provider", "Guid"}:                 "Provider_Guid",
	{"Provider", "EventSourceName"}:      "Provider_EventSourceName",
	{"EventID", "Qualifiers"}:            "EventID_Qualifiers",
	{"TimeCreated", "SystemTime"}:        "TimeCreated_SystemTime",
	{"Execution", "ProcessID"}:           "Execution_ProcessID",
	{"Execution", "ThreadID"}:            "Execution_ThreadID",
	{"Security", "UserID"}:               "Security_UserID",
	{"Correlation", "ActivityID"}:        "Correlation_ActivityID",
	{"Correlation", "RelatedActivityID"}: "Correlation_RelatedActivityID",
}

// underscore returns name_attr.
func underscore(name, attr string) string {
	if s, ok := xmlJoined[[2]string{name, attr}]; ok {
		return s
	}
	return name + "_" + attr
}

// dataName returns the Name attribute of a <Data Name="..."> element as
// evtx_dump ("#attributes") or xmltodict ("@Name") write it.
func dataName(m map[string]any) (string, bool) {
	if attrs, ok := m["#attributes"].(map[string]any); ok {
		if n, ok := attrs["Name"].(string); ok {
			return n, true
		}
	}
	if n, ok := m["@Name"].(string); ok {
		return n, true
	}
	return "", false
}

// eventData writes the members of EventData or of a UserData root element.
func eventData(f map[string]any, d map[string]any) {
	for k, v := range d {
		if k == "#attributes" || strings.HasPrefix(k, "@") {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if n, ok := dataName(x); ok && k == "Data" {
				setData(f, n, xmlValue(x["#text"]))
				continue
			}
			xmlNode(f, k, x, 1, setData)
		case []any:
			if k == "Data" && namedData(f, x) {
				continue
			}
			setData(f, k, xmlValue(x))
		default:
			setData(f, k, scalar(x))
		}
	}
}

// namedData handles EventData.Data as a list of <Data Name="N">text</Data>
// elements (xmltodict layout). It reports false when the list is unnamed.
func namedData(f map[string]any, list []any) bool {
	named := false
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if n, ok := dataName(m); ok {
			setData(f, n, xmlValue(m["#text"]))
			named = true
		}
	}
	return named
}

// fromEvtx reads evtx_dump's layout: {"Event": {"System": ..., "EventData":
// ..., "UserData": ...}}.
func fromEvtx(evt, sys map[string]any, ev *event.Event) {
	ed, _ := evt["EventData"].(map[string]any)
	ud, _ := evt["UserData"].(map[string]any)
	n := len(sys) + len(ed) + 24
	for _, r := range ud {
		if m, ok := r.(map[string]any); ok {
			n += len(m)
		}
	}
	f := ensureFields(ev, n)

	eventData(f, ed)
	for k, v := range ud {
		if k == "#attributes" || strings.HasPrefix(k, "@") {
			continue
		}
		if root, ok := v.(map[string]any); ok {
			eventData(f, root)
		} else if v != nil {
			setData(f, k, xmlValue(v))
		}
	}
	for k, v := range evt {
		switch k {
		case "System", "EventData", "UserData", "#attributes":
		default:
			if m, ok := v.(map[string]any); ok { // RenderingInfo and the like
				xmlNode(f, k, m, 1, setSys)
			}
		}
	}
	for k, v := range sys {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			xmlNode(f, k, x, 1, setSys)
		default:
			setSys(f, k, xmlValue(x))
		}
	}
	if t, ok := parseTime(f["TimeCreated_SystemTime"]); ok {
		ev.Time = t
	}
	finishWindows(f, ev)
}

// winlogbeat's winlog.* names and the Sigma names they become.
var winlogbeatNames = [][2]string{
	{"winlog.event_id", "EventID"},
	{"winlog.channel", "Channel"},
	{"winlog.computer_name", "Computer"},
	{"winlog.provider_name", "Provider_Name"},
	{"winlog.provider_guid", "Provider_Guid"},
	{"winlog.record_id", "EventRecordID"},
	{"winlog.process.pid", "Execution_ProcessID"},
	{"winlog.process.thread.id", "Execution_ThreadID"},
	{"winlog.user.identifier", "Security_UserID"},
	{"winlog.version", "Version"},
	{"winlog.opcode", "Opcode"},
	{"winlog.task", "Task"},
	{"winlog.keywords", "Keywords"},
	{"winlog.activity_id", "Correlation_ActivityID"},
}

// fromWinlogbeat reads winlogbeat's layout: ECS fields plus winlog.*.
func fromWinlogbeat(obj, wl map[string]any, ev *event.Event) {
	ed, _ := wl["event_data"].(map[string]any)
	ud, _ := wl["user_data"].(map[string]any)
	f := ensureFields(ev, 2*len(obj)+len(wl)+2*len(ed)+len(ud)+32)
	for k, v := range obj {
		if k != "winlog" {
			flattenValue(f, joinKey("", k), v, 1, false)
		}
	}
	for k, v := range ed {
		setData(f, k, xmlValue(v))
	}
	for k, v := range ud {
		if k != "xml_name" {
			setData(f, k, xmlValue(v))
		}
	}
	for k, v := range wl {
		if k != "event_data" && k != "user_data" {
			flattenValue(f, joinKey("winlog", k), v, 2, false)
		}
	}
	for _, p := range winlogbeatNames {
		if v, ok := f[p[0]]; ok {
			setSys(f, p[1], v)
		}
	}
	if _, ok := f["EventID"]; !ok {
		if v, ok := f["event.code"]; ok {
			f["EventID"] = v
		}
	}
	if !present(toString(f["Computer"])) {
		if h := firstString(f, "host.name", "host.hostname"); h != "" {
			f["Computer"] = h
		}
	}
	if t, ok := parseTime(f["@timestamp"]); ok {
		ev.Time = t
	}
	finishWindows(f, ev)
}

// nxlog's im_msvistalog names and the Sigma names they become.
var flatNames = [][2]string{
	{"Hostname", "Computer"},
	{"SourceName", "Provider_Name"},
	{"ProviderGuid", "Provider_Guid"},
	{"RecordNumber", "EventRecordID"},
	{"ExecutionProcessID", "Execution_ProcessID"},
	{"ThreadID", "Execution_ThreadID"},
	{"UserID", "Security_UserID"},
	{"ActivityID", "Correlation_ActivityID"},
}

// fromFlat reads flat Windows events (nxlog, OTRF): System and event data
// names side by side at the top level.
func fromFlat(obj map[string]any, ev *event.Event) {
	var f map[string]any
	if ev.Fields == nil && flatScalars(obj) {
		// The common case (nxlog, OTRF): every value is already a scalar
		// under a usable name, so the decoded map becomes the fields
		// map, converted in place, instead of being copied key by key.
		for k, v := range obj {
			obj[k] = scalar(v)
		}
		f = obj
		ev.Fields = f
	} else {
		f = ensureFields(ev, len(obj)+24)
		for k, v := range obj {
			flattenValue(f, joinKey("", k), v, 1, false)
		}
	}
	for _, p := range flatNames {
		if v, ok := f[p[0]]; ok {
			if _, has := f[p[1]]; !has || p[1] == "Computer" {
				f[p[1]] = v
			}
		}
	}
	for _, k := range []string{"@timestamp", "TimeCreated", "EventTime"} {
		if t, ok := parseTime(f[k]); ok {
			ev.Time = t
			break
		}
	}
	finishWindows(f, ev)
}

// finishWindows derives what all Windows layouts share: EventID as int64,
// host, logsource, thor.yml field aliases and the ECS entity keys.
func finishWindows(f map[string]any, ev *event.Event) {
	id, hasID := toInt64(f["EventID"])
	if hasID {
		f["EventID"] = id
	}
	if h := toString(f["Computer"]); present(h) {
		ev.Host = h
	}
	service := windowsService(toString(f["Channel"]), toString(f["Provider_Name"]))
	ev.LogSource = event.LogSource{Product: "windows", Service: service}
	if hasID {
		ev.LogSource.Category = windowsCategory(service, id, toString(f["EventType"]))
	}
	for _, m := range categoryFieldMap[service+"/"+ev.LogSource.Category] {
		if v, ok := f[m[1]]; ok {
			setIfAbsent(f, m[0], v)
		}
	}
	windowsECS(f, ev)
}

// windowsECS sets the ECS entity keys from Windows (Sysmon, Security) names.
func windowsECS(f map[string]any, ev *event.Event) {
	if ev.Host != "" {
		setIfAbsent(f, "host.name", ev.Host)
	}
	switch {
	case present(toString(f["User"])):
		setUser(f, toString(f["User"]), "")
	case present(toString(f["TargetUserName"])):
		setUser(f, toString(f["TargetUserName"]), toString(f["TargetDomainName"]))
	case present(toString(f["SubjectUserName"])):
		setUser(f, toString(f["SubjectUserName"]), toString(f["SubjectDomainName"]))
	}
	if s := firstString(f, "Image", "NewProcessName"); s != "" {
		setIfAbsent(f, "process.executable", s)
	}
	if s := firstString(f, "CommandLine"); s != "" {
		setIfAbsent(f, "process.command_line", s)
	}
	if s := firstString(f, "ParentImage", "ParentProcessName"); s != "" {
		setIfAbsent(f, "process.parent.executable", s)
	}
	if s := firstString(f, "TargetFilename"); s != "" {
		setIfAbsent(f, "file.path", s)
	}
	if s := firstString(f, "Hashes", "Hash"); s != "" {
		setHashes(f, s)
	}
	setIP(f, "source", firstString(f, "SourceIp", "IpAddress", "SourceAddress"))
	setIP(f, "destination", firstString(f, "DestinationIp", "DestAddress"))
	if s := firstString(f, "SourcePort", "IpPort"); s != "" {
		setPort(f, "source.port", s)
	}
	if s := firstString(f, "DestinationPort", "DestPort"); s != "" {
		setPort(f, "destination.port", s)
	}
}

// flatScalars reports whether every value is a scalar under a non-empty key,
// so that the object needs no flattening.
func flatScalars(obj map[string]any) bool {
	for k, v := range obj {
		if k == "" {
			return false
		}
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}
