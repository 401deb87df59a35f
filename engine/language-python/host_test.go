package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// runPluginStream records what RunPlugin sends, as the engine would receive it.
type runPluginStream struct {
	grpc.ServerStream
	ctx    context.Context
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	codes  []int32
	after  int // messages sent after the exit code (there must be none)
}

func (s *runPluginStream) Context() context.Context { return s.ctx }

func (s *runPluginStream) Send(m *pulumirpc.RunPluginResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) > 0 {
		s.after++
	}
	switch out := m.GetOutput().(type) {
	case *pulumirpc.RunPluginResponse_Stdout:
		s.stdout.Write(out.Stdout)
	case *pulumirpc.RunPluginResponse_Stderr:
		s.stderr.Write(out.Stderr)
	case *pulumirpc.RunPluginResponse_Exitcode:
		s.codes = append(s.codes, out.Exitcode)
	}
	return nil
}

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	return p
}

func pluginDir(t *testing.T, mainPy string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "__main__.py"), []byte(mainPy), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunPluginRunsTheFoldersMainAndStreamsItsOutput(t *testing.T) {
	t.Setenv("PULUMI_PYTHON_CMD", python(t))
	dir := pluginDir(t, `import os, sys
print("port-line", *sys.argv[1:])
print("cwd", os.getcwd())
print("env", os.environ.get("KP_FROM_ENGINE"))
print("oops", file=sys.stderr)
sys.exit(3)
`)
	pwd := t.TempDir()
	h := newHost(context.Background(), "", "", "")
	stream := &runPluginStream{ctx: context.Background()}
	err := h.RunPlugin(&pulumirpc.RunPluginRequest{
		Pwd:  pwd,
		Args: []string{"127.0.0.1:1234"},
		Env:  append(os.Environ(), "KP_FROM_ENGINE=yes"),
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
		Kind: "analyzer",
	}, stream)
	if err != nil {
		t.Fatal(err)
	}
	resolved, _ := filepath.EvalSymlinks(pwd)
	want := "port-line 127.0.0.1:1234\ncwd " + resolved + "\nenv yes\n"
	if got := stream.stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := stream.stderr.String(); got != "oops\n" {
		t.Errorf("stderr = %q", got)
	}
	if len(stream.codes) != 1 || stream.codes[0] != 3 || stream.after != 0 {
		t.Errorf("exit codes %v (then %d more messages), want one 3 as the last message",
			stream.codes, stream.after)
	}
}

func TestRunPluginUsesTheVirtualenvOfPulumiPolicyYaml(t *testing.T) {
	py := python(t)
	dir := pluginDir(t, "import os; print(os.environ['VIRTUAL_ENV'])\n")
	venv := filepath.Join(dir, "..", filepath.Base(dir)+"-venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(venv) })
	if err := os.Symlink(py, filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatal(err)
	}
	options, _ := structpb.NewStruct(map[string]any{"virtualenv": "../" + filepath.Base(venv)})
	h := newHost(context.Background(), "", "", "")
	stream := &runPluginStream{ctx: context.Background()}
	err := h.RunPlugin(&pulumirpc.RunPluginRequest{
		Pwd:  dir,
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, Options: options},
	}, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(stream.stdout.String()); got != filepath.Join(dir, "..", filepath.Base(venv)) {
		t.Errorf("VIRTUAL_ENV = %q, want the venv named relative to the pack", got)
	}
}

func TestRunPluginWithoutMainPyIsAnError(t *testing.T) {
	dir := t.TempDir()
	h := newHost(context.Background(), "", "", "")
	err := h.RunPlugin(&pulumirpc.RunPluginRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir},
	}, &runPluginStream{ctx: context.Background()})
	if err == nil || !strings.Contains(err.Error(), "__main__.py") {
		t.Fatalf("err = %v, want one naming __main__.py", err)
	}
}

func TestHostShutdownStopsARunningPlugin(t *testing.T) {
	t.Setenv("PULUMI_PYTHON_CMD", python(t))
	dir := pluginDir(t, "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
	life, shutdown := context.WithCancel(context.Background())
	h := newHost(life, "", "", "")
	done := make(chan error, 1)
	go func() {
		done <- h.RunPlugin(&pulumirpc.RunPluginRequest{
			Pwd:  dir,
			Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir},
		}, &runPluginStream{ctx: context.Background()})
	}()
	time.Sleep(300 * time.Millisecond)
	shutdown()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin kept running after the host shut down")
	}
}

func TestWatchEngineNoticesStdinClosing(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := make(chan struct{})
	var once sync.Once
	watchEngine(ctx, func() { once.Do(func() { close(gone) }) }, r, func() int { return 42 }, time.Hour)
	select {
	case <-gone:
		t.Fatal("gone before the engine closed its end")
	case <-time.After(100 * time.Millisecond):
	}
	_ = w.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("closing stdin did not count as the engine going away")
	}
}

func TestWatchEngineNoticesReparenting(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	var mu sync.Mutex
	ppid := 4242
	getppid := func() int { mu.Lock(); defer mu.Unlock(); return ppid }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := make(chan struct{})
	var once sync.Once
	watchEngine(ctx, func() { once.Do(func() { close(gone) }) }, devnull, getppid, 10*time.Millisecond)
	select {
	case <-gone:
		t.Fatal("/dev/null on stdin or an unchanged parent counted as the engine going away")
	case <-time.After(100 * time.Millisecond):
	}
	mu.Lock()
	ppid = 1
	mu.Unlock()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("being re-parented did not count as the engine going away")
	}
}
