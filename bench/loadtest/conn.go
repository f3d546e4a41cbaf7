package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Conn posts forms over one kept-alive HTTP/1.1 connection, as a browser
// or a proxy does, without http.Client's transport: its two goroutines a
// connection and the hand-offs between them cost about 40 µs of CPU a
// post, which on a 2-core machine the load took from the server it
// measured. Responses are read with net/http's own parser.
type Conn struct {
	target *url.URL
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
}

// Dial opens a connection to target's host (http only).
func Dial(ctx context.Context, target string) (*Conn, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("loadtest: %s: only http", target)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &Conn{target: u, conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// Post posts form and returns the response's status once its body is read.
// An error leaves the connection unusable.
func (c *Conn) Post(form string) (int, error) {
	// As http.Client's timeout did: a stalled server fails the post
	// instead of hanging the run.
	if err := c.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, err
	}
	c.w.WriteString("POST " + c.target.RequestURI() + " HTTP/1.1\r\nHost: " + c.target.Host +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n")
	c.w.WriteString(form)
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		return resp.StatusCode, fmt.Errorf("loadtest: the server closed the connection")
	}
	return resp.StatusCode, err
}

// PostOne posts signature i's form on c (dialled again when nil or after
// an error) and reports it as Post does.
func PostOne(ctx context.Context, c **Conn, target string, i int) Result {
	start := time.Now()
	if *c == nil {
		conn, err := Dial(ctx, target)
		if err != nil {
			// A refused connection fails fast: wait a little, rather than
			// spin on the cores the server shares.
			time.Sleep(10 * time.Millisecond)
			return Result{Index: i, Latency: time.Since(start)}
		}
		*c = conn
	}
	status, err := (*c).Post(Form(i).Encode())
	if err != nil {
		(*c).Close()
		*c = nil
	}
	return Result{Index: i, Status: status, Latency: time.Since(start)}
}
