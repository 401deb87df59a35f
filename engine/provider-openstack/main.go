// Command pulumi-resource-openstack is kuntapilvi's build of the Pulumi OpenStack provider.
//
// Why it exists: the Go module proxy reachable from the project's machines does not serve
// github.com/pulumi/pulumi-openstack/provider/v5, but it does serve the pieces that provider is
// made of (pulumi-terraform-bridge v3.135.0, terraform-provider-openstack v3.4.0 and Pulumi's
// fork of terraform-plugin-sdk). This program bridges that Terraform provider itself.
//
// What makes it compatible with the pulumi-openstack Python SDK pinned in pyproject.toml is
// data/mapping.json: scripts/install-engine derives it at build time from the installed Python
// SDK (every type token, property name and list-versus-object shape the SDK uses) and embeds it
// here. The committed data/*.json files are empty placeholders; a build without the derived
// mapping maps nothing.
//
// Modes (the first two are used only by scripts/install-engine while building):
//
//	pulumi-resource-openstack -dump-tf FILE                 write the Terraform schema outline as JSON
//	pulumi-resource-openstack -mapping M -gen-schema FILE   write the Pulumi package schema for M
//	pulumi-resource-openstack [engine address]              serve the provider (what the engine runs)
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// version is stamped with -ldflags "-X main.version=5.5.1" (no leading v, as Pulumi's own
// provider builds do): the engine matches the plugin folder name and this value exactly.
var version = "0.0.0-dev"

//go:embed data/mapping.json
var embeddedMapping []byte

//go:embed data/schema.json
var embeddedSchema []byte

func main() {
	// The engine starts providers with its own flags and the engine address; only intercept our
	// build-time modes, and leave everything else to the bridge.
	if len(os.Args) > 1 && (os.Args[1] == "-dump-tf" || os.Args[1] == "-gen-schema" ||
		os.Args[1] == "-mapping") {
		os.Exit(buildTool(os.Args[1:]))
	}

	m, err := parseMapping(embeddedMapping)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-resource-openstack: bad embedded mapping:", err)
		os.Exit(1)
	}
	tfbridge.Main("openstack", version, providerInfo(m, version), embeddedSchema)
}

func buildTool(args []string) int {
	fs := flag.NewFlagSet("pulumi-resource-openstack", flag.ContinueOnError)
	dumpTF := fs.String("dump-tf", "", "write the Terraform schema outline to this file")
	mappingFile := fs.String("mapping", "", "mapping JSON derived from the Python SDK")
	genSchema := fs.String("gen-schema", "", "write the Pulumi package schema to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dumpTF != "" {
		if err := writeJSON(*dumpTF, dumpTerraform()); err != nil {
			fmt.Fprintln(os.Stderr, "dump-tf:", err)
			return 1
		}
	}
	if *genSchema != "" {
		if *mappingFile == "" {
			fmt.Fprintln(os.Stderr, "-gen-schema needs -mapping")
			return 2
		}
		raw, err := os.ReadFile(*mappingFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen-schema:", err)
			return 1
		}
		m, err := parseMapping(raw)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen-schema:", err)
			return 1
		}
		spec, err := generateSchema(providerInfo(m, version))
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen-schema:", err)
			return 1
		}
		if err := writeJSON(*genSchema, spec); err != nil {
			fmt.Fprintln(os.Stderr, "gen-schema:", err)
			return 1
		}
	}
	return 0
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
