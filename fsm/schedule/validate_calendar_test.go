package schedule

import (
	"math/rand"
	"testing"
	"time"
)

// bruteForceOverlap walks a whole 400-year cycle day by day, with time.Time's
// calendar, and reports whether two directives are ever active in one minute.
func bruteForceOverlap(s *Schedule) bool {
	day := at(2000, 1, 1, 0, 0, 0)
	for i := 0; i < cycleDays; i++ {
		y, mo, d := day.Date()
		length := time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day()
		w := uint(day.Weekday())
		var hours, minutes []uint64
		for _, dir := range s.dirs {
			weekdayOK := dir.weekdays&(1<<w) != 0 || (d > length-7 && dir.lastWeekdays&(1<<w) != 0)
			if dir.months&(1<<uint(mo)) == 0 || dir.days[length-28]&(1<<uint(d)) == 0 || !weekdayOK {
				continue
			}
			for j := range hours {
				if hours[j]&uint64(dir.hours) != 0 && minutes[j]&dir.minutes != 0 {
					return true
				}
			}
			hours, minutes = append(hours, uint64(dir.hours)), append(minutes, dir.minutes)
		}
		day = day.Add(24 * time.Hour)
	}
	return false
}

func TestValidateAgainstWholeCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 400 years per schedule")
	}
	rng := rand.New(rand.NewSource(2))
	pick := func(options ...string) string { return options[rng.Intn(len(options))] }
	checked := 0
	for checked < 40 {
		// Rare day combinations, where a year's scan would miss the overlap.
		text := pick("0 0 29 2 * 60", "0 0 29 2 mon 60", "0 0 L 2 * 60", "0 0 z1 * sun 60", "0 0 13 * fri 60") +
			"; " + pick("0 0 * * mon 30", "0 0 * * fri 30", "0 0 28 2 * 30", "0 0 * 3 * 30",
			"0 0 1-28 * * 30", "0 0 * * l1 30", "0 0 27 * sun 30", "0 0 12 * * 30")
		s, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		if want, got := bruteForceOverlap(s), s.Validate() != nil; got != want {
			t.Errorf("%q: Validate says overlap %v, the whole cycle says %v", text, got, want)
		}
		checked++
	}
}
