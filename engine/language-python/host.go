package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Exit code with which the exec script says "I already showed the user an error message".
const bailExitCode = 32

// host implements pulumirpc.LanguageRuntimeServer for Python programs.
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	engineAddress string
	root          string
	execPath      string
	// life ends when the host shuts down; the Python processes it runs are tied to it.
	life context.Context
}

func newHost(life context.Context, engineAddress, root, execPath string) *host {
	return &host{life: life, engineAddress: engineAddress, root: root, execPath: execPath}
}

// findExecutor locates pulumi-language-python-exec: the explicit path if given, else the file of
// that name in the folder of this executable (where scripts/install-engine puts it).
func findExecutor(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find my own executable: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	p := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("missing executor %s: re-run scripts/install-engine", p)
	}
	return p, nil
}

// pythonEnv is the interpreter chosen for one program, plus the environment to run it in.
type pythonEnv struct {
	python     string // path of the interpreter
	virtualenv string // absolute path of the virtualenv, or "" when none is configured
}

func (e pythonEnv) environ(extra map[string]string) []string {
	return e.environFrom(os.Environ(), extra)
}

// environFrom is base (KEY=value lines) with the virtualenv activated and extra set on top.
func (e pythonEnv) environFrom(base []string, extra map[string]string) []string {
	env := make([]string, 0, len(base)+len(extra)+3)
	path := ""
	for _, kv := range base {
		name, value, _ := strings.Cut(kv, "=")
		if name == "PATH" {
			path = value
		}
		if _, overridden := extra[name]; overridden {
			continue
		}
		if e.virtualenv != "" && (name == "PATH" || name == "VIRTUAL_ENV" || name == "PYTHONHOME") {
			continue
		}
		env = append(env, kv)
	}
	if e.virtualenv != "" {
		env = append(env,
			"VIRTUAL_ENV="+e.virtualenv,
			"PATH="+filepath.Join(e.virtualenv, "bin")+string(os.PathListSeparator)+path)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

func optionString(info *pulumirpc.ProgramInfo, key string) string {
	if info == nil || info.GetOptions() == nil {
		return ""
	}
	v, ok := info.GetOptions().GetFields()[key]
	if !ok {
		return ""
	}
	if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
		return s.StringValue
	}
	return ""
}

// rootOf returns the project root for a request: ProgramInfo's root, else the fallback folder.
func (h *host) rootOf(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.GetRootDirectory() != "" {
		return info.GetRootDirectory()
	}
	if fallback != "" {
		return fallback
	}
	if h.root != "" {
		return h.root
	}
	wd, _ := os.Getwd()
	return wd
}

// resolvePython picks the interpreter the way Pulumi's Python runtime options describe it:
// runtime.options.virtualenv (relative to the project root), else $PULUMI_PYTHON_CMD, else
// python3, else python from PATH. Only the "pip" toolchain (the default) is supported.
func (h *host) resolvePython(info *pulumirpc.ProgramInfo, fallbackRoot string) (pythonEnv, error) {
	if tc := optionString(info, "toolchain"); tc != "" && tc != "pip" {
		return pythonEnv{}, fmt.Errorf(
			"kuntapilvi's Python language host supports only the pip toolchain, not %q", tc)
	}
	if venv := optionString(info, "virtualenv"); venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(h.rootOf(info, fallbackRoot), venv)
		}
		python := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(python); err != nil {
			return pythonEnv{}, fmt.Errorf(
				"the virtual environment %s does not exist: create it with "+
					"`python3 -m venv %s` and install the program's requirements into it", venv, venv)
		}
		return pythonEnv{python: python, virtualenv: venv}, nil
	}
	if cmd := os.Getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		p, err := exec.LookPath(cmd)
		if err != nil {
			return pythonEnv{}, fmt.Errorf("PULUMI_PYTHON_CMD=%s is not an executable: %w", cmd, err)
		}
		return pythonEnv{python: p}, nil
	}
	for _, name := range []string{"python3", "python"} {
		if p, err := exec.LookPath(name); err == nil {
			return pythonEnv{python: p}, nil
		}
	}
	return pythonEnv{}, errors.New("no python3 or python found on PATH; set PULUMI_PYTHON_CMD " +
		"or the virtualenv runtime option in Pulumi.yaml")
}

