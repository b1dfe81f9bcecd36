package api

import (
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/server/store"
)

// encodeDeviceQuery is the query string that asks for f (the inverse of parseDeviceQuery).
func encodeDeviceQuery(f store.DeviceFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Search, "os": f.OS, "band": f.Band, "min_band": f.MinBand, "signal": f.Signal, "group": f.Group, "triage": f.Triage} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.SeenSince.IsZero() {
		q.Set("seen_since", f.SeenSince.Format(time.RFC3339Nano))
	}
	q.Set("sort", f.Sort)
	q.Set("order", map[bool]string{true: "desc", false: "asc"}[f.Desc])
	q.Set("limit", strconv.Itoa(f.Limit))
	q.Set("offset", strconv.Itoa(f.Offset))
	return q
}

// FuzzDeviceQuery pins the device listing's parameter parser: it never panics, what it accepts
// is within bounds and means the same when asked for again, and what it rejects names a
// parameter of the request.
func FuzzDeviceQuery(f *testing.F) {
	for _, seed := range []string{
		"", "q=laptop&os=linux&band=high&sort=score&order=asc&limit=10&offset=20",
		"min_band=medium&signal=kvm.*&group=helpdesk&triage=confirmed_farm&seen_since=2026-11-22T10:00:00Z",
		"seen_since=2026-11-22T12:00:00.5%2B02:00", "limit=0", "limit=99999999999999999999", "offset=-1",
		"band=high&band=low", "signal=..", "q=%ff", "sort=hostname", "nope=1", "q=%25_%5C",
	} {
		f.Add(seed)
	}
	allowed := testRoutes(f)["GET devices"].params
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		err = checkParams(q, allowed)
		var df store.DeviceFilter
		if err == nil {
			df, err = parseDeviceQuery(q, true)
		}
		if err != nil {
			pe, ok := err.(*paramError)
			if !ok || !q.Has(pe.Param) || pe.Reason == "" {
				t.Fatalf("%q: error %v does not name a parameter of the request", raw, err)
			}
			return
		}
		if df.Limit < 1 || df.Limit > maxLimit || df.Offset < 0 || df.Offset > maxOffset {
			t.Fatalf("%q: limit %d offset %d out of bounds", raw, df.Limit, df.Offset)
		}
		if _, ok := sorts[df.Sort]; !ok {
			t.Fatalf("%q: sort %q", raw, df.Sort)
		}
		for _, b := range []string{df.Band, df.MinBand} {
			if b != "" && !slices.Contains(bands, b) {
				t.Fatalf("%q: band %q", raw, b)
			}
		}
		if df.Triage != "" && !store.ValidTriage(df.Triage) {
			t.Fatalf("%q: triage %q", raw, df.Triage)
		}
		if df.Signal != "" && !validSignal(df.Signal) {
			t.Fatalf("%q: signal %q", raw, df.Signal)
		}
		for _, s := range []string{df.Search, df.OS, df.Group} {
			if len(s) > maxParamBytes || !utf8.ValidString(s) {
				t.Fatalf("%q: string parameter %q accepted", raw, s)
			}
		}
		if !df.SeenSince.IsZero() && df.SeenSince.Location() != time.UTC {
			t.Fatalf("%q: seen_since %v not UTC", raw, df.SeenSince)
		}
		again, err := parseDeviceQuery(encodeDeviceQuery(df), true)
		if err != nil || !again.SeenSince.Equal(df.SeenSince) {
			t.Fatalf("%q: re-parsing %+v: %+v, %v", raw, df, again, err)
		}
		again.SeenSince = df.SeenSince
		if again != df {
			t.Fatalf("%q: round trip changed %+v to %+v", raw, df, again)
		}
	})
}

func testRoutes(tb testing.TB) map[string]route {
	a, err := New(Options{Store: &store.SQLite{}, Policy: &controller{}})
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]route{}
	for _, rt := range a.routes {
		m[rt.method+" "+rt.path] = rt
	}
	return m
}
