package clock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerSetsOffset(t *testing.T) {
	defer SetOffset(0)
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := put(`{"offset":"-90s"}`); code != http.StatusOK {
		t.Fatalf("PUT status %d", code)
	}
	if got := Offset(); got != -90*time.Second {
		t.Fatalf("offset %s, want -1m30s", got)
	}
	if d := time.Until(Now()); d > -89*time.Second || d < -91*time.Second {
		t.Fatalf("Now is %s from the machine clock, want about -90s", d)
	}
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var s State
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if s.Offset != "-1m30s" {
		t.Fatalf("GET offset %q", s.Offset)
	}
	if code := put(`{"offset":"soon"}`); code != http.StatusBadRequest {
		t.Fatalf("bad offset: status %d, want 400", code)
	}
	if Offset() != -90*time.Second {
		t.Fatal("a rejected PUT changed the offset")
	}
}
