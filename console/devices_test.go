package console_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
)

// Two sensors feed a device-fed collection; the second loses its reading
// 3 on the way (a gap).
const (
	sensorCollection = "sensors"
	sensorA, sensorB = "sensor-a", "sensor-b"
	sensorReadings   = 6 // each
	gapCounter       = 3
)

// seedDevices creates the device-fed collection, registers two sensors
// (each with its consent) and submits their signed readings, the second
// sensor's reading gapCounter never sent. It returns a value of each
// reading, as canaries (a reading's values are as private as a record's).
func seedDevices(t *testing.T, s *seeded) []string {
	t.Helper()
	ctx := t.Context()
	raw, err := os.ReadFile("../testdata/coldchain/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	// Another name than the seed's coldchain collection, same fields.
	raw = []byte(strings.Replace(string(raw), `"coldchain"`, `"`+sensorCollection+`"`, 1))
	sc, err := records.ParseSchema(raw)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := client.New(s.URL, client.WithToken(s.HolderToken))
	if err != nil {
		t.Fatal(err)
	}
	created, err := holder.CreateCollection(ctx, &zkv1.CreateCollectionRequest{Schema: raw, DeviceFed: true})
	if err != nil {
		t.Fatalf("device-fed collection: %v", err)
	}
	recs := readCSV(t, sc, "../testdata/coldchain/shipments.csv")[:2*sensorReadings]
	var readings []*zkv1.Reading
	var values []string
	for i, id := range []string{sensorA, sensorB} {
		sn, err := sensor.New(id, sc)
		if err != nil {
			t.Fatal(err)
		}
		req, err := sn.Registration(created.GetCollection().GetName(), "ColdTrack T8", "truck "+id, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.RegisterDevice(ctx, req); err != nil {
			t.Fatalf("registering %s: %v", id, err)
		}
		for j := range sensorReadings {
			if i == 1 && sn.Next == gapCounter {
				sn.Next++ // lost on the way: never sent, never attested
			}
			rec := recs[i*sensorReadings+j]
			r, err := sn.Read(rec.Values, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			readings = append(readings, r)
			values = append(values, rec.Values[5]) // co2_kg, e.g. "582.06": no hash or time looks like it
		}
	}
	devs, err := client.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := devs.SubmitReadings(ctx, slices.Values(readings))
	if err != nil {
		t.Fatalf("submitting readings: %v", err)
	}
	if int(resp.GetAccepted()) != len(readings) {
		t.Fatalf("%d of %d readings accepted", resp.GetAccepted(), len(readings))
	}
	return values
}

// TestDevicesPage: the devices page lists both sensors with their last
// counters and the gap, and the device-fed collection's page says what
// feeds it; neither shows a reading's values.
func TestDevicesPage(t *testing.T) {
	s := seed(t)
	shipments := seedDevices(t, s)
	v := newVisitor(t, s)
	code, body := v.get("/console/devices")
	if code != 200 {
		t.Fatalf("devices: %d", code)
	}
	mustContain(t, "devices", body, `id="devices"`, "<td>"+sensorA+"</td>", "<td>"+sensorB+"</td>", "ColdTrack T8",
		"<td>3</td>", // sensor-b's gap: counter 3
		"holder/"+sensorCollection)
	// sensor-b's last counter is 7 (six readings, one counter skipped).
	_, rowB, ok := strings.Cut(body, "<td>"+sensorB+"</td>")
	rowB, _, _ = strings.Cut(rowB, "</tr>")
	if !ok {
		t.Fatalf("no row of %s", sensorB)
	}
	if !strings.Contains(rowB, "<td>7</td>") || !strings.Contains(rowB, "<td>1</td>") {
		t.Errorf("sensor-b's row: want last counter 7 and 1 missing: %s", rowB)
	}
	code, coll := v.get("/console/collection/holder/" + sensorCollection)
	if code != 200 {
		t.Fatalf("device-fed collection: %d", code)
	}
	mustContain(t, "device-fed collection", coll, "2 devices", `id="anchors"`)
	for _, page := range []string{body, coll} {
		for _, c := range append(shipments, s.Canaries...) {
			if strings.Contains(page, c) {
				t.Errorf("a page shows %q", c)
			}
		}
	}
}
