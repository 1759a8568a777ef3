// Command agent is a test peer: a minimal tower agent built on the libraries the Go tower
// uses (gorilla/websocket, golang.org/x/crypto/ssh), written from docs/protocol.md §1–§4.
// It makes one connection attempt (no retry loop) so a test can watch what happens.
//
// Standard output carries one line per event, for the test to wait on:
//
//	CONNECTED                    the proxy accepted the config (empty reply payload)
//	REJECTED <message>           the proxy answered the config with a message (exit 3;
//	                             with --hold-after-reject only once the proxy hung up)
//	PONG <ok> <payload-length>   the first reply to a keepalive ping
//	REQUEST <type> <n>           the n-th global request of that type from the proxy
//	                             (refused, as ssh.DiscardRequests does)
//	CHANNEL <target>             the proxy opened a kubesphere channel
//	CHANNEL-REFUSED <type>       the proxy opened a channel of another type
//	DIAL-FAILED <target> <err>   a channel's target could not be dialled
//	DISCONNECTED <reason>        the SSH connection ended (exit 0 on EOF or SIGTERM, 4 otherwise)
//
// Failures before the config request go to standard error with exit 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"net/url"
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
	clientVersion = "SSH-" + subprotocol + "-client"
	channelType   = "kubesphere"
)

// config mirrors the Go tower's agent Config: field names are the JSON keys, the four
// byte fields are base64 strings and are left out when empty.
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

var stdoutMu sync.Mutex

func say(format string, args ...interface{}) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func fatal(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-agent: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	proxyServer := flag.String("proxy-server", "http://127.0.0.1:8080", "proxy URL (http, https, ws or wss)")
	name := flag.String("name", "", "cluster name")
	token := flag.String("token", "", "cluster token")
	kubernetesSvc := flag.String("kubernetes-svc-host", "", "host:port of the member kube-apiserver")
	kubesphereSvc := flag.String("kubesphere-svc-host", "", "host[:port] of the member ks-apiserver")
	bearerToken := flag.String("bearer-token", "", "bearer token for the member kube-apiserver")
	caFile := flag.String("ca-file", "", "PEM CA of the member kube-apiserver")
	certFile := flag.String("cert-file", "", "PEM client certificate for the member kube-apiserver")
	keyFile := flag.String("key-file", "", "PEM client key for the member kube-apiserver")
	version := flag.String("version", "v0.0.0-go-peer", "Version sent in the config")
	offer := flag.String("subprotocol", subprotocol, "WebSocket subprotocol to offer")
	keepalive := flag.Duration("keepalive", 30*time.Second, "interval of ping requests (0 disables)")
	legacy := flag.Bool("legacy-algorithms", false, "offer only what x/crypto of mid-2019 (the Go tower's first go.mod) offered")
	hold := flag.Bool("hold-after-reject", false, "after a rejected config, leave the connection open until the proxy closes it")
	flag.Parse()

	conf := config{
		Version:           *version,
		Name:              *name,
		Token:             *token,
		KubernetesSvcHost: *kubernetesSvc,
		KubeSphereSvcHost: *kubesphereSvc,
	}
	if *bearerToken != "" {
		conf.BearerToken = []byte(*bearerToken)
	}
	conf.CAData = readOptional(*caFile)
	conf.CertData = readOptional(*certFile)
	conf.KeyData = readOptional(*keyFile)
	payload, err := json.Marshal(conf)
	if err != nil {
		fatal(2, "marshal config: %v", err)
	}

	wsURL, err := websocketURL(*proxyServer)
	if err != nil {
		fatal(2, "%v", err)
	}
	dialer := websocket.Dialer{HandshakeTimeout: 45 * time.Second, Subprotocols: []string{*offer}}
	ws, resp, err := dialer.Dial(wsURL, nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (HTTP " + resp.Status + ")"
		}
		fatal(2, "websocket dial %s: %v%s", wsURL, err, status)
	}
	conn := newWSConn(ws)

	sshConfig := &ssh.ClientConfig{
		User:            "",
		Auth:            []ssh.AuthMethod{ssh.Password("")},
		ClientVersion:   clientVersion,
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil },
		Timeout:         30 * time.Second,
	}
	if *legacy {
		// The defaults of golang.org/x/crypto v0.0.0-20190611184440 (no curve25519-sha256
		// without @libssh.org, no rsa-sha2, no AES-256-GCM).
		sshConfig.KeyExchanges = []string{"curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"}
		sshConfig.Ciphers = []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"}
		sshConfig.MACs = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-256", "hmac-sha1", "hmac-sha1-96"}
		sshConfig.HostKeyAlgorithms = []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSA, ssh.KeyAlgoDSA, ssh.KeyAlgoED25519}
	}
	sshConn, chans, reqs, err := ssh.NewClientConn(conn, "", sshConfig)
	if err != nil {
		fatal(2, "ssh handshake: %v", err)
	}
	fmt.Fprintf(os.Stderr, "go-agent: ssh connected; server version %q\n", sshConn.ServerVersion())

	_, reply, err := sshConn.SendRequest("config", true, payload)
	if err != nil {
		fatal(2, "config request: %v", err)
	}
	// Like the Go tower agent: the reply's payload decides, not its boolean.
	if len(reply) > 0 {
		say("REJECTED %s", string(reply))
		if *hold {
			// Newer Go tower agents retry without closing the rejected connection:
			// the proxy has to hang up by itself.
			go ssh.DiscardRequests(reqs)
			go serveChannels(chans)
			say("DISCONNECTED %v", sshConn.Wait())
		}
		sshConn.Close()
		os.Exit(3)
	}
	say("CONNECTED")

	go answerRequests(reqs)
	go serveChannels(chans)
	if *keepalive > 0 {
		go pingLoop(sshConn, *keepalive)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		say("DISCONNECTED %v", sig)
		sshConn.Close()
		os.Exit(0)
	}()

	err = sshConn.Wait()
	if err == nil || errors.Is(err, io.EOF) {
		say("DISCONNECTED EOF")
		os.Exit(0)
	}
	say("DISCONNECTED %v", err)
	os.Exit(4)
}

