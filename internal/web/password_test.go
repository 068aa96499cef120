package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	// PHC string format with OWASP's parameters; 16-byte salt, 32-byte key.
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not in the expected PHC form", h)
	}
	if h2, _ := hashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		if ok, err := checkPassword(h, pw); err != nil || ok != want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}

	// Another implementation's hash (argon2-cffi's documented example,
	// m=64 MiB, t=3, p=4) verifies: the format and the algorithm agree.
	const cffi = "$argon2id$v=19$m=65536,t=3,p=4$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg"
	if ok, err := checkPassword(cffi, "correct horse battery staple"); err != nil || !ok {
		t.Errorf("argon2-cffi's hash: %v, %v; want a match", ok, err)
	}
	if ok, err := checkPassword(cffi, "Tr0ub4dor&3"); err != nil || ok {
		t.Errorf("argon2-cffi's hash, wrong password: %v, %v; want no match", ok, err)
	}

	for _, bad := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=19456,t=2,p=1$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=16$m=19456,t=2,p=1$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=19$m=19456,t=2$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=19$m=19456,t=2,p=1,x=1$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=19$m=4194304,t=2,p=1$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg", // 4 GiB
		"$argon2id$v=19$m=19456,t=0,p=1$MIIRqgvgQbgj220jfp0MPA$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg",
		"$argon2id$v=19$m=19456,t=2,p=1$MIIRqgvgQbgj220jfp0MPA$YQ",
	} {
		if ok, err := checkPassword(bad, "x"); err == nil || ok {
			t.Errorf("checkPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestPasswordProblems(t *testing.T) {
	for _, c := range []struct {
		pw, confirm string
		want        []string
	}{
		{"twelve chars", "twelve chars", nil},
		{"ünïcödé-ålsø", "ünïcödé-ålsø", nil}, // 12 characters, more bytes
		{"short", "short", []string{"use at least 12"}},
		{"long enough pass", "long enough pas", []string{"differ"}},
		{strings.Repeat("x", 257), strings.Repeat("x", 257), []string{"at most 256"}},
		{"", "x", []string{"at least 12", "differ"}},
	} {
		got := passwordProblems(c.pw, c.confirm)
		if len(got) != len(c.want) {
			t.Errorf("passwordProblems(%q, %q) = %q, want %d messages", c.pw, c.confirm, got, len(c.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("passwordProblems(%q, %q)[%d] = %q, want it to say %q", c.pw, c.confirm, i, got[i], c.want[i])
			}
		}
	}
}
