package handler_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/letter"
)

const countPath = "/api/letters/family-separation/count"

// clock is a time the test moves on, past the handler's own short cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// readCount reads the count as a page would, after the handler's own cache
// has gone stale, and checks the answer carries the letter, the count and
// the goal and nothing else: no one's name, address or email.
func (e *env) readCount(t *testing.T, c *clock) int {
	t.Helper()
	c.advance(time.Minute)
	resp := e.do(t, http.MethodGet, countPath, nil)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", countPath, resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=30" {
		t.Errorf("Cache-Control %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, personal := range []string{"Jane", "jane", "Doe", "Springfield", "Elm", "62701", "example.org"} {
		if strings.Contains(body, personal) {
			t.Errorf("the count carries %q: %s", personal, body)
		}
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"count", "goal", "letter"}) || got["letter"] != "family-separation" || got["goal"] != 0.0 {
		t.Fatalf("count answer %s, want exactly letter, count and goal (0: none set)", body)
	}
	return int(got["count"].(float64))
}

func TestCountMovesOnlyWhenASignatureIsConfirmed(t *testing.T) {
	c := &clock{t: time.Now()}
	e := newConfirmEnv(t, nil, func(s *handler.Settings) { s.Now = c.now })
	if n := e.readCount(t, c); n != 0 {
		t.Fatalf("count %d before anyone signed", n)
	}
	e.postForm(t, signerForm())
	_, link := e.confirmationTo(t, 1, "jane@example.org")
	if n := e.readCount(t, c); n != 0 {
		t.Fatalf("count %d with one signature awaiting confirmation", n)
	}
	if resp := e.do(t, http.MethodPost, link, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirming answered %d", resp.StatusCode)
	}
	if n := e.readCount(t, c); n != 1 {
		t.Fatalf("count %d after the signer confirmed, want 1", n)
	}
	// Another attempt, never confirmed, expires: the count stays.
	other := signerForm()
	other.Set("email", "john@example.org")
	e.postForm(t, other)
	e.confirmationTo(t, 1, "john@example.org")
	backdate(t, e, 30*24*time.Hour)
	if n, err := e.store.Expire(context.Background(), letter.DefaultConfirmTTL); err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v", n, err)
	}
	if n := e.readCount(t, c); n != 1 {
		t.Fatalf("count %d after an attempt expired, want 1", n)
	}
}

func TestCountLeavesHeldLettersOutUntilReleased(t *testing.T) {
	c := &clock{t: time.Now()}
	e := newEnvWith(t, map[string]string{"CAMPAIGN_CONFIRM": "off", "CAMPAIGN_MAX_SIGN_RATE": "1"}, func(s *handler.Settings) { s.Now = c.now })
	second := signerForm()
	second.Set("email", "john@example.org")
	e.postForm(t, signerForm())
	e.postForm(t, second) // past the ceiling of 1 a minute: held
	if n := e.readCount(t, c); n != 1 {
		t.Fatalf("count %d with one letter sent and one held, want 1", n)
	}
	if n, err := e.queue.Release(context.Background(), "", 10); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	if n := e.readCount(t, c); n != 2 {
		t.Fatalf("count %d after the release, want 2", n)
	}
}

// fakeCounter counts what it is told and how often it was asked.
type fakeCounter struct {
	mu    sync.Mutex
	n     int
	err   error
	reads int
}

func (f *fakeCounter) Count(_ context.Context, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.n, f.err
}

