package service

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"enclave/datasets/workspace"
)

// Config configures a Server.
type Config struct {
	// Home holds the researcher registry (researchers.yaml) and, unless
	// Workspaces says otherwise, the workspaces.
	Home string
	// Workspaces is the directory holding one workspace directory per
	// name; default Home/workspaces.
	Workspaces string
	// Socket is the socket's path, for Status.
	Socket string
	// Kernel is the command line of a kernel without its descriptor flag,
	// e.g. {"/usr/local/bin/enclave", "kernel", "--worker", W}; the server
	// adds "--service-fd 3".
	Kernel []string
	// Env is the kernels' whole environment (the service's choice: nothing
	// of the researcher's reaches a kernel).
	Env []string
	// Spares is how many started kernels wait for an assignment (0: none,
	// every kernel starts on demand).
	Spares int
	// MaxPerUser caps the kernels one Unix user runs at once (default 8).
	MaxPerUser int
	// AllowIPs are kernel addresses allowed besides loopback ones.
	AllowIPs []string
	// Grace is how long a kernel asked to stop has before SIGKILL (1 s).
	Grace time.Duration
	// Log is the service's log (stderr if nil).
	Log *log.Logger
	// Now is the clock of the access check (time.Now if nil).
	Now func() time.Time
}

// Server is a running enclave service.
type Server struct {
	cfg  Config
	log  *log.Logger
	uid  int
	user string
	fork *forker

	spares chan *proc

	mu      sync.Mutex
	kernels map[string]*kern
	seq     int
	closing bool
	ln      *net.UnixListener
	conns   sync.WaitGroup
}

// kern is an assigned kernel and the connection of its launcher.
type kern struct {
	id    string
	p     *proc
	uid   int
	key   string
	ip    string
	ports []int
	stop  sync.Once
}

// New checks the service's files and starts the spare kernels. It refuses
// when anything under Home or Workspaces is open to group or others or not
// owned by the service user.
func New(cfg Config) (*Server, error) {
	if cfg.Home == "" {
		return nil, errors.New("service: no home directory")
	}
	if len(cfg.Kernel) == 0 {
		return nil, errors.New("service: no kernel command")
	}
	if cfg.Workspaces == "" {
		cfg.Workspaces = filepath.Join(cfg.Home, WorkspacesDir)
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 8
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Log, uid: os.Geteuid(), fork: newForker(),
		spares: make(chan *proc, max(cfg.Spares, 0)), kernels: map[string]*kern{}}
	if s.log == nil {
		s.log = log.New(os.Stderr, "enclave serve: ", log.LstdFlags|log.Lmicroseconds)
	}
	s.user = userName(s.uid)
	if _, probs, err := s.CheckPermissions(); err != nil {
		return nil, err
	} else if len(probs) > 0 {
		return nil, fmt.Errorf("refusing to serve: %w\nfix it as the service user (enclave serve --fix-permissions) or as root (chown -R %s: %s; chmod -R go= %s)",
			ProblemsError(probs, 20), s.user, cfg.Home, cfg.Home)
	}
	for i := 0; i < cfg.Spares; i++ {
		go s.addSpare()
	}
	return s, nil
}

// CheckPermissions checks Home and Workspaces (CheckTree). A missing
// workspaces directory is not a problem: the service has none yet.
func (s *Server) CheckPermissions() (checked int, problems []Problem, err error) {
	roots := []string{s.cfg.Home}
	if rel, err := filepath.Rel(s.cfg.Home, s.cfg.Workspaces); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		roots = append(roots, s.cfg.Workspaces)
	}
	for i, root := range roots {
		n, p, err := CheckTree(root, s.uid)
		if i > 0 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return checked, problems, fmt.Errorf("service: %w", err)
		}
		checked += n
		problems = append(problems, p...)
	}
	return checked, problems, nil
}

// Serve accepts clients on ln until Close.
func (s *Server) Serve(ln *net.UnixListener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.handle(c)
		}()
	}
}

// Close stops accepting, ends every kernel (SIGTERM, SIGKILL after the
// grace period) and the spares, and waits for the clients' handlers.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	ln := s.ln
	ks := make([]*kern, 0, len(s.kernels))
	for _, k := range s.kernels {
		ks = append(ks, k)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.drainSpares()
	for _, k := range ks {
		s.stop(k)
	}
	s.conns.Wait()
	return nil
}

