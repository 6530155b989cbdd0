package bugs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTableNamesAreUniqueHyphenatedAndDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Table {
		for _, n := range append([]string{string(s.Name)}, s.Aliases...) {
			if seen[n] || strings.ContainsAny(n, "_ ") || n != strings.ToLower(n) {
				t.Errorf("%s: name or alias %q is a duplicate or not lower-case hyphenated", s.Name, n)
			}
			seen[n] = true
		}
		if s.Area == "" || s.Breaks == "" || len(s.Readers) == 0 || s.Exposed == "" || s.Caught == "" {
			t.Errorf("%s: every row says what it breaks, who reads it, what exposes it and what catches it", s.Name)
		}
		if (s.Param == "") != (s.DefaultParam == 0) {
			t.Errorf("%s: a parameter needs both its meaning and its default", s.Name)
		}
	}
}

func TestParse(t *testing.T) {
	set, err := Parse("skip_checksum, router-ignores-epochs=5s,no-fencing")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := set.String(), "no-fencing,router-ignores-epochs=5s,skip-checksum"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !set.On(SkipChecksum) || set.On(AckBeforeCommit) {
		t.Errorf("On: skip-checksum %v (want true), ack-before-commit %v (want false)", set.On(SkipChecksum), set.On(AckBeforeCommit))
	}
	if got := set.Param(RouterIgnoresEpochs); got != 5*time.Second {
		t.Errorf("Param = %s, want 5s", got)
	}
	if again, err := Parse(set.String()); err != nil || again.String() != set.String() {
		t.Errorf("round trip: %q, %v", again.String(), err)
	}
	def, _ := Parse("router_ignores_epochs_for")
	if got := def.Param(RouterIgnoresEpochs); got != 10*time.Second {
		t.Errorf("alias without parameter: Param = %s, want the default 10s", got)
	}
	if empty, err := Parse(""); err != nil || !empty.IsZero() || empty.Param(RouterIgnoresEpochs) != 0 {
		t.Errorf(`Parse("") = %q, %v; want the empty set`, empty.String(), err)
	}
	for in, want := range map[string]string{
		"no-fencin":                   `unknown unsafe switch "no-fencin" (known: ack-before-commit, `,
		"no-fencing=1s":               "takes no parameter",
		"router-ignores-epochs=later": "want a positive duration",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	var unknown UnknownError
	if _, err := Parse("bogus"); !errors.As(err, &unknown) || unknown.Name != "bogus" {
		t.Errorf("Parse(bogus) = %v, want an UnknownError", err)
	}
}

func TestCheckDurability(t *testing.T) {
	var de DurabilityError
	if err := Of(NoReplication).CheckDurability(""); !errors.As(err, &de) || de.Want != "async" {
		t.Errorf("no-replication on sync-geo: %v, want a DurabilityError wanting async", err)
	}
	if err := Of(AckBeforeCommit).CheckDurability("async"); !errors.As(err, &de) || de.Want != "sync-geo" {
		t.Errorf("ack-before-commit on async: %v, want a DurabilityError wanting sync-geo", err)
	}
	if err := Of(NoReplication, SkipChecksum).CheckDurability("async"); err != nil {
		t.Errorf("no-replication on async: %v", err)
	}
}
