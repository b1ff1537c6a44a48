package schedule

import "math/bits"

// directive is one parsed schedule line, compiled to bitmasks.
type directive struct {
	text    string
	key     int    // index into Schedule.keys
	minutes uint64 // bit m: minute m of the hour
	hours   uint32 // bit h: hour h of the day
	months  uint16 // bit m: month m (1-12)
	// days[n-28] has bit d when day d matches the day-of-month field in a month of
	// n days (the field can depend on the month's length: L, zN).
	days [4]uint32
	// weekdays has bit w (0 = Sunday) for weekdays that match on any day;
	// lastWeekdays for those that match only in the month's last seven days ("lN").
	weekdays, lastWeekdays uint8
	// weekdaysByFirst[w] has bit d when day d of a month starting on weekday w
	// matches the day-of-week field's plain pieces.
	weekdaysByFirst [7]uint32
	// weekdaysInLastWeekByFirst[w] is the same for its "lN" pieces, which also need
	// the day to be in the last seven days of the month (see daysIn).
	weekdaysInLastWeekByFirst [7]uint32
	// minutesPerDay is how many minutes of a matching day the directive is active.
	minutesPerDay int
}

func newDirective(text string, f [5]field) directive {
	d := directive{text: text}
	d.minutes = maskOf(f[fieldMinute], fieldMinute)
	d.hours = uint32(maskOf(f[fieldHour], fieldHour))
	d.months = uint16(maskOf(f[fieldMonth], fieldMonth))
	for n := 28; n <= 31; n++ {
		d.days[n-28] = dayOfMonthMask(f[fieldDayOfMonth], n)
	}
	d.weekdays = uint8(maskOf(f[fieldDayOfWeek], fieldDayOfWeek))
	d.lastWeekdays = f[fieldDayOfWeek].lastWeek
	for first := 0; first < 7; first++ {
		for day := 1; day <= 31; day++ {
			w := (first + day - 1) % 7
			if d.weekdays&(1<<uint(w)) != 0 {
				d.weekdaysByFirst[first] |= 1 << uint(day)
			}
			if d.lastWeekdays&(1<<uint(w)) != 0 {
				d.weekdaysInLastWeekByFirst[first] |= 1 << uint(day)
			}
		}
	}
	d.minutesPerDay = bits.OnesCount64(d.minutes) * bits.OnesCount32(d.hours)
	return d
}

// maskOf returns the values a plain field matches.
func maskOf(f field, which fieldIndex) uint64 {
	spec := fieldSpecs[which]
	if f.any {
		return (uint64(1)<<uint(spec.hi+1) - 1) &^ (uint64(1)<<uint(spec.lo) - 1)
	}
	return f.allowed
}

// dayOfMonthMask evaluates the day-of-month field for every day of a month of n
// days, piece by piece as the library does.
func dayOfMonthMask(f field, n int) uint32 {
	var mask uint32
	for day := 1; day <= n; day++ {
		if dayOfMonthMatches(f, day, n) {
			mask |= 1 << uint(day)
		}
	}
	return mask
}

func dayOfMonthMatches(f field, day, n int) bool {
	for _, r := range f.monthEnd {
		switch r.kind {
		case lastDay:
			if day == n {
				return true
			}
		case beforeLast:
			return day == n-r.a // decides the field, whatever follows
		case beforeLastIn:
			if day >= n-r.b && day <= n-r.a {
				return true
			}
		}
	}
	return f.any || f.allowed&(1<<uint(day)) != 0
}

// daysIn returns the days (bit d for day d) on which the directive is active in a
// month of the given kind starting on weekday first.
func (d *directive) daysIn(month, length, first int) uint32 {
	if d.months&(1<<uint(month)) == 0 {
		return 0
	}
	weekdays := d.weekdaysByFirst[first] | d.weekdaysInLastWeekByFirst[first]&lastSevenDays(length)
	return d.days[length-28] & weekdays & daysUpTo(length)
}

// activeOnDay reports whether the directive is active on some minutes of a day.
func (d *directive) activeOnDay(c *dayInfo) bool {
	return d.daysIn(c.month, c.length, c.first)&(1<<uint(c.dayOfMonth)) != 0
}

// activeAt reports whether the directive is active at a minute of an active day.
func (d *directive) activeAt(minuteOfDay int) bool {
	return d.hours&(1<<uint(minuteOfDay/60)) != 0 && d.minutes&(1<<uint(minuteOfDay%60)) != 0
}

// neverActive reports whether no calendar day has the directive active.
func (d *directive) neverActive() bool {
	for _, k := range monthKinds {
		for first := 0; first < 7; first++ {
			if d.daysIn(k.month, k.length, first) != 0 {
				return false
			}
		}
	}
	return true
}

// dayInfo is what matching needs to know about a day.
type dayInfo struct {
	day        int64 // days since 1970-01-01
	year       int64
	month      int
	dayOfMonth int
	length     int // days in the month
	first      int // weekday of the month's first day
}

func dayInfoOf(day int64) dayInfo {
	y, m, dom := civil(day)
	return dayInfo{
		day: day, year: y, month: m, dayOfMonth: dom,
		length: monthLength(y, m),
		first:  weekdayOf(day - int64(dom-1)),
	}
}
