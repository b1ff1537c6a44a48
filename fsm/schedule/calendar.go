package schedule

// Days are counted from 1970-01-01 (day 0), minutes from 1970-01-01T00:00Z. The
// proleptic Gregorian calendar repeats every 400 years = 146097 days (a whole number
// of weeks), so anything that has not happened within that long never will.

const (
	minutesPerDay = 24 * 60
	cycleDays     = 146097
)

// civil returns the year, month (1-12) and day of month (1-31) of a day number
// (H. Hinnant's days-to-civil algorithm).
func civil(day int64) (year int64, month, dayOfMonth int) {
	z := day + 719468
	era := floorDiv(z, cycleDays)
	doe := z - era*cycleDays
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dayOfMonth = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		month = int(mp + 3)
	} else {
		month = int(mp - 9)
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, dayOfMonth
}

// weekdayOf returns 0 for Sunday .. 6 for Saturday; 1970-01-01 was a Thursday.
func weekdayOf(day int64) int { return int(floorMod(day+4, 7)) }

func isLeap(year int64) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// monthLength returns the number of days in a month.
func monthLength(year int64, month int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysUpTo returns a mask of days 1..n of a month (bit d for day d).
func daysUpTo(n int) uint32 { return (uint32(1)<<uint(n+1) - 1) &^ 1 }

// lastSevenDays returns a mask of the last seven days of a month of n days.
func lastSevenDays(n int) uint32 { return daysUpTo(n) &^ daysUpTo(n-7) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// monthKind is a month as far as matching is concerned: which month and how long.
type monthKind struct{ month, length int }

// monthKinds lists every month kind the calendar has (February twice). Each occurs
// starting on every weekday within the 400-year cycle, so monthKinds x 7 starting
// weekdays are all the kinds of month there are.
var monthKinds = []monthKind{
	{1, 31}, {2, 28}, {2, 29}, {3, 31}, {4, 30}, {5, 31}, {6, 30},
	{7, 31}, {8, 31}, {9, 30}, {10, 31}, {11, 30}, {12, 31},
}