func readOptional(path string) []byte {
	if path == "" {
		return nil
	}
	data, err := ioutil.ReadFile(path)
	if err != nil {
		fatal(2, "read %s: %v", path, err)
	}
	return data
}

// websocketURL turns http(s) into ws(s) and adds the default port.
func websocketURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("proxy URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("proxy URL %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), nil
}

// answerRequests refuses every global request from the proxy, as ssh.DiscardRequests
// does in the Go tower agent, and reports each one.
func answerRequests(reqs <-chan *ssh.Request) {
	counts := map[string]int{}
	for req := range reqs {
		counts[req.Type]++
		say("REQUEST %s %d", req.Type, counts[req.Type])
		req.Reply(false, nil)
	}
}

func pingLoop(conn ssh.Conn, every time.Duration) {
	first := true
	for {
		time.Sleep(every)
		ok, payload, err := conn.SendRequest("ping", true, nil)
		if err != nil {
			return
		}
		if first {
			say("PONG %v %d", ok, len(payload))
			first = false
		}
	}
}

func serveChannels(chans <-chan ssh.NewChannel) {
	for nc := range chans {
		if nc.ChannelType() != channelType {
			say("CHANNEL-REFUSED %s", nc.ChannelType())
			nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
			continue
		}
		// The open data is the bare host:port, no SSH string length prefix.
		target := string(nc.ExtraData())
		say("CHANNEL %s", target)
		go serveChannel(nc, target)
	}
}

func serveChannel(nc ssh.NewChannel, target string) {
	// As the Go tower agent does: accept first, then dial; a target that cannot be
	// reached shows up at the proxy as a stream that closes at once.
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	tcp, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		say("DIAL-FAILED %s %s", target, strings.ReplaceAll(err.Error(), "\n", " "))
		ch.Close()
		return
	}
	pipe(ch, tcp.(*net.TCPConn))
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
				fmt.Fprintf(os.Stderr, "go-agent: non-binary WebSocket message (type %d)\n", kind)
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
