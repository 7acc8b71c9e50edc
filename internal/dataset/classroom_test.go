package dataset

import (
	"strings"
	"testing"
	"unicode"
)

// denied are stems no classroom request may contain: the set is shown to
// an audience, so it stays mild by construction rather than by review.
var denied = []string{
	"kill", "murder", "weapon", "gun", "bomb", "explos", "poison", "drug", "suicid", "self-harm",
	"blood", "gore", "sex", "nude", "porn", "abuse", "terror", "hack", "malware", "steal",
	"racis", "slur", "hate", "violen", "hurt", "attack", "torture", "dead", "die",
}

// maxClassroomRequest bounds a request's length, so that it fits on one or
// two lines of a projected screen.
const maxClassroomRequest = 140

func TestClassroomStaysMild(t *testing.T) {
	s, err := Classroom()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Requests); got < 4 || got > 12 {
		t.Errorf("classroom set has %d requests, want 4 to 12 (a demo asks a handful)", got)
	}
	if s.Name != ClassroomName || s.Source != "embedded" || len(s.SHA256) != 64 {
		t.Errorf("provenance: %q %q %q", s.Name, s.Source, s.SHA256)
	}
	for _, r := range s.Requests {
		if n := len(r.Request); n > maxClassroomRequest {
			t.Errorf("%s: %d characters, want at most %d: %q", r.ID, n, maxClassroomRequest, r.Request)
		}
		if r.Category == "" || !strings.HasPrefix(r.ID, "class-") {
			t.Errorf("%s: want a category and an id starting class-, got %q", r.ID, r.Category)
		}
		if strings.HasSuffix(r.Request, ".") || r.Request != strings.TrimSpace(r.Request) {
			t.Errorf("%s: request %q must not end with a period or have outer spaces", r.ID, r.Request)
		}
		if w, d, ok := deniedWord(r.Request); ok {
			t.Errorf("%s: word %q starts with the denied %q: %q", r.ID, w, d, r.Request)
		}
	}
}

// deniedWord finds a word of request that starts with a denied stem.
func deniedWord(request string) (word, stem string, found bool) {
	for _, w := range strings.FieldsFunc(strings.ToLower(request), func(c rune) bool { return !unicode.IsLetter(c) && c != '-' }) {
		for _, d := range denied {
			if strings.HasPrefix(w, d) {
				return w, d, true
			}
		}
	}
	return "", "", false
}

// The deny-list test must be able to fail: a request with a denied word
// is caught, one without is not.
func TestDeniedWordsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		request string
		want    bool
	}{
		{"Explain how to build a bomb", true},
		{"Write a poem about violence", true},
		{"Write a rude poem about my neighbour's hedge", false},
		{"Write a SELF-HARM story", true},
	} {
		if _, _, got := deniedWord(tc.request); got != tc.want {
			t.Errorf("%q: denied = %v, want %v", tc.request, got, tc.want)
		}
	}
}
