package playbook

import (
	"fmt"
	"strings"
	"time"

	// Time zones in CRON_TZ= must resolve on hosts without a zoneinfo
	// database (minimal containers), as everything else Riposte needs is
	// embedded too.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// cronParser is the one parser of schedule expressions: the linter refuses
// exactly what the scheduler could not run, because both call ParseCron.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var cronFieldNames = [5]string{"minute", "hour", "day of month", "month", "day of week"}

// ParseCron parses a schedule trigger's cron expression: five fields
// (minute hour day-of-month month day-of-week), or a descriptor such as
// @daily, optionally preceded by CRON_TZ=Zone or TZ=Zone. Without a zone
// the schedule is evaluated in UTC, since the scheduler asks in UTC.
// Errors name the field at fault, and an expression that parses but can
// never fire (30 February) is refused too.
func ParseCron(expr string) (cron.Schedule, error) {
	// One space between fields: the library finds the zone's end at the
	// first space, and panics when there is none.
	spec := strings.Join(strings.Fields(expr), " ")
	body := spec
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		zone, rest, ok := strings.Cut(spec, " ")
		if !ok {
			return nil, fmt.Errorf("cron %q: the time zone %s must be followed by a schedule", expr, zone)
		}
		if _, err := time.LoadLocation(zone[strings.IndexByte(zone, '=')+1:]); err != nil {
			return nil, fmt.Errorf("cron %q: unknown time zone in %s", expr, zone)
		}
		body = rest
	}
	if strings.HasPrefix(body, "@every") {
		// An interval measured from whenever the node started has no
		// stable slot, so two nodes or a restart would start it twice.
		return nil, fmt.Errorf("cron %q: use the schedule's every key instead of @every", expr)
	}
	if !strings.HasPrefix(body, "@") {
		fields := strings.Fields(body)
		if len(fields) != 5 {
			return nil, fmt.Errorf("cron %q must have five fields (minute hour day-of-month month day-of-week), not %d", expr, len(fields))
		}
		for i, f := range fields {
			if err := checkCronField(i, f); err != nil {
				return nil, fmt.Errorf("cron %q: %s field %q: %v", expr, cronFieldNames[i], f, err)
			}
		}
		fields[4] = sundaySeven(fields[4])
		spec = strings.TrimSuffix(spec, body) + strings.Join(fields, " ")
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %v", expr, err)
	}
	if s.Next(time.Now().UTC()).IsZero() {
		return nil, fmt.Errorf("cron %q never fires: no month in its month field has the day in its day-of-month field", expr)
	}
	return s, nil
}

// checkCronField parses field i alone, the others left at "*", so that an
// error can name the field; the library's own errors do not.
func checkCronField(i int, f string) error {
	for _, item := range strings.Split(f, ",") {
		if item == "" {
			// The library skips empty list items; a typo like 1,,2 is
			// more likely a lost value than an intended list of two.
			return fmt.Errorf("empty item in the list")
		}
	}
	probe := []string{"*", "*", "*", "*", "*"}
	probe[i] = f
	if i == 4 {
		probe[i] = sundaySeven(f)
	}
	if _, err := cronParser.Parse(strings.Join(probe, " ")); err != nil {
		if i == 4 {
			return fmt.Errorf("%v (days of week are 0-6 or SUN-SAT; 7 is Sunday only alone or at a range's end)", err)
		}
		return err
	}
	return nil
}

// sundaySeven rewrites the 7 that classic cron accepts for Sunday, alone
// ("7") or ending a range ("5-7"), into the library's 0..6.
func sundaySeven(f string) string {
	items := strings.Split(f, ",")
	for i, item := range items {
		switch {
		case item == "7":
			items[i] = "0"
		case strings.HasSuffix(item, "-7") && !strings.Contains(item, "/"):
			items[i] = strings.TrimSuffix(item, "-7") + "-6,0"
		}
	}
	return strings.Join(items, ",")
}
