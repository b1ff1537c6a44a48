package schedule

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// mustZone loads a zone from the embedded database or fails the test.
func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatalf("LoadZone(%q): %v", name, err)
	}
	return loc
}

func TestLoadZone(t *testing.T) {
	tests := []struct {
		name       string
		when       time.Time
		wantOffset int // seconds east of UTC at when
		wantAbbrev string
	}{
		{"Europe/Berlin", at(2026, 1, 15, 12, 0, 0), 3600, "CET"},
		{"Europe/Berlin", at(2026, 7, 15, 12, 0, 0), 7200, "CEST"},
		{"America/New_York", at(2026, 1, 15, 12, 0, 0), -5 * 3600, "EST"},
		{"America/New_York", at(2026, 7, 15, 12, 0, 0), -4 * 3600, "EDT"},
		{"Asia/Tokyo", at(2026, 7, 15, 12, 0, 0), 9 * 3600, "JST"},
		{"Asia/Kolkata", at(2026, 7, 15, 12, 0, 0), 5*3600 + 1800, "IST"},
		{"Australia/Lord_Howe", at(2026, 1, 15, 12, 0, 0), 11 * 3600, "+11"},
		{"Australia/Lord_Howe", at(2026, 7, 15, 12, 0, 0), 10*3600 + 1800, "+1030"},
		{"Etc/UTC", at(2026, 7, 15, 12, 0, 0), 0, "UTC"},
		{"Etc/GMT+5", at(2026, 7, 15, 12, 0, 0), -5 * 3600, "-05"},
		// Before 1972 Liberia kept a local mean time with seconds in it.
		{"Africa/Monrovia", at(1970, 1, 1, 0, 0, 0), -(44*60 + 30), "MMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.when.Format(time.DateOnly), func(t *testing.T) {
			loc := mustZone(t, tt.name)
			if loc.String() != tt.name {
				t.Errorf("String() = %q, want %q", loc.String(), tt.name)
			}
			abbrev, offset := tt.when.In(loc).Zone()
			if offset != tt.wantOffset || abbrev != tt.wantAbbrev {
				t.Errorf("zone at %v = %s %d, want %s %d", tt.when, abbrev, offset, tt.wantAbbrev, tt.wantOffset)
			}
		})
	}
}

func TestLoadZoneUTC(t *testing.T) {
	for _, name := range []string{"", "UTC"} {
		loc, err := LoadZone(name)
		if err != nil || loc != time.UTC {
			t.Errorf("LoadZone(%q) = %v, %v; want time.UTC", name, loc, err)
		}
	}
}

