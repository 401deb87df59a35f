package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// RunPlugin runs a plugin written in Python: for kuntapilvi that is the policy pack, which the
// engine starts this way when PulumiPolicy.yaml says `runtime: python`
// (pkg/resource/plugin/plugin.go, ExecPlugin, in pulumi/pkg).
//
// The engine sends the pack's folder as ProgramInfo (root = program directory = the folder of
// PulumiPolicy.yaml, runtime options from that file), its own working directory as Pwd, the
// arguments (for an analyzer: the engine's address) and the whole environment the plugin must
// see. We run `python <folder> <args...>`, i.e. the folder's __main__.py, and stream its stdout
// and stderr back; the engine reads the plugin's gRPC port from the first stdout line. The last
// message carries the exit code. When the engine is done with the plugin it cancels the call,
// which kills the interpreter.
//
// Only bare folders with a __main__.py are supported: upstream's other mode (an installable
// package run through `python -m pulumi.run.plugin`) has no user in this project.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	if info == nil || info.GetProgramDirectory() == "" {
		return errors.New("RunPlugin needs the plugin's folder in ProgramInfo.program_directory")
	}
	dir := info.GetProgramDirectory()
	if _, err := os.Stat(filepath.Join(dir, "__main__.py")); err != nil {
		return fmt.Errorf("the Python plugin in %s has no __main__.py for kuntapilvi's "+
			"language host to run", dir)
	}
	env, err := h.resolvePython(info, dir)
	if err != nil {
		return err
	}

	ctx, stop := h.childContext(server.Context())
	defer stop()
	args := append([]string{dir}, req.GetArgs()...)
	cmd := exec.CommandContext(ctx, env.python, args...)
	cmd.Dir = req.GetPwd()
	base := req.GetEnv()
	if len(base) == 0 {
		base = os.Environ()
	}
	cmd.Env = env.environFrom(base, map[string]string{"PYTHONUNBUFFERED": "1"})

	// exec copies stdout and stderr on two goroutines; a gRPC stream takes one Send at a time.
	var mu sync.Mutex
	send := func(msg *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(msg)
	}
	cmd.Stdout = &streamWriter{send: func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}}
	cmd.Stderr = &streamWriter{send: func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	}}

	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run the Python plugin in %s with %s: %w", dir, env.python, err)
		}
		code = int32(exitErr.ExitCode()) //nolint:gosec // exit codes fit in 8 bits
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}
