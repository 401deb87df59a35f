// Command pulumi-language-python is kuntapilvi's own Python language host for the Pulumi engine.
//
// Why it exists: the Go module proxy reachable from the project's machines serves
// github.com/pulumi/pulumi/sdk/v3 but not the nested module that holds Pulumi's own Python
// language host, so the project cannot build that one. This host implements the subset of the
// LanguageRuntime gRPC service that `pulumi preview/up/destroy/refresh` needs for a Python program:
//
//   - GetPluginInfo: reports the version stamped at build time (-X main.version=...).
//   - GetRequiredPackages / GetRequiredPlugins: asks the program's Python interpreter which
//     installed distributions ship a pulumi-plugin.json (that is how pulumi-openstack tells the
//     engine it needs resource plugin "openstack" at its own version).
//   - Run: starts the interpreter on Pulumi's exec script (pulumi-language-python-exec, taken from
//     the sdk/v3 module and installed next to this binary) with the flags that script parses.
//   - RunPlugin: runs a Python plugin folder's __main__.py; this is how the engine starts a policy
//     pack whose PulumiPolicy.yaml says `runtime: python` (see plugin.go).
//   - GetProgramDependencies / About / InstallDependencies: small but honest versions.
//
// The host exits as soon as the engine that started it is gone (see lifetime.go).
//
// Everything else answers Unimplemented, which the engine tolerates for the calls above.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set with -ldflags "-X main.version=v3.259.0" by scripts/install-engine.
var version = "v0.0.0-dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	_ = flag.String("tracing", "", "accepted for compatibility; tracing is not supported")
	root := flag.String("root", "", "project root directory (optional)")
	executor := flag.String("use-executor", "",
		"path of pulumi-language-python-exec (default: next to this binary)")
	flag.Parse()

	if *showVersion {
		fmt.Println(version)
		return
	}

	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "pulumi-language-python: missing the engine address argument")
		os.Exit(2)
	}
	engineAddress := args[0]

	execPath, err := findExecutor(*executor)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-python:", err)
		os.Exit(1)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host := newHost(ctx, engineAddress, *root, execPath)

	// Exit when the engine goes away, so that no host outlives the CLI that started it: at once
	// when its stdin pipe closes or we are re-parented (watchEngine), and, as upstream's host
	// does, when the engine stops answering health checks.
	watchEngine(ctx, cancel, os.Stdin, os.Getppid, parentPollInterval)
	// The engine stops a host by interrupting its process group, which holds the Python
	// program too. Python may survive SIGINT (its gRPC threads keep it alive), so the host
	// shuts down in order instead of dying at once: that kills the processes it started.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		cancel()
	}()
	go func() {
		_ = rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel)
	}()

	cancelServe := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelServe)
		// A graceful stop waits for calls in flight; their Python processes were killed with
		// ctx, so this only guards against a call that does not notice.
		time.AfterFunc(10*time.Second, func() { os.Exit(0) })
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelServe,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-python: could not start the gRPC server:", err)
		os.Exit(1)
	}

	// The engine reads the port from the first line of our stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-language-python: server stopped:", err)
		os.Exit(1)
	}
}