// inventoryScript prints, as JSON, every installed distribution and every pulumi-plugin.json that
// a distribution ships. It is our own small script; it only reads package metadata.
const inventoryScript = `
import importlib.metadata as md, json, sys
dists, plugins = [], []
for d in md.distributions():
    name = d.metadata["Name"] or ""
    dists.append([name, d.version])
    for f in d.files or []:
        if f.name != "pulumi-plugin.json":
            continue
        try:
            data = json.loads(f.read_text())
        except Exception as exc:
            print("warning: cannot read %s of %s: %s" % (f, name, exc), file=sys.stderr)
            continue
        plugins.append({"dist": name, "dist_version": d.version, "data": data})
json.dump({"dists": dists, "plugins": plugins}, sys.stdout)
`

type inventory struct {
	Dists   [][2]string `json:"dists"`
	Plugins []struct {
		Dist        string `json:"dist"`
		DistVersion string `json:"dist_version"`
		Data        struct {
			Resource         bool   `json:"resource"`
			Name             string `json:"name"`
			Version          string `json:"version"`
			Server           string `json:"server"`
			Parameterization *struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Value   []byte `json:"value"`
			} `json:"parameterization"`
		} `json:"data"`
	} `json:"plugins"`
}

func (h *host) inventory(ctx context.Context, env pythonEnv) (*inventory, error) {
	cmd := exec.CommandContext(ctx, env.python, "-c", inventoryScript)
	cmd.Env = env.environ(nil)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("listing the packages of %s failed: %w: %s",
			env.python, err, strings.TrimSpace(stderr.String()))
	}
	var inv inventory
	if err := json.Unmarshal(stdout.Bytes(), &inv); err != nil {
		return nil, fmt.Errorf("cannot parse the package list of %s: %w", env.python, err)
	}
	return &inv, nil
}

// requiredPackages turns the pulumi-plugin.json files of the interpreter's packages into the
// engine's package dependencies.
func (h *host) requiredPackages(ctx context.Context, info *pulumirpc.ProgramInfo, pwd string,
) ([]*pulumirpc.PackageDependency, error) {
	env, err := h.resolvePython(info, pwd)
	if err != nil {
		return nil, err
	}
	inv, err := h.inventory(ctx, env)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var deps []*pulumirpc.PackageDependency
	for _, p := range inv.Plugins {
		if !p.Data.Resource {
			continue
		}
		name := p.Data.Name
		if name == "" {
			name = strings.TrimPrefix(strings.ToLower(p.Dist), "pulumi-")
			name = strings.TrimPrefix(name, "pulumi_")
		}
		version := p.Data.Version
		if version == "" {
			version = p.DistVersion
		}
		if version != "" && !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		dep := &pulumirpc.PackageDependency{
			Kind:    "resource",
			Name:    name,
			Version: version,
			Server:  p.Data.Server,
		}
		if pz := p.Data.Parameterization; pz != nil {
			dep.Parameterization = &pulumirpc.PackageParameterization{
				Name: pz.Name, Version: pz.Version, Value: pz.Value,
			}
		}
		key := dep.Name + "@" + dep.Version
		if dep.Parameterization != nil {
			key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		deps = append(deps, dep)
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return deps, nil
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	if req.RootDirectory != nil && h.root == "" {
		h.root = req.GetRootDirectory()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo(), "")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(ctx, req.GetInfo(), req.GetPwd())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		if d.Parameterization != nil {
			continue // parameterized packages cannot be expressed as plain plugins
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	env, err := h.resolvePython(req.GetInfo(), req.GetPwd())
	if err != nil {
		return nil, err
	}
	inv, err := h.inventory(ctx, env)
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(inv.Dists))
	for _, d := range inv.Dists {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: d[0], Version: d[1]})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	env, err := h.resolvePython(req.GetInfo(), "")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, env.python, "-c",
		"import platform; print(platform.python_version())").Output()
	if err != nil {
		return nil, fmt.Errorf("cannot ask %s for its version: %w", env.python, err)
	}
	meta := map[string]string{"host": "kuntapilvi"}
	if env.virtualenv != "" {
		meta["virtualenv"] = env.virtualenv
	}
	return &pulumirpc.AboutResponse{
		Executable: env.python,
		Version:    strings.TrimSpace(string(out)),
		Metadata:   meta,
	}, nil
}

