package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	"github.com/zkshare/zkshare/device"
	"github.com/zkshare/zkshare/device/sensor"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
)

// swapTry is one way the supplier tries to replace a bad reading, and the
// code the node must refuse it with.
type swapTry struct {
	label string
	want  connect.Code
	try   func(context.Context) error
}

// demoSwap shows the supplier trying to make the bad lot pass by swapping
// one of its readings above 8.0 °C for one at 4.0 °C: in place, by
// re-sending the signed reading with other values, by forging the sensor's
// next reading with another key, and by replaying an earlier good reading.
// Each must be refused with its code; one that is not fails the demo.
func demoSwap(ctx context.Context, url string, supplier *client.Client, sc *records.Schema, fleet []*sensor.Sensor, recs []records.Record,
	readings []*zkv1.Reading, badLot string, stdout, stderr io.Writer) error {
	temp := slices.IndexFunc(sc.Fields, func(f records.Field) bool { return f.Name == "max_temp" })
	i, j := swapTargets(recs, badLot, len(fleet), temp)
	if i < 0 || j < 0 {
		return fmt.Errorf("supplier demo: lot %s has no reading above 8.0 °C with an earlier good one from the same sensor", badLot)
	}
	target, s := readings[i], fleet[i%len(fleet)]
	key := device.ReadingKey(target.GetAttestation().GetDeviceId(), target.GetAttestation().GetCounter())
	goodVals := slices.Clone(recs[i].Values)
	goodVals[temp] = "4.0"
	swapped := []records.Record{{Key: key, Values: goodVals}}
	devices, err := client.New(url)
	if err != nil {
		return err
	}
	submit := func(r *zkv1.Reading) error {
		_, err := devices.SubmitReadings(ctx, slices.Values([]*zkv1.Reading{r}))
		return err
	}
	replay := readings[j].GetAttestation()
	tries := []swapTry{
		{"(a) UpdateRecords " + key + " to 4.0 °C", connect.CodeFailedPrecondition, func(ctx context.Context) error {
			_, err := supplier.Update(ctx, sc.Name, swapped)
			return err
		}},
		{"(a) CommitRecords " + key + " at 4.0 °C", connect.CodeFailedPrecondition, func(ctx context.Context) error {
			_, err := supplier.Commit(ctx, sc.Name, slices.Values(swapped))
			return err
		}},
		{"(b) re-send " + key + "'s signed attestation at 4.0 °C", connect.CodeInvalidArgument, func(context.Context) error {
			return submit(alteredOpening(target, temp, "4.0"))
		}},
		{"(c) forge " + device.ReadingKey(s.ID, s.Next) + " at 4.0 °C with another key", connect.CodeUnauthenticated, func(context.Context) error {
			r, err := forgedReading(s, s.Next, goodVals, time.Now())
			if err != nil {
				return err
			}
			return submit(r)
		}},
		{"(d) replay " + device.ReadingKey(replay.GetDeviceId(), replay.GetCounter()) + "'s attestation, a reading in range", connect.CodeFailedPrecondition, func(context.Context) error {
			// The attestation alone, as a relayer sends it: the whole
			// reading again is a retry, which changes nothing.
			return submit(&zkv1.Reading{Attestation: replay})
		}},
	}
	fprintf(stderr, "\n9. the supplier tries to make lot %s pass by swapping reading %s (above 8.0 °C) for one at 4.0 °C:\n\n", badLot, key)
	tw := newTable(stdout)
	for _, t := range tries {
		err := t.try(ctx)
		if err == nil {
			return fmt.Errorf("supplier demo: %s was accepted; the node must refuse it with %v", t.label, t.want)
		}
		code, msg := refusal(err)
		if code != t.want {
			return fmt.Errorf("supplier demo: %s: got %v (%s), want a refusal with %v", t.label, code, msg, t.want)
		}
		// A single reading's call: the count before it says nothing here.
		msg = strings.TrimSuffix(msg, " (0 readings of this call were attested before it)")
		fprintf(tw, "%s\trefused\t%s: %s\n", t.label, code, msg)
	}
	return tw.Flush()
}

// swapTargets finds the first reading of badLot above 8.0 °C (row i) and
// an earlier reading at or below 8.0 °C of the same sensor (row j), or -1.
func swapTargets(recs []records.Record, badLot string, sensors, temp int) (i, j int) {
	i = -1
	for k, r := range recs {
		if t, _ := strconv.ParseFloat(r.Values[temp], 64); t > 8.0 && r.Values[0] == badLot {
			i = k
			break
		}
	}
	if i < 0 {
		return -1, -1
	}
	for k := i - sensors; k >= 0; k -= sensors {
		if t, _ := strconv.ParseFloat(recs[k].Values[temp], 64); t <= 8.0 {
			return i, k
		}
	}
	return i, -1
}