// Listen makes the service's socket at path, which anyone may connect to
// (0666: who they are comes from SO_PEERCRED). A stale socket is replaced;
// a live one is an error.
func Listen(path string) (*net.UnixListener, error) {
	if dir := filepath.Dir(path); !exists(dir) {
		// Made here, under the service's umask: opened so that researchers
		// reach the socket.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("another enclave service is listening on %s", path)
		}
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (s *Server) handle(c *net.UnixConn) {
	defer c.Close()
	cred, err := PeerCred(c)
	if err != nil {
		s.log.Printf("client without credentials: %v", err)
		return
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req Request
	if err := readLine(r, &req); err != nil {
		s.log.Printf("uid %d pid %d: %v", cred.UID, cred.PID, err)
		s.send(c, Event{Event: EvError, Error: err.Error()})
		return
	}
	c.SetReadDeadline(time.Time{})
	switch req.Op {
	case OpStart:
		s.start(c, r, cred, req)
	case OpStatus:
		st := s.status(cred)
		s.send(c, Event{Event: EvStatus, Status: &st})
	default:
		s.send(c, Event{Event: EvError, Error: fmt.Sprintf("unknown operation %q (want %s or %s)", req.Op, OpStart, OpStatus)})
	}
}

func (s *Server) send(c *net.UnixConn, ev Event) error {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return writeLine(c, ev)
}

// start serves one launcher: it starts the kernel, reports it, relays the
// launcher's interrupts and terminations, and reports the kernel's end.
func (s *Server) start(c *net.UnixConn, r *bufio.Reader, cred Cred, req Request) {
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.log.Printf("uid %d pid %d: no kernel: %s", cred.UID, cred.PID, msg)
		s.send(c, Event{Event: EvError, Error: msg})
	}
	if req.Version != Version {
		fail("protocol version %d, but this enclave service speaks %d: the launcher and the service come from different enclave versions", req.Version, Version)
		return
	}
	ci, err := CheckConnection(req.Connection, s.cfg.AllowIPs)
	if err != nil {
		fail("%v", err)
		return
	}
	a := s.assignment(cred, req.Workspace)
	a.Connection = *ci

	// A start with the key and ports of a running kernel of the same user
	// is that notebook's restart: only the holder of the key can ask for
	// it. The old kernel must be gone before the new one binds its ports.
	s.mu.Lock()
	n := 0
	var olds []*kern
	for _, k := range s.kernels {
		if k.uid != cred.UID {
			continue
		}
		if k.key == ci.Key && k.ip == ci.IP && overlap(k.ports, ports(ci)) {
			olds = append(olds, k)
		} else {
			n++
		}
	}
	closing := s.closing
	s.mu.Unlock()
	switch {
	case closing:
		fail("the enclave service is shutting down")
		return
	case n >= s.cfg.MaxPerUser:
		fail("Unix user %s already runs %d kernels, the most this service allows one user; shut one down first", a.UnixUser, n)
		return
	}
	for _, old := range olds {
		s.log.Printf("%s: replaced by a restart on the same ports", old.id)
		s.stop(old)
		select {
		case <-old.p.exited:
		case <-time.After(3 * s.cfg.Grace):
			fail("the previous kernel on these ports (%s) did not stop", old.id)
			return
		}
	}

	s.mu.Lock()
	s.seq++
	a.Kernel = "k" + strconv.Itoa(s.seq)
	s.mu.Unlock()
	b, err := json.Marshal(a)
	if err != nil {
		fail("%v", err)
		return
	}
	var p *proc
	for attempt := 0; ; attempt++ {
		p, err = s.take()
		if err != nil {
			fail("%v", err)
			return
		}
		_, err = p.assign.Write(b)
		p.assign.Close()
		p.assign = nil
		if err == nil {
			break
		}
		p.signal(syscall.SIGKILL)
		if attempt == 1 {
			fail("could not hand the kernel its assignment: %v", err)
			return
		}
	}
	k := &kern{id: a.Kernel, p: p, uid: cred.UID, key: ci.Key, ip: ci.IP, ports: ports(ci)}
	s.mu.Lock()
	s.kernels[k.id] = k
	closing = s.closing
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.kernels, k.id)
		s.mu.Unlock()
	}()
	if closing {
		s.stop(k)
	}
	what := "workspace " + a.Workspace
	if a.Workspace == "" {
		what = "no workspace"
	}
	if a.Refusal != "" {
		what += ", refused: " + a.Refusal
	}
	s.log.Printf("%s pid %d: Unix user %s (uid %d, launcher pid %d) as researcher %q, %s", k.id, p.pid(), a.UnixUser, cred.UID, cred.PID, a.Researcher, what)
	s.send(c, Event{Event: EvStarted, Kernel: k.id, PID: p.pid(), Researcher: a.Researcher, UnixUser: a.UnixUser,
		Workspace: a.Workspace, Refusal: a.Refusal})

	// The launcher's requests; its end (EOF: it exited or was killed)
	// ends the kernel.
	go func() {
		for {
			var op Request
			if err := readLine(r, &op); err != nil {
				select {
				case <-p.exited:
				default:
					s.log.Printf("%s: the launcher is gone (%v): stopping the kernel", k.id, err)
					s.stop(k)
				}
				return
			}
			switch op.Op {
			case OpInterrupt:
				p.signal(syscall.SIGINT)
			case OpTerminate:
				s.stop(k)
			default:
				s.log.Printf("%s: unknown operation %q from the launcher", k.id, op.Op)
			}
		}
	}()
	<-p.exited
	ev := Event{Event: EvExited, Kernel: k.id}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ev.Signal = ws.Signal().String()
		ev.Code = 128 + int(ws.Signal())
	} else {
		ev.Code = p.state.ExitCode()
	}
	s.log.Printf("%s pid %d: ended (%s)", k.id, p.pid(), p.exitText())
	s.send(c, ev)
}

