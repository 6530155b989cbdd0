package local

import "testing"

func TestPortPickerNeverRepeats(t *testing.T) {
	p := newPortPicker()
	hi := ephemeralLow()
	seen := map[int]bool{}
	for range 300 {
		port, err := p.pick()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		// Below the ephemeral range, so no outgoing connection can take it while a killed
		// region waits to be restored on the same ports.
		if hi-lowestPort >= minPortRange && (port < lowestPort || port >= hi) {
			t.Fatalf("port %d outside [%d, %d)", port, lowestPort, hi)
		}
	}
}
