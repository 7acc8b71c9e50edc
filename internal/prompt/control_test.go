package prompt

import (
	"strings"
	"testing"
)

// TestControlsSayWhatIsGone: a control variant whose description says
// "Control: nothing about A, B, or C" sends none of them, in its system
// prompt or its user turn, so that a reader of the description knows what
// the model read.
func TestControlsSayWhatIsGone(t *testing.T) {
	const lead = "Control: nothing about "
	checked := 0
	for _, s := range every(t, Source{}) {
		if !strings.HasPrefix(s.Description, lead) {
			continue
		}
		list, _, _ := strings.Cut(strings.TrimPrefix(s.Description, lead), ";")
		user, err := s.User(true, goldenRequest)
		if err != nil {
			t.Fatal(err)
		}
		sent := strings.ToLower(s.System + "\n" + user)
		for _, item := range strings.Split(list, ", ") {
			item = strings.TrimPrefix(strings.TrimSpace(item), "or ")
			if item == "" {
				continue
			}
			checked++
			if strings.Contains(sent, strings.ToLower(item)) {
				t.Errorf("%s: the description says nothing about %q, but the prompt mentions it", s.Label(), item)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no control variant's description checked")
	}
}
