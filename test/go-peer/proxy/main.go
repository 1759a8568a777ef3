// Command proxy is a test peer: a minimal tower proxy built on the libraries the Go tower
// uses (gorilla/websocket, golang.org/x/crypto/ssh), written from docs/protocol.md §1–§4.
//
// It serves one cluster (--name, --token). An accepted agent's services are reachable
// through two plain TCP forwarders: each connection to --kubesphere-listen (or
// --kubernetes-listen) becomes a `kubesphere` channel whose open data is the raw
// KubeSphereSvcHost (or KubernetesSvcHost) from the agent's config. The forwarders carry
// bytes only: TLS and credentials towards the member kube-apiserver are the client's job.
//
// Like the Go tower proxy, the 101 answer carries no Sec-WebSocket-Protocol header (its
// gorilla Upgrader lists no subprotocols); --echo-subprotocol makes it name kubesphere-v1.
//
// Standard output carries one line per event, for the test to wait on:
//
//	LISTENING <addr>              the agent endpoint (HTTP → WebSocket)
//	FORWARD kubesphere <addr>     the forwarders
//	FORWARD kubernetes <addr>
//	SSH-CLIENT-VERSION <line>     the agent's identification line
//	AGENT CONNECTED <json>        config accepted; the JSON names no secret (hashes only)
//	AGENT REJECTED <json>         config refused with "Unauthorized agent"
//	REJECTED-SESSION-CLOSED       a refused agent hung up (this proxy leaves it open)
//	PING                          the first ping request of a session
//	REQUEST <type> <want-reply>   any other global request after the config
//	CHANNEL-FAILED <target> <err> an OpenChannel the agent refused
//	SESSION-CLOSED <err>          an accepted agent's SSH connection ended
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/ssh"
)

const (
	subprotocol   = "kubesphere-v1"
	serverVersion = "SSH-" + subprotocol + "-server"
	channelType   = "kubesphere"
)

// config mirrors the Go tower's agent Config (see docs/protocol.md §3).
type config struct {
	Version           string
	Name              string
	Token             string
	KubernetesSvcHost string
	KubeSphereSvcHost string
	CertData          []byte `json:",omitempty"`
	KeyData           []byte `json:",omitempty"`
	CAData            []byte `json:",omitempty"`
	BearerToken       []byte `json:",omitempty"`
}

// public is what may be printed about a config: hashes stand in for the secrets.
type public struct {
	Version           string
	Name              string
	KubernetesSvcHost string
	KubeSphereSvcHost string
	CertDataSHA256    string `json:",omitempty"`
	KeyDataSHA256     string `json:",omitempty"`
	CADataSHA256      string `json:",omitempty"`
	BearerTokenSHA256 string `json:",omitempty"`
	// The payload is byte for byte what Go's json.Marshal makes of the decoded struct.
	Canonical bool
	// The payload has no key outside the Config struct (Go itself would ignore them).
	KnownKeysOnly bool
}

func digest(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var stdoutMu sync.Mutex

func say(format string, args ...interface{}) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-proxy: "+format+"\n", args...)
	os.Exit(2)
}

// current is the accepted agent, for the forwarders.
type session struct {
	conn ssh.Conn
	conf config
}

var (
	sessionMu sync.Mutex
	active    *session
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "agent endpoint address")
	name := flag.String("name", "", "the cluster name agents must send")
	token := flag.String("token", "", "the token agents must send")
	ksListen := flag.String("kubesphere-listen", "127.0.0.1:0", "forwarder to the agent's KubeSphereSvcHost")
	kubeListen := flag.String("kubernetes-listen", "127.0.0.1:0", "forwarder to the agent's KubernetesSvcHost")
	echo := flag.Bool("echo-subprotocol", false, "name kubesphere-v1 in the 101 answer (the Go tower does not)")
	flag.Parse()
	if *token == "" {
		fatal("--token is required")
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fatal("host key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		fatal("host key: %v", err)
	}
	sshConfig := &ssh.ServerConfig{
		ServerVersion: serverVersion,
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			return nil, nil
		},
	}
	sshConfig.AddHostKey(signer)

	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	if *echo {
		upgrader.Subprotocols = []string{subprotocol}
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && r.Header.Get("Sec-WebSocket-Protocol") == subprotocol {
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				fmt.Fprintf(os.Stderr, "go-proxy: upgrade: %v\n", err)
				return
			}
			serveAgent(newWSConn(ws), sshConfig, *name, *token)
			return
		}
		switch r.URL.Path {
		case "/health":
			io.WriteString(w, "OK\n")
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "Not Found")
		}
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal("listen %s: %v", *listen, err)
	}
	ks, err := net.Listen("tcp", *ksListen)
	if err != nil {
		fatal("listen %s: %v", *ksListen, err)
	}
	kube, err := net.Listen("tcp", *kubeListen)
	if err != nil {
		fatal("listen %s: %v", *kubeListen, err)
	}
	go forward(ks, func(c config) string { return c.KubeSphereSvcHost })
	go forward(kube, func(c config) string { return c.KubernetesSvcHost })
	say("FORWARD kubesphere %s", ks.Addr())
	say("FORWARD kubernetes %s", kube.Addr())
	say("LISTENING %s", ln.Addr())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		os.Exit(0)
	}()
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if err := server.Serve(ln); err != nil {
		fatal("serve: %v", err)
	}
}