// InstallDependencies creates the configured virtualenv if it is missing and installs
// requirements.txt into it with pip. Output is streamed back to the engine.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	ctx := server.Context()
	info := req.GetInfo()
	root := h.rootOf(info, req.GetDirectory())
	stdout := &streamWriter{send: func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	stderr := &streamWriter{send: func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	}}
	run := func(env []string, name string, args ...string) error {
		fmt.Fprintf(stdout, "$ %s %s\n", name, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = root, env, stdout, stderr
		return cmd.Run()
	}

	venv := optionString(info, "virtualenv")
	if venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(root, venv)
		}
		if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
			base := os.Getenv("PULUMI_PYTHON_CMD")
			if base == "" {
				base = "python3"
			}
			if err := run(os.Environ(), base, "-m", "venv", venv); err != nil {
				return fmt.Errorf("creating the virtual environment %s failed: %w", venv, err)
			}
		}
	}
	env, err := h.resolvePython(info, root)
	if err != nil {
		return err
	}
	reqs := filepath.Join(root, "requirements.txt")
	if _, err := os.Stat(reqs); err != nil {
		fmt.Fprintln(stdout, "no requirements.txt: nothing to install")
		return nil
	}
	if err := run(env.environ(nil), env.python, "-m", "pip", "install", "-r", reqs); err != nil {
		return fmt.Errorf("pip install -r %s failed: %w", reqs, err)
	}
	return nil
}

type streamWriter struct{ send func([]byte) error }

func (w *streamWriter) Write(p []byte) (int, error) {
	if err := w.send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Run executes the program through the exec script, which configures the Python SDK from its
// flags and from PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, then runs the program with runpy.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	env, err := h.resolvePython(info, req.GetPwd())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	program := req.GetProgram() //nolint:staticcheck // fallback for engines that send no ProgramInfo
	if info != nil && info.GetProgramDirectory() != "" {
		entry := info.GetEntryPoint()
		if entry == "" {
			entry = "."
		}
		program = filepath.Join(info.GetProgramDirectory(), entry)
	}
	if program == "" {
		program = "."
	}

	args := []string{h.execPath}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("organization", req.GetOrganization())
	add("pwd", req.GetPwd())
	add("root_directory", h.rootOf(info, req.GetPwd()))
	args = append(args, "--parallel", strconv.Itoa(int(req.GetParallel())))
	if req.GetDryRun() {
		args = append(args, "--dry_run", "true")
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the exec script wants a JSON object, never null
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	ctx, stop := h.childContext(ctx)
	defer stop()
	cmd := exec.CommandContext(ctx, env.python, args...)
	if req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env.environ(map[string]string{
		"PULUMI_CONFIG":             string(config),
		"PULUMI_CONFIG_SECRET_KEYS": string(secrets),
		"PYTHONUNBUFFERED":          "1",
	})
	// The engine turns our stdout and stderr into the program's output.
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, nil

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == bailExitCode:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start %s: %v", env.python, err)}, nil
	}
}

var _ io.Writer = (*streamWriter)(nil)