func countServer(t *testing.T, goal int, counter handler.Counter, now func() time.Time) *httptest.Server {
	t.Helper()
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	letters["family-separation"].Goal = goal
	s := handler.Settings{Letters: letters, Log: quietLog(), Now: now}
	if counter != nil {
		s.Counter = counter
	}
	srv := httptest.NewServer(handler.New(s))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// svgImage is what the test reads of the image.
type svgImage struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Role    string   `xml:"role,attr"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	Title   string   `xml:"title"`
	Text    string   `xml:"text"`
	Rects   []struct {
		Width string `xml:"width,attr"`
	} `xml:"rect"`
}

// wellFormed reads every token of the document, as any XML parser would.
func wellFormed(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the image is not well-formed XML: %v\n%s", err, doc)
		}
	}
}

func TestCountImage(t *testing.T) {
	for _, tt := range []struct {
		name     string
		n, goal  int
		text     string
		barWidth string // of the filled part; "" for no bar at all
	}{
		{"with a goal", 1234, 10000, "1,234 of 10,000 signatures", "39.5"},
		{"past the goal", 12000, 10000, "12,000 of 10,000 signatures", "320.0"},
		{"nobody yet, with a goal", 0, 500, "0 of 500 signatures", "-"},
		{"without a goal", 1234567, 0, "1,234,567 signatures", ""},
		{"one signature", 1, 0, "1 signature", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := countServer(t, tt.goal, &fakeCounter{n: tt.n}, nil)
			resp, body := get(t, http.MethodGet, srv.URL+countPath+".svg")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/svg+xml") {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=30" {
				t.Errorf("Cache-Control %q", cc)
			}
			wellFormed(t, body)
			var img svgImage
			if err := xml.Unmarshal([]byte(body), &img); err != nil {
				t.Fatal(err)
			}
			if img.Role != "img" || img.Title != tt.text || img.Text != tt.text {
				t.Errorf("role %q, title %q, visible text %q; want img and %q", img.Role, img.Title, img.Text, tt.text)
			}
			if img.Width != 320 || img.Height == 0 {
				t.Errorf("size %d×%d", img.Width, img.Height)
			}
			if strings.Contains(body, "@font-face") || strings.Contains(body, "href") || strings.Contains(body, "url(") {
				t.Errorf("the image loads something:\n%s", body)
			}
			switch tt.barWidth {
			case "":
				if len(img.Rects) != 0 {
					t.Errorf("a bar without a goal:\n%s", body)
				}
			case "-": // the track alone
				if len(img.Rects) != 1 || img.Rects[0].Width != "320" {
					t.Errorf("bar %+v, want the empty track", img.Rects)
				}
			default:
				if len(img.Rects) != 2 || img.Rects[1].Width != tt.barWidth {
					t.Errorf("bar %+v, want the track and %s filled", img.Rects, tt.barWidth)
				}
			}
		})
	}
	// The JSON says the same, with the goal.
	srv := countServer(t, 10000, &fakeCounter{n: 1234}, nil)
	if _, body := get(t, http.MethodGet, srv.URL+countPath); strings.TrimSpace(body) != `{"letter":"family-separation","count":1234,"goal":10000}` {
		t.Errorf("JSON %s", body)
	}
}

func TestCountAnswersErrorsInJSON(t *testing.T) {
	counted := countServer(t, 0, &fakeCounter{n: 3}, nil)
	broken := countServer(t, 0, &fakeCounter{err: errors.New("connection refused")}, nil)
	direct := countServer(t, 0, nil, nil) // no database: sending directly
	for _, tt := range []struct {
		name, method, url string
		status            int
		says              string
	}{
		{"unknown letter", http.MethodGet, counted.URL + "/api/letters/no-such-letter/count", http.StatusNotFound, "does not exist"},
		{"unknown letter's image", http.MethodGet, counted.URL + "/api/letters/no-such-letter/count.svg", http.StatusNotFound, "does not exist"},
		{"no database", http.MethodGet, direct.URL + countPath, http.StatusServiceUnavailable, "DATABASE_URL"},
		{"no database, image", http.MethodGet, direct.URL + countPath + ".svg", http.StatusServiceUnavailable, "DATABASE_URL"},
		{"database down", http.MethodGet, broken.URL + countPath, http.StatusServiceUnavailable, "cannot be read"},
		{"POST", http.MethodPost, counted.URL + countPath, http.StatusMethodNotAllowed, "GET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.method, tt.url)
			var got struct{ Errors map[string]string }
			if resp.StatusCode != tt.status || json.Unmarshal([]byte(body), &got) != nil || len(got.Errors) == 0 || !strings.Contains(body, tt.says) {
				t.Errorf("status %d %s; want %d in JSON saying %q", resp.StatusCode, body, tt.status, tt.says)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("an error is cached: Cache-Control %q", cc)
			}
		})
	}
	if resp, _ := get(t, http.MethodHead, counted.URL+countPath); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD = %d", resp.StatusCode)
	}
}

// A burst of page views on one process reads the database once.
func TestCountIsReadOnceABurst(t *testing.T) {
	c := &clock{t: time.Now()}
	f := &fakeCounter{n: 5}
	srv := countServer(t, 0, f, c.now)
	for range 10 {
		get(t, http.MethodGet, srv.URL+countPath+".svg")
		get(t, http.MethodGet, srv.URL+countPath)
	}
	f.mu.Lock()
	f.n = 6
	f.mu.Unlock()
	c.advance(10 * time.Second)
	if _, body := get(t, http.MethodGet, srv.URL+countPath); !strings.Contains(body, `"count":6`) {
		t.Errorf("a stale count after 10 s: %s", body)
	}
	if f.reads != 2 {
		t.Errorf("the database was read %d times for 21 views in two bursts, want 2", f.reads)
	}
}
