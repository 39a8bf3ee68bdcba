// pulumi-language-python for keep-cd: the Pulumi engine's host for Python programs.
//
// Why this exists: Pulumi's own Python language host is a Go module of its own
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) that the Go module proxy
// these machines reach does not serve, at any version we tried. The CLI, the Python SDK and the
// two scripts the host needs (pulumi-language-python-exec, which runs the program, and
// pulumi-resource-pulumi-python, which serves dynamic providers) are served: the scripts ship
// inside github.com/pulumi/pulumi/sdk/v3. So this is a small host of our own, written against
// the LanguageRuntime gRPC service and the SDK's Python toolchain package, doing what the
// engine needs to run a Python program: find the project's virtualenv, start the exec script
// with the engine's arguments and config, report the program's packages and plugins. It does
// not generate code, pack packages, run Python plugins or attach debuggers (Unimplemented).
// A user with an ordinary Pulumi install uses Pulumi's host; the engine cannot tell the two
// apart through this protocol.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The exec script's exit code for "an error was already shown to the user" (pulumi-language-python-exec).
const exitAfterUserMessage = 32

const execScript = "pulumi-language-python-exec"

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	flag.String("tracing", "", "ignored: tracing endpoint")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not determine this executable: %w", err))
	}
	executor := filepath.Join(filepath.Dir(self), execScript)
	if _, err := os.Stat(executor); err != nil {
		cmdutil.Exit(fmt.Errorf("missing %s beside %s: %w", execScript, self, err))
	}

	var engineAddress string
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away (a killed `pulumi up` must not leave the host behind).
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start health check: %w", err))
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &pythonHost{executor: executor, engineAddress: engineAddress})
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host's gRPC server: %w", err))
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped serving: %w", err))
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor      string
	engineAddress string
}

// pythonOptions reads the project's runtime options (Pulumi.yaml `runtime.options`).
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("runtime option virtualenv: expected a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := options["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("runtime option toolchain: %v is not one of pip, poetry, uv", v)
		}
	}
	if v, ok := options["typechecker"]; ok && v != "" {
		return opts, fmt.Errorf("runtime option typechecker: %v is not supported by this language host", v)
	}
	return opts, nil
}

func (h *pythonHost) toolchainFor(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := pythonOptions(info)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *pythonHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Each installed distribution that ships a pulumi-plugin.json names a resource plugin the program
// may use (pulumi_kubernetes: kubernetes at its own version).
const listPluginsScript = `
import importlib.metadata as md, json, sys
found = []
for dist in md.distributions():
    for f in dist.files or ():
        if f.name == "pulumi-plugin.json":
            try:
                spec = json.loads(f.read_text())
            except Exception:
                continue
            if spec.get("resource"):
                found.append({"name": spec.get("name") or dist.metadata["Name"],
                              "version": spec.get("version") or dist.version,
                              "server": spec.get("server") or ""})
json.dump(found, sys.stdout)
`

type pluginSpec struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Server  string `json:"server"`
}

func (h *pythonHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := h.toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPluginsScript)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the program's Pulumi packages: %w: %s", err, stderr.String())
	}
	var specs []pluginSpec
	if err := json.Unmarshal(out, &specs); err != nil {
		return nil, fmt.Errorf("listing the program's Pulumi packages: %w", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, s := range specs {
		v := s.Version
		if v != "" && v[0] != 'v' {
			v = "v" + v
		}
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: s.Name, Version: v, Server: s.Server,
		})
	}
	return resp, nil
}

func (h *pythonHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	// Superseded by GetRequiredPackages, which the engine asks first.
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// execArguments are the exec script's command line, as the engine's RunRequest gives them.
func (h *pythonHost) execArguments(req *pulumirpc.RunRequest) []string {
	args := []string{h.executor}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		// Pulumi's host starts the program under debugpy; running it without one would be silent.
		return &pulumirpc.RunResponse{Error: "this language host (keep-cd's build) does not attach debuggers"}, nil
	}
	tc, err := h.toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	config, err := configJSON(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing the stack's secret config keys: %w", err)
	}
	cmd, err := tc.Command(ctx, h.execArguments(req)...)
	if err != nil {
		return nil, err
	}
	// The program's output goes to ours; the engine shows it.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+config, "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	err = cmd.Run()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.ExitStatus() == exitAfterUserMessage {
			// The program already printed its error; the engine should not add another.
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run %s: %v", h.executor, err)}, nil
}

// configJSON is PULUMI_CONFIG, which the exec script hands to the SDK's set_all_config: always a
// JSON object. A stack with no config at all arrives as a nil map (protobuf does not tell an empty
// map from none), which json.Marshal writes as null; the SDK then fails with "'NoneType' object
// has no attribute 'items'". Pulumi's own host leaves PULUMI_CONFIG unset for a nil map, which the
// SDK reads as {}; we write {} so the program's config is empty even when the engine's own
// environment holds a PULUMI_CONFIG.
func configJSON(config map[string]string) (string, error) {
	if config == nil {
		return "{}", nil
	}
	out, err := json.Marshal(config)
	if err != nil {
		return "", fmt.Errorf("serializing the stack's config: %w", err)
	}
	return string(out), nil
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := h.toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}

func (h *pythonHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := h.toolchainFor(req.GetInfo())
	if err != nil {
		return nil, err
	}
	deps, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

func (h *pythonHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, _ grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	// keep-cd installs the virtualenv itself (make setup: requirements.txt into .venv).
	return status.Errorf(codes.Unimplemented,
		"this language host does not install dependencies: run `make setup` in %s", req.GetInfo().GetRootDirectory())
}

func (h *pythonHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *pythonHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