func TestLoadZoneErrors(t *testing.T) {
	for _, name := range []string{
		"../etc/passwd", "Mars/Olympus", strings.Repeat("A", 65), "Europe/" + strings.Repeat("x", 60),
		"Local", "europe/berlin", "/Europe/Berlin", "Europe//Berlin", "Europe/Berlin/",
		"Europe/./Berlin", "Europe/Berlin\x00", "Europe/Ber lin", "Europe\\Berlin", ".", "..",
		"zone1970.tab", // not in Go's zip
	} {
		t.Run(name, func(t *testing.T) {
			loc, err := LoadZone(name)
			if !errors.Is(err, ErrUnknownZone) {
				t.Fatalf("LoadZone(%q) = %v, %v; want ErrUnknownZone", name, loc, err)
			}
			if want := `unknown time zone "`; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestLoadZoneCaches(t *testing.T) {
	const name = "America/Sao_Paulo"
	var wg sync.WaitGroup
	locs := make([]*time.Location, 8)
	for i := range locs {
		wg.Go(func() { locs[i] = mustZone(t, name) })
	}
	wg.Wait()
	for i := range locs {
		if locs[i] != locs[0] {
			t.Fatalf("LoadZone(%q) returned different locations", name)
		}
	}
	if again := mustZone(t, name); again != locs[0] {
		t.Errorf("LoadZone(%q) is not cached", name)
	}
}

// The zone arithmetic at the clock changes of 2026 in Berlin (01:00 UTC both
// times: 02:00 CET -> 03:00 CEST on March 29th, 03:00 CEST -> 02:00 CET on October
// 25th) and New York (07:00 UTC on March 8th, 06:00 UTC on November 1st).
func TestWallToInstant(t *testing.T) {
	berlin, newYork := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	wall := func(year int, month time.Month, day, hour, minute int) int64 {
		return minuteOf(at(year, month, day, hour, minute, 0))
	}
	tests := []struct {
		name        string
		loc         *time.Location
		wallMinute  int64
		want        time.Time
		wantVisible int64
	}{
		{"Berlin: before the gap", berlin, wall(2026, 3, 29, 1, 59), at(2026, 3, 29, 0, 59, 0), wall(2026, 3, 29, 1, 59)},
		{"Berlin: 02:00 is skipped", berlin, wall(2026, 3, 29, 2, 0), at(2026, 3, 29, 1, 0, 0), wall(2026, 3, 29, 3, 0)},
		{"Berlin: 02:30 is skipped", berlin, wall(2026, 3, 29, 2, 30), at(2026, 3, 29, 1, 0, 0), wall(2026, 3, 29, 3, 0)},
		{"Berlin: 03:00 is the jump", berlin, wall(2026, 3, 29, 3, 0), at(2026, 3, 29, 1, 0, 0), wall(2026, 3, 29, 3, 0)},
		{"Berlin: 02:00 twice, first", berlin, wall(2026, 10, 25, 2, 0), at(2026, 10, 25, 0, 0, 0), wall(2026, 10, 25, 2, 0)},
		{"Berlin: 02:59 twice, first", berlin, wall(2026, 10, 25, 2, 59), at(2026, 10, 25, 0, 59, 0), wall(2026, 10, 25, 2, 59)},
		{"Berlin: 03:00 once", berlin, wall(2026, 10, 25, 3, 0), at(2026, 10, 25, 2, 0, 0), wall(2026, 10, 25, 3, 0)},
		{"New York: 02:15 is skipped", newYork, wall(2026, 3, 8, 2, 15), at(2026, 3, 8, 7, 0, 0), wall(2026, 3, 8, 3, 0)},
		{"New York: 01:30 twice, first", newYork, wall(2026, 11, 1, 1, 30), at(2026, 11, 1, 5, 30, 0), wall(2026, 11, 1, 1, 30)},
		{"Monrovia: seconds in the offset", mustZone(t, "Africa/Monrovia"), wall(1970, 1, 1, 0, 0),
			time.Date(1970, 1, 1, 0, 44, 30, 0, time.UTC), wall(1970, 1, 1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, visible := wallToInstant(tt.loc, tt.wallMinute)
			if got := instant(sec); !got.Equal(tt.want) || visible != tt.wantVisible {
				t.Errorf("wallToInstant = %v, %s; want %v, %s", got, timeOf(visible).Format(time.DateTime),
					tt.want, timeOf(tt.wantVisible).Format(time.DateTime))
			}
		})
	}
}

func TestInstantToWall(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	tests := []struct {
		name       string
		at         time.Time
		wantWall   time.Time // the wall minute, written as if UTC
		wantMinute time.Time // when the clock's minute began
	}{
		{"before the fall-back", at(2026, 10, 25, 0, 30, 20), at(2026, 10, 25, 2, 30, 0), at(2026, 10, 25, 0, 30, 0)},
		// The second 02:30: the window in force is the one of 02:59, whose first
		// occurrence has passed; the play-out still starts at 02:30 CET.
		{"second pass", at(2026, 10, 25, 1, 30, 20), at(2026, 10, 25, 2, 59, 0), at(2026, 10, 25, 1, 30, 0)},
		{"after the second pass", at(2026, 10, 25, 2, 0, 0), at(2026, 10, 25, 3, 0, 0), at(2026, 10, 25, 2, 0, 0)},
		{"after the jump", at(2026, 3, 29, 1, 0, 0), at(2026, 3, 29, 3, 0, 0), at(2026, 3, 29, 1, 0, 0)},
		{"summer", at(2026, 7, 1, 12, 0, 59), at(2026, 7, 1, 14, 0, 0), at(2026, 7, 1, 12, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, start := instantToWall(berlin, tt.at.Unix())
			if !timeOf(m).Equal(tt.wantWall) || !instant(start).Equal(tt.wantMinute) {
				t.Errorf("instantToWall(%v) = %v, %v; want %v, %v", tt.at, timeOf(m), instant(start),
					tt.wantWall, tt.wantMinute)
			}
		})
	}
}