// stop asks the kernel to end (SIGTERM) and kills it after the grace
// period; its worker dies with it.
func (s *Server) stop(k *kern) {
	k.stop.Do(func() {
		k.p.signal(syscall.SIGTERM)
		go func() {
			select {
			case <-k.p.exited:
			case <-time.After(s.cfg.Grace):
				s.log.Printf("%s pid %d: still running %v after SIGTERM: SIGKILL", k.id, k.p.pid(), s.cfg.Grace)
				k.p.signal(syscall.SIGKILL)
			}
		}()
	})
}

func overlap(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// assignment identifies the peer and decides what its kernel may open.
// Every refusal is a sentence for the researcher; details that are the
// steward's business go to the service's log only.
func (s *Server) assignment(cred Cred, ws string) Assignment {
	a := Assignment{UID: cred.UID, ServiceUser: s.user, ServiceUID: s.uid, Workspace: ws}
	a.UnixUser = userName(cred.UID)
	regPath := workspace.RegistryPath(s.cfg.Home)
	if fi, err := os.Stat(regPath); err == nil {
		if what := entryProblem(fi, s.uid); what != "" {
			s.log.Printf("researcher registry %s %s: refusing every kernel until the steward fixes it", regPath, what)
			a.Refusal = "the enclave service's researcher registry is not protected on disk; it refuses every kernel until the data steward fixes that"
			return a
		}
	}
	reg, err := workspace.LoadRegistry(regPath)
	if err != nil {
		s.log.Printf("researcher registry: %v", err)
		a.Refusal = "the enclave service cannot read its researcher registry; the data steward finds why in the service's log"
		return a
	}
	id, ok := reg.ResearcherOf(a.UnixUser, cred.UID)
	if !ok {
		a.Refusal = fmt.Sprintf("Unix user %s (uid %d) is not mapped to a researcher on this enclave service; ask the data steward to map it (enclave map-user %s RESEARCHER_ID)",
			a.UnixUser, cred.UID, a.UnixUser)
		return a
	}
	a.Researcher = id
	if ws == "" {
		return a
	}
	if err := ValidWorkspaceName(ws); err != nil {
		a.Refusal = err.Error()
		return a
	}
	dir := filepath.Join(s.cfg.Workspaces, ws)
	w, err := workspace.Load(dir)
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			a.Refusal = fmt.Sprintf("there is no workspace %q on this enclave service; the kernel you chose names it (ask the data steward which kernel is yours)", ws)
		} else {
			s.log.Printf("workspace %s: %v", dir, err)
			a.Refusal = fmt.Sprintf("workspace %q cannot be read by the enclave service; the data steward finds why in the service's log", ws)
		}
		return a
	}
	r, err := reg.Lookup(id)
	if err != nil {
		a.Refusal = err.Error()
		return a
	}
	if err := workspace.Check(r, *w, s.cfg.Now()); err != nil {
		a.Refusal = err.Error()
		return a
	}
	if _, probs, err := CheckTree(dir, s.uid); err != nil || len(probs) > 0 {
		if err == nil {
			err = ProblemsError(probs, 20)
		}
		s.log.Printf("workspace %s: %v", dir, err)
		a.Refusal = fmt.Sprintf("workspace %q is not protected on disk (files open to other users or not the service's own); the service will not open it until the data steward fixes that", ws)
		return a
	}
	a.WorkspaceDir = dir
	return a
}

func (s *Server) status(cred Cred) Status {
	st := Status{Mode: "service", ServiceUser: s.user, ServiceUID: s.uid, Socket: s.cfg.Socket, Spares: len(s.spares)}
	privileged := cred.UID == 0 || cred.UID == s.uid
	s.mu.Lock()
	for _, k := range s.kernels {
		if privileged || k.uid == cred.UID {
			st.Kernels++
		}
	}
	s.mu.Unlock()
	n, probs, err := s.CheckPermissions()
	st.Checked = n
	switch {
	case err != nil:
		st.Permissions = "not checked: " + err.Error()
	case len(probs) == 0:
		st.Permissions = "ok"
	default:
		st.Permissions = fmt.Sprintf("%d entries open to other users or not owned by %s", len(probs), s.user)
		if privileged {
			for _, p := range probs {
				st.Problems = append(st.Problems, p.String())
			}
		}
	}
	a := s.assignment(cred, "")
	if a.Researcher != "" {
		st.You = fmt.Sprintf("Unix user %s (uid %d) is researcher %s", a.UnixUser, cred.UID, a.Researcher)
	} else {
		st.You = a.Refusal
	}
	return st
}

// userName returns the name of uid, or its number.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
