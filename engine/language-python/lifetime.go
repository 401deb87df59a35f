package main

import (
	"context"
	"io"
	"os"
	"time"
)

// How often the host looks whether the process that started it is still its parent.
const parentPollInterval = time.Second

// watchEngine calls gone once the engine that started this host has gone away, whichever way it
// went. The engine stops a host it is done with by interrupting the host's process group; but a
// CLI that is killed, crashes or exits without closing its plugins never does, and the host used
// to stay behind as an orphan (parent pid 1) until its health check, every five minutes, failed.
//
// Two signs are immediate:
//   - stdin: the engine starts every plugin with a pipe on stdin and never writes to it, so the
//     read end sees EOF exactly when the last process holding the write end (the engine) exits.
//     Only a pipe counts: a host run by hand has a terminal or /dev/null there.
//   - the parent pid: when the parent dies the kernel re-parents us (to init or a subreaper).
func watchEngine(ctx context.Context, gone func(), stdin *os.File, getppid func() int,
	every time.Duration,
) {
	if fi, err := stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			gone()
		}()
	}
	parent := getppid()
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if getppid() != parent {
					gone()
					return
				}
			}
		}
	}()
}

// childContext is ctx, also cancelled when the host shuts down, so that no Python process the
// host started outlives it.
func (h *host) childContext(ctx context.Context) (context.Context, context.CancelFunc) {
	child, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.life, cancel)
	return child, func() {
		stop()
		cancel()
	}
}