func serveAgent(conn net.Conn, sshConfig *ssh.ServerConfig, name, token string) {
	sshConn, chans, reqs, err := ssh.NewServerConn(conn, sshConfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-proxy: ssh handshake: %v\n", err)
		conn.Close()
		return
	}
	say("SSH-CLIENT-VERSION %s", sshConn.ClientVersion())
	// The agent opens no channel; refuse any it tries.
	go func() {
		for nc := range chans {
			nc.Reject(ssh.Prohibited, "only the proxy opens channels")
		}
	}()

	var r *ssh.Request
	select {
	case r = <-reqs:
	case <-time.After(10 * time.Second):
		sshConn.Close()
		return
	}
	if r == nil {
		return
	}
	if r.Type != "config" {
		r.Reply(false, []byte("expecting config request"))
		return
	}
	var c config
	if err := json.Unmarshal(r.Payload, &c); err != nil {
		r.Reply(false, []byte("invalid json config"))
		return
	}
	view := describe(c, r.Payload)
	line, _ := json.Marshal(view)
	if (name != "" && c.Name != name) || c.Token != token {
		say("AGENT REJECTED %s", line)
		// As the Go tower proxy: the reason travels after the failure byte, and the
		// connection is left for the agent to close.
		r.Reply(false, []byte("Unauthorized agent"))
		go drain(reqs)
		return
	}
	// Ready to forward before the agent hears it is accepted: an agent may be asked for
	// a channel the moment it believes it is connected.
	sessionMu.Lock()
	active = &session{conn: sshConn, conf: c}
	sessionMu.Unlock()
	r.Reply(true, nil)
	say("AGENT CONNECTED %s", line)

	go func() {
		pinged := false
		for req := range reqs {
			if req.Type == "ping" {
				req.Reply(true, nil)
				if !pinged {
					say("PING")
					pinged = true
				}
				continue
			}
			// The Go tower proxy leaves other requests unanswered.
			say("REQUEST %s %v", req.Type, req.WantReply)
		}
	}()
	err = sshConn.Wait()
	sessionMu.Lock()
	if active != nil && active.conn == sshConn {
		active = nil
	}
	sessionMu.Unlock()
	say("SESSION-CLOSED %v", err)
}

func drain(reqs <-chan *ssh.Request) {
	for req := range reqs {
		say("REQUEST %s %v", req.Type, req.WantReply)
	}
	say("REJECTED-SESSION-CLOSED")
}

func describe(c config, payload []byte) public {
	canonical, _ := json.Marshal(c)
	var keys map[string]json.RawMessage
	known := json.Unmarshal(payload, &keys) == nil
	for k := range keys {
		switch k {
		case "Version", "Name", "Token", "KubernetesSvcHost", "KubeSphereSvcHost", "CertData", "KeyData", "CAData", "BearerToken":
		default:
			known = false
		}
	}
	return public{
		Version:           c.Version,
		Name:              c.Name,
		KubernetesSvcHost: c.KubernetesSvcHost,
		KubeSphereSvcHost: c.KubeSphereSvcHost,
		CertDataSHA256:    digest(c.CertData),
		KeyDataSHA256:     digest(c.KeyData),
		CADataSHA256:      digest(c.CAData),
		BearerTokenSHA256: digest(c.BearerToken),
		Canonical:         bytes.Equal(canonical, payload),
		KnownKeysOnly:     known,
	}
}

func forward(ln net.Listener, target func(config) string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			sessionMu.Lock()
			s := active
			sessionMu.Unlock()
			if s == nil {
				conn.Close()
				return
			}
			to := target(s.conf)
			// The open data is the bare host:port, no SSH string length prefix.
			ch, reqs, err := s.conn.OpenChannel(channelType, []byte(to))
			if err != nil {
				say("CHANNEL-FAILED %s %s", to, strings.ReplaceAll(err.Error(), "\n", " "))
				conn.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			pipe(ch, conn.(*net.TCPConn))
		}()
	}
}

// pipe copies both ways, passing each end of stream on as a half-close, and closes both
// sides once both directions are done.
func pipe(ch ssh.Channel, tcp *net.TCPConn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(tcp, ch)
		tcp.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		io.Copy(ch, tcp)
		ch.CloseWrite()
	}()
	wg.Wait()
	ch.Close()
	tcp.Close()
}

// wsConn is a net.Conn over a WebSocket: every write is one binary message; reads
// concatenate messages, whose boundaries mean nothing.
type wsConn struct {
	ws      *websocket.Conn
	reader  io.Reader
	writeMu sync.Mutex
}

func newWSConn(ws *websocket.Conn) *wsConn { return &wsConn{ws: ws} }

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.reader == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				fmt.Fprintf(os.Stderr, "go-proxy: non-binary WebSocket message (type %d)\n", kind)
			}
			c.reader = r
		}
		n, err := c.reader.Read(p)
		if err == io.EOF {
			c.reader = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error                       { return c.ws.Close() }
func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}
