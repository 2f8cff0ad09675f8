package respond

import (
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

func minuteAt(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04 Mon", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCronFires(t *testing.T) {
	cases := []struct {
		expr string
		when string // UTC
		want bool
	}{
		{"* * * * *", "2026-11-26 10:07 Thu", true},
		{"*/15 * * * *", "2026-11-26 10:30 Thu", true},
		{"*/15 * * * *", "2026-11-26 10:31 Thu", false},
		{"0 9-17 * * 1-5", "2026-11-26 12:00 Thu", true},
		{"0 9-17 * * 1-5", "2026-11-29 12:00 Sun", false},
		{"0 9-17 * * MON-FRI", "2026-11-26 12:00 Thu", true},
		{"30 2 1 * *", "2026-12-01 02:30 Tue", true},
		{"0 0 * * 7", "2026-11-29 00:00 Sun", true},
		{"0 0 * * 5-7", "2026-11-29 00:00 Sun", true},
		{"0 0 * * 5-7", "2026-11-30 00:00 Mon", false},
		{"0 0 13 * 5", "2026-11-13 00:00 Fri", true},
		{"0 0 13 * 5", "2026-11-20 00:00 Fri", true},
		{"0 0 13 * 5", "2026-11-19 00:00 Thu", false},
		{"5,10 * * * *", "2026-11-26 10:10 Thu", true},
		{"@daily", "2026-11-26 00:00 Thu", true},
		{"@daily", "2026-11-26 00:01 Thu", false},
		{"@hourly", "2026-11-26 13:00 Thu", true},
		{"@weekly", "2026-11-29 00:00 Sun", true},
		{"@monthly", "2026-12-01 00:00 Tue", true},
		// 09:00 in Berlin is 08:00 UTC in winter and 07:00 in summer.
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "2026-11-26 08:00 Thu", true},
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "2026-11-26 09:00 Thu", false},
		{"TZ=Europe/Berlin 0 9 * * *", "2026-07-01 07:00 Wed", true},
		{"CRON_TZ=America/New_York @daily", "2026-11-26 05:00 Thu", true},
	}
	for _, c := range cases {
		if got := cronFires(c.expr, minuteAt(t, c.when)); got != c.want {
			t.Errorf("%q at %s UTC fires = %v, want %v", c.expr, c.when, got, c.want)
		}
	}
}

// The import refuses every schedule the scheduler would never run, and
// names the field at fault; every schedule it accepts, the scheduler runs.
// Before both used playbook.ParseCron, 0 5-3 * * *, /5 * * * * and
// 1,,2 * * * * were imported and then never started.
func TestScheduleImportAgreesWithScheduler(t *testing.T) {
	doc := func(expr string) string {
		return "id: playbook--60db74b3-6572-4ab7-838e-2d6077042e72\nname: t\nmodified: 2025-06-01T00:00:00Z\n" +
			"trigger: {schedule: {cron: '" + expr + "'}}\nstart: a\nsteps:\n  a: end\n"
	}
	refused := []struct{ expr, want string }{
		{"0 5-3 * * *", `hour field "5-3"`},
		{"/5 * * * *", `minute field "/5"`},
		{"1,,2 * * * *", `minute field "1,,2": empty item`},
		{"61 * * * *", `minute field "61"`},
		{"* 24 * * *", `hour field "24"`},
		{"* * 0 * *", `day of month field "0"`},
		{"* * * 13 *", `month field "13"`},
		{"* * * * 8", `day of week field "8"`},
		{"*/0 * * * *", `minute field "*/0"`},
		{"a * * * *", `minute field "a"`},
		{"* * * *", "must have five fields"},
		{"0 0 * * * *", "must have five fields"},
		{"0 0 30 2 *", "never fires"},
		{"0 0 31 4,6,9,11 *", "never fires"},
		{"@every 5m", "every key"},
		{"@fortnightly", "unrecognized descriptor"},
		{"CRON_TZ=Mars/Olympus 0 9 * * *", "unknown time zone"},
		{"CRON_TZ=UTC", "must be followed by a schedule"},
	}
	for _, c := range refused {
		_, errs := playbook.ParseYAML([]byte(doc(c.expr)))
		found := false
		for _, e := range errs {
			if e.Severity == playbook.SeverityError && strings.Contains(e.Msg, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: want an import error containing %q, got %v", c.expr, c.want, errs)
		}
		if cronFires(c.expr, minuteAt(t, "2026-11-26 05:00 Thu")) {
			t.Errorf("%q: refused at import, but the scheduler fires it", c.expr)
		}
	}
	accepted := []struct{ expr, when string }{
		{"0 3-5 * * *", "2026-11-26 04:00 Thu"},
		{"*/5 * * * *", "2026-11-26 04:55 Thu"},
		{"1,2 * * * *", "2026-11-26 04:02 Thu"},
		{"0 0 29 2 *", "2028-02-29 00:00 Tue"},
		{"15 6 * JAN-MAR SAT", "2027-01-02 06:15 Sat"},
		{"@midnight", "2026-11-27 00:00 Fri"},
		{"@yearly", "2027-01-01 00:00 Fri"},
		{"CRON_TZ=Asia/Tokyo 30 8 * * 1-5", "2026-11-26 23:30 Thu"},
		{"  0   6  *  *  *  ", "2026-11-26 06:00 Thu"},
	}
	for _, c := range accepted {
		pb, errs := playbook.ParseYAML([]byte(doc(c.expr)))
		for _, e := range errs {
			if e.Severity == playbook.SeverityError {
				t.Errorf("%q refused at import: %v", c.expr, e)
			}
		}
		if pb == nil || pb.Trigger == nil || pb.Trigger.Schedule == nil {
			t.Fatalf("%q: no schedule decoded", c.expr)
		}
		if !cronFires(pb.Trigger.Schedule.Cron, minuteAt(t, c.when)) {
			t.Errorf("%q accepted at import, but the scheduler does not fire it at %s UTC", c.expr, c.when)
		}
	}
}
